{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='fail',
    meta={'rebuilt_by_client': 'revenue'},
    pre_hook="{{ delete_changed_clients() }}",
) }}
-- depends_on: {{ ref('int_changed_clients') }}
-- A client's revenue per month and credited manager (metrics.md "Revenue and credit"): lines of
-- in-scope invoices issued in m, credited to the owner at the invoice's issued_at, and credit
-- notes issued in m, credited with their invoice (a credit note follows the original credit);
-- credited_manager_id is null for what was unassigned. The one pass over the invoice lines
-- that both sums read: int_client_revenue_month (N and C per client) and
-- int_manager_revenue_month (R per manager). Rebuilt by client.
with

invoice_lines as (

    select * from {{ ref('int_invoice_lines_credited') }}
    {{- changed_clients_only() }}

),

credit_notes as (

    select * from {{ ref('int_credit_notes_credited') }}
    {{- changed_clients_only() }}

),

amounts as (

    select
        client_id,
        revenue_month as month,
        credited_manager_id,
        amount_base as invoiced_revenue,
        cost_amount_base as cost,
        cast(0 as numeric) as credit_notes

    from invoice_lines

    union all

    select
        client_id,
        revenue_month as month,
        credited_manager_id,
        cast(0 as numeric) as invoiced_revenue,
        cast(0 as numeric) as cost,
        amount_base as credit_notes

    from credit_notes

),

final as (

    select
        client_id,
        month,
        credited_manager_id,
        sum(invoiced_revenue) as invoiced_revenue,
        sum(credit_notes) as credit_notes,
        sum(cost) as cost

    from amounts

    group by client_id, month, credited_manager_id

)

select * from final
