-- depends_on: {{ ref('int_build_watermark') }} (this build's plan, which scopes the data tests)
with

source as (

    select * from {{ source('raw_crm', 'clients') }}

),

final as (

    select
        {{ text_id('id') }} as client_id,
        name as client_name,
        tax_id,
        segment,
        industry,
        country,
        created_at,
        status as crm_status,
        lost_reason,
        {{ text_id('owner_id') }} as owner_id,
        is_vip,
        wallet_estimate,
        updated_at,
        deleted_at,
        deleted_at is not null as is_deleted,
        _loaded_at as loaded_at,
        _first_loaded_at as first_loaded_at

    from source

)

select * from final
