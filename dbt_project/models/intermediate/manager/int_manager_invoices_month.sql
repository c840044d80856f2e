-- Credited invoices per manager and month (metrics.md "Average check", "Repeat order share"):
-- in-scope invoices issued in m whose client the manager owned at issued_at, with or without
-- lines, and among them the repeat orders (the client had an in-scope invoice with a strictly
-- earlier issued_at, under any owner). Only months up to as_of_month with such an invoice.
with

invoices as (

    select * from {{ ref('int_invoices_credited') }}

),

final as (

    select
        credited_manager_id as manager_id,
        revenue_month as month,
        cast(count(*) as integer) as credited_invoices,
        cast(sum(case when is_repeat_order then 1 else 0 end) as integer) as repeat_orders

    from invoices

    where
        credited_manager_id is not null
        and revenue_month <= {{ as_of_month() }}

    group by credited_manager_id, revenue_month

)

select * from final
