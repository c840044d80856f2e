{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='fail',
    meta={'rebuilt_by_client': 'revenue'},
    pre_hook="{{ delete_changed_clients() }}",
) }}
-- depends_on: {{ ref('int_changed_clients') }}
-- Net revenue N(c, m) and cost C(c, m) per client and month (metrics.md "Revenue and credit"),
-- for the months in which the client has an in-scope invoice line or a credit note; the marts
-- densify over int_month_spine (a missing month is N = 0, C = 0).
--   N(c, m) = lines of in-scope invoices issued in m - credit notes on in-scope invoices issued in m
--   C(c, m) = cost_amount of the same lines
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
        amount_base as invoiced_revenue,
        cost_amount_base as cost,
        cast(0 as numeric) as credit_notes

    from invoice_lines

    union all

    select
        client_id,
        revenue_month as month,
        cast(0 as numeric) as invoiced_revenue,
        cast(0 as numeric) as cost,
        amount_base as credit_notes

    from credit_notes

),

monthly as (

    select
        client_id,
        month,
        sum(invoiced_revenue) as invoiced_revenue,
        sum(credit_notes) as credit_notes,
        sum(cost) as cost

    from amounts

    group by client_id, month

),

final as (

    select
        client_id,
        month,
        invoiced_revenue,
        credit_notes,
        invoiced_revenue - credit_notes as net_revenue,
        cost,
        invoiced_revenue - credit_notes - cost as gross_margin

    from monthly

)

select * from final
