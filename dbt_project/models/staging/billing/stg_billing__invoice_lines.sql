-- depends_on: {{ ref('int_build_watermark') }} (this build's plan, which scopes the data tests)
with

source as (

    select * from {{ source('raw_billing', 'invoice_lines') }}

),

final as (

    select
        id as invoice_line_id,
        invoice_id,
        product_id,
        quantity,
        unit_price,
        amount,
        cost_amount,
        updated_at,
        _loaded_at as loaded_at,
        _first_loaded_at as first_loaded_at

    from source

)

select * from final
