-- depends_on: {{ ref('int_build_watermark') }} (this build's plan, which scopes the data tests)
with

source as (

    select * from {{ source('raw_billing', 'fx_rates') }}

),

final as (

    select
        currency,
        rate_date,
        rate_to_base,
        updated_at,
        _loaded_at as loaded_at,
        _first_loaded_at as first_loaded_at

    from source

)

select * from final
