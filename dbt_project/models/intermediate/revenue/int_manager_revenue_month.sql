-- Credited revenue R(a, m) per manager and month (metrics.md "Revenue and credit"): invoice lines
-- of m whose client a owned at the invoice's issued_at, minus credit notes issued in m on
-- invoices credited to a (a credit note follows the original credit), summed over a's clients
-- (int_manager_client_revenue_month). Only months with a credited line or credit note; revenue
-- of unassigned clients is credited to nobody and is not here.
with

client_revenue as (

    select * from {{ ref('int_manager_client_revenue_month') }}

),

monthly as (

    select
        manager_id,
        month,
        sum(invoiced_revenue) as invoiced_revenue,
        sum(credit_notes) as credit_notes

    from client_revenue

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
