-- Credited revenue R(a, m) per manager and month (metrics.md "Revenue and credit"): invoice lines
-- of m whose client a owned at the invoice's issued_at, minus credit notes issued in m on
-- invoices credited to a (a credit note follows the original credit), summed over a's clients
-- (int_client_credited_revenue_month). Only months with a credited line or credit note; revenue
-- of unassigned clients is credited to nobody and is not here.
with

credited_revenue as (

    select * from {{ ref('int_client_credited_revenue_month') }}

),

monthly as (

    select
        credited_manager_id as manager_id,
        month,
        sum(invoiced_revenue) as invoiced_revenue,
        sum(credit_notes) as credit_notes

    from credited_revenue

    where credited_manager_id is not null

    group by credited_manager_id, month

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
