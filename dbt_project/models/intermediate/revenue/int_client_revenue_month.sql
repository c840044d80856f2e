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
-- whoever they are credited to (int_client_credited_revenue_month, summed over the managers).
with

credited_revenue as (

    select * from {{ ref('int_client_credited_revenue_month') }}
    {{- changed_clients_only() }}

),

monthly as (

    select
        client_id,
        month,
        sum(invoiced_revenue) as invoiced_revenue,
        sum(credit_notes) as credit_notes,
        sum(cost) as cost

    from credited_revenue

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
