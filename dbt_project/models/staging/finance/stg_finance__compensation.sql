-- depends_on: {{ ref('int_build_watermark') }} (this build's plan, which scopes the data tests)
with

source as (

    select * from {{ source('raw_finance', 'compensation') }}

),

final as (

    select
        {{ text_id('manager_id') }} as manager_id,
        effective_from,
        annual_base_salary,
        currency,
        _loaded_at as loaded_at,
        _first_loaded_at as first_loaded_at

    from source

)

select * from final
