-- depends_on: {{ ref('int_build_watermark') }} (this build's plan, which scopes the data tests)
with

source as (

    select * from {{ source('raw_billing', 'products') }}

),

final as (

    select
        id as product_id,
        name as product_name,
        product_line,
        updated_at,
        _loaded_at as loaded_at,
        _first_loaded_at as first_loaded_at

    from source

)

select * from final
