-- Credited revenue R(a, m) per manager and month (metrics.md "Revenue and credit"): invoice lines
-- of m whose client a owned at the invoice's issued_at, minus credit notes issued in m on
-- invoices credited to a (a credit note follows the original credit). Only months with a
-- credited line or credit note; revenue of unassigned clients is credited to nobody and is
-- not here.
with

invoice_lines as (

    select * from {{ ref('int_invoice_lines_credited') }}

),

credit_notes as (

    select * from {{ ref('int_credit_notes_credited') }}

),

amounts as (

    select
        credited_manager_id as manager_id,
        revenue_month as month,
        amount_base as invoiced_revenue,
        cast(0 as numeric) as credit_notes

    from invoice_lines

    where credited_manager_id is not null

    union all

    select
        credited_manager_id as manager_id,
        revenue_month as month,
        cast(0 as numeric) as invoiced_revenue,
        amount_base as credit_notes

    from credit_notes

    where credited_manager_id is not null

),

monthly as (

    select
        manager_id,
        month,
        sum(invoiced_revenue) as invoiced_revenue,
        sum(credit_notes) as credit_notes

    from amounts

    group by manager_id, month

),

final as (

    select
        manager_id,
        month,
        invoiced_revenue,
        credit_notes,
        invoiced_revenue - credit_notes as credited_revenue

    from monthly

)

select * from final
