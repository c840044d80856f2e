{#- the index: a build by client deletes, reads and tests a few clients' lines of ~10M #}
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='fail',
    meta={'rebuilt_by_client': 'revenue'},
    indexes=[{'columns': ['client_id']}],
    pre_hook="{{ delete_changed_clients() }}",
    post_hook="{{ assert_fx_rates_found('currency', 'issued_date') }}",
) }}
-- depends_on: {{ ref('int_changed_clients') }}
-- In-scope invoice lines of months up to as_of_month, converted to the base currency at the
-- invoice's issue date (in reporting_tz) and credited to the manager who owned the client at
-- issued_at. Each amount is converted exactly (amount * rate) and never rounded; the currency,
-- rate and rate date stay beside it. A line without a rate fails the build (post-hook).
-- The lines come straight from staging: joined to int_invoices_credited, whose invoices are all
-- live, only the lines of live invoices remain (a soft-deleted client's vanish). On a build by
-- client that join reads ~10M lines once against the few changed invoices, and nothing at all
-- when no revenue source changed.
with

invoice_lines as (

    select * from {{ ref('stg_billing__invoice_lines') }}

),

invoices as (

    select * from {{ ref('int_invoices_credited') }}
    {{- changed_clients_only() }}

),

fx_rates as (

    select * from {{ ref('int_fx_rates_daily') }}

),

lines_in_window as (

    select
        invoice_lines.invoice_line_id,
        invoice_lines.invoice_id,
        invoices.client_id,
        invoices.credited_manager_id,
        invoice_lines.product_id,
        invoices.issued_at,
        invoices.issued_date,
        invoices.revenue_month,
        invoices.currency,
        invoice_lines.quantity,
        invoice_lines.unit_price,
        invoice_lines.amount,
        invoice_lines.cost_amount

    from invoice_lines

    inner join invoices
        on invoice_lines.invoice_id = invoices.invoice_id

    where invoices.revenue_month <= {{ as_of_month() }}

),

converted as (

    select
        lines_in_window.*,
        {{ fx_rate_date('lines_in_window.currency', 'fx_rates') }} as fx_rate_date,
        {{ fx_rate_to_base('lines_in_window.currency', 'fx_rates') }} as rate_to_base

    from lines_in_window

    left join fx_rates
        on
            lines_in_window.currency = fx_rates.currency
            and lines_in_window.issued_date = fx_rates.rate_day

),

final as (

    select
        invoice_line_id,
        invoice_id,
        client_id,
        credited_manager_id,
        product_id,
        issued_at,
        issued_date,
        revenue_month,
        currency,
        quantity,
        unit_price,
        amount,
        cost_amount,
        fx_rate_date,
        rate_to_base,
        amount * rate_to_base as amount_base,
        cost_amount * rate_to_base as cost_amount_base

    from converted

)

select * from final
