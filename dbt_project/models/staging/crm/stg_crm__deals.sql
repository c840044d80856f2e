-- depends_on: {{ ref('int_build_watermark') }} (this build's plan, which scopes the data tests)
with

source as (

    select * from {{ source('raw_crm', 'deals') }}

),

final as (

    select
        {{ text_id('id') }} as deal_id,
        {{ text_id('client_id') }} as client_id,
        {{ text_id('manager_id') }} as manager_id,
        kind,
        product_line,
        amount,
        currency,
        stage,
        created_at,
        proposal_sent_at,
        closed_at,
        lost_reason,
        updated_at,
        deleted_at,
        deleted_at is not null as is_deleted,
        _loaded_at as loaded_at,
        _first_loaded_at as first_loaded_at

    from source

)

select * from final
