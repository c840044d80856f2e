-- depends_on: {{ ref('int_build_watermark') }} (this build's plan, which scopes the data tests)
with

source as (

    select * from {{ source('raw_billing', 'payments') }}

),

final as (

    select
        id as payment_id,
        invoice_id,
        paid_at,
        amount,
        currency,
        updated_at,
        _loaded_at as loaded_at,
        _first_loaded_at as first_loaded_at

    from source

)

select * from final
