{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='fail',
    meta={'rebuilt_by_client': 'revenue'},
    pre_hook="{{ delete_changed_clients() }}",
) }}
-- depends_on: {{ ref('int_changed_clients') }}
-- Credited revenue per manager, client and month (metrics.md "Revenue and credit"): invoice
-- lines of m whose client a owned at the invoice's issued_at, minus credit notes issued in m on
-- invoices credited to a (a credit note follows the original credit). Kept by client, so a
-- build by client rewrites only the clients a revenue source touched and the manager totals
-- (int_manager_revenue_month) sum a table a quarter the size of the lines. Revenue of
-- unassigned clients is credited to nobody and is not here.
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
        credited_manager_id as manager_id,
        client_id,
        revenue_month as month,
        amount_base as invoiced_revenue,
        cast(0 as numeric) as credit_notes

    from invoice_lines

    where credited_manager_id is not null

    union all

    select
        credited_manager_id as manager_id,
        client_id,
        revenue_month as month,
        cast(0 as numeric) as invoiced_revenue,
        amount_base as credit_notes

    from credit_notes

    where credited_manager_id is not null

),

final as (

    select
        manager_id,
        client_id,
        month,
        sum(invoiced_revenue) as invoiced_revenue,
        sum(credit_notes) as credit_notes

    from amounts

    group by manager_id, client_id, month

)

select * from final
