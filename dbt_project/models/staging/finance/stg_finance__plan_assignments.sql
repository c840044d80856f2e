-- depends_on: {{ ref('int_build_watermark') }} (this build's plan, which scopes the data tests)
with

source as (

    select * from {{ source('raw_finance', 'plan_assignments') }}

),

final as (

    select
        {{ text_id('manager_id') }} as manager_id,
        {{ text_id('plan_id') }} as plan_id,
        effective_from,
        _loaded_at as loaded_at,
        _first_loaded_at as first_loaded_at

    from source

)

select * from final
