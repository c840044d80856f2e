-- depends_on: {{ ref('int_build_watermark') }} (this build's plan, which scopes the data tests)
with

source as (

    select * from {{ source('raw_crm', 'activities') }}

),

final as (

    select
        {{ text_id('id') }} as activity_id,
        {{ text_id('client_id') }} as client_id,
        {{ text_id('manager_id') }} as manager_id,
        {{ text_id('contact_id') }} as contact_id,
        type as activity_type,
        occurred_at,
        duration_min,
        updated_at,
        deleted_at,
        deleted_at is not null as is_deleted,
        _loaded_at as loaded_at,
        _first_loaded_at as first_loaded_at

    from source

)

select * from final
