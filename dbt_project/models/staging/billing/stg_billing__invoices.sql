-- depends_on: {{ ref('int_build_watermark') }} (this build's plan, which scopes the data tests)
with

source as (

    select * from {{ source('raw_billing', 'invoices') }}

),

final as (

    select
        id as invoice_id,
        {{ text_id('client_id') }} as client_id,
        number as invoice_number,
        issued_at,
        due_at,
        currency,
        status,
        updated_at,
        _loaded_at as loaded_at,
        _first_loaded_at as first_loaded_at

    from source

)

select * from final
