-- depends_on: {{ ref('int_build_watermark') }} (this build's plan, which scopes the data tests)
with

source as (

    select * from {{ source('raw_crm', 'managers') }}

),

final as (

    select
        {{ text_id('id') }} as manager_id,
        full_name,
        email,
        team,
        role,
        hired_at,
        terminated_at,
        updated_at,
        deleted_at,
        deleted_at is not null as is_deleted,
        _loaded_at as loaded_at,
        _first_loaded_at as first_loaded_at

    from source

)

select * from final
