-- depends_on: {{ ref('int_build_watermark') }} (this build's plan, which scopes the data tests)
with

source as (

    select * from {{ source('raw_crm', 'requests') }}

),

final as (

    select
        {{ text_id('id') }} as request_id,
        {{ text_id('client_id') }} as client_id,
        {{ text_id('manager_id') }} as manager_id,
        priority,
        channel,
        created_at,
        first_response_at,
        resolved_at,
        updated_at,
        _loaded_at as loaded_at,
        _first_loaded_at as first_loaded_at

    from source

)

select * from final
