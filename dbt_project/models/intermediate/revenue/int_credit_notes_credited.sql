{{ config(post_hook="{{ assert_fx_rates_found('currency', 'issued_date') }}") }}
-- depends_on: {{ ref('int_changed_clients') }}
-- Credit notes on in-scope invoices, in the month of their own issued_at (up to as_of_month),
-- converted at their own date (in reporting_tz) in the invoice's currency, and credited to the
-- invoice's credited manager: a credit note follows the original credit, not the current owner.
-- Built after the plan, which finds the client a moved credit note was credited to here.
-- amount and amount_base are positive and reduce revenue. A credit note without a rate fails
-- the build (post-hook).
with

credit_notes as (

    select * from {{ ref('int_credit_notes_live') }}

),

invoices as (

    select * from {{ ref('int_invoices_credited') }}

),

fx_rates as (

    select * from {{ ref('int_fx_rates_daily') }}

),

credit_notes_dated as (

    select
        credit_notes.credit_note_id,
        credit_notes.invoice_id,
        invoices.client_id,
        invoices.credited_manager_id,
        credit_notes.issued_at,
        {{ reporting_date('credit_notes.issued_at') }} as issued_date,
        {{ reporting_month('credit_notes.issued_at') }} as revenue_month,
        invoices.issued_at as invoice_issued_at,
        invoices.revenue_month as invoice_revenue_month,
        invoices.currency,
        credit_notes.amount

    from credit_notes

    inner join invoices
        on credit_notes.invoice_id = invoices.invoice_id

),

credit_notes_in_window as (

    select * from credit_notes_dated

    where revenue_month <= {{ as_of_month() }}

),

converted as (

    select
        credit_notes_in_window.*,
        {{ fx_rate_date('credit_notes_in_window.currency', 'fx_rates') }} as fx_rate_date,
        {{ fx_rate_to_base('credit_notes_in_window.currency', 'fx_rates') }} as rate_to_base

    from credit_notes_in_window

    left join fx_rates
        on
            credit_notes_in_window.currency = fx_rates.currency
            and credit_notes_in_window.issued_date = fx_rates.rate_day

),

final as (

    select
        credit_note_id,
        invoice_id,
        client_id,
        credited_manager_id,
        issued_at,
        issued_date,
        revenue_month,
        invoice_issued_at,
        invoice_revenue_month,
        currency,
        amount,
        fx_rate_date,
        rate_to_base,
        amount * rate_to_base as amount_base

    from converted

)

select * from final
