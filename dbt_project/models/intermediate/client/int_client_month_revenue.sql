{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='fail',
    meta={'rebuilt_by_client': 'revenue'},
    pre_hook="{{ delete_changed_clients() }}",
) }}
-- depends_on: {{ ref('int_changed_clients') }}
-- Net revenue and activity status of every client in every month from its first revenue month
-- F(c) to as_of_month (metrics.md "Revenue and credit", "Activity status and retention"):
--   N, C and their trailing windows, computed over a dense month grid that starts at the
--   client's first month with any revenue row (earlier months have N = 0), so the windows count
--   net revenue before F(c) too (only credit notes make it non-zero);
--   active in m: N(c, m-w+1) + ... + N(c, m) > 0 (w = var activity_window_months);
--   status by activity in m and m-1; the movement bucket by status first, then expansion /
--   contraction of a retained client; lifetime from F(c).
with

client_revenue as (

    select * from {{ ref('int_client_revenue_month') }}
    {{- changed_clients_only() }}

),

month_spine as (

    select * from {{ ref('int_month_spine') }}

),

client_first_rows as (

    select
        client_id,
        min(month) as first_row_month

    from client_revenue

    group by client_id

),

client_months as (

    select
        client_first_rows.client_id,
        month_spine.month

    from client_first_rows

    inner join month_spine
        on month_spine.month >= client_first_rows.first_row_month

),

dense as (

    select
        client_months.client_id,
        client_months.month,
        coalesce(client_revenue.net_revenue, 0) as net_revenue,
        coalesce(client_revenue.cost, 0) as cost

    from client_months

    left join client_revenue
        on
            client_months.client_id = client_revenue.client_id
            and client_months.month = client_revenue.month

),

windows as (

    select
        client_id,
        month,
        net_revenue,
        cost,
        coalesce(lag(net_revenue) over client_months_in_order, 0) as previous_net_revenue,
        sum(net_revenue) over (
            client_months_in_order
            rows between 11 preceding and current row
        ) as t12_revenue,
        sum(cost) over (
            client_months_in_order
            rows between 11 preceding and current row
        ) as t12_cost,
        sum(net_revenue) over (
            client_months_in_order
            rows between {{ var('activity_window_months') | int - 1 }} preceding and current row
        ) as activity_window_revenue,
        sum(net_revenue) over (
            client_months_in_order
            rows between 2 preceding and current row
        ) as revenue_last_3m,
        coalesce(
            sum(net_revenue) over (
                client_months_in_order
                rows between 5 preceding and 3 preceding
            ),
            0
        ) as revenue_prior_3m,
        min(case when net_revenue > 0 then month end) over (
            partition by client_id
        ) as first_revenue_month

    from dense

    window client_months_in_order as (partition by client_id order by month)

),

activity as (

    select
        *,
        activity_window_revenue > 0 as is_active,
        coalesce(lag(activity_window_revenue > 0) over (partition by client_id order by month), false)
            as was_active

    from windows

),

from_first_revenue as (

    select * from activity

    where
        first_revenue_month is not null
        and month >= first_revenue_month

),

statuses as (

    select
        *,
        case
            when month = first_revenue_month then 'new'
            when is_active and was_active then 'retained'
            when is_active then 'reactivated'
            when was_active then 'churned'
            else 'inactive'
        end as status,
        -- net revenue before F(c) is outside the movements: the first month changes from 0
        case
            when month = first_revenue_month then net_revenue
            else net_revenue - previous_net_revenue
        end as revenue_change

    from from_first_revenue

),

buckets as (

    select
        *,
        case
            when status <> 'retained' then status
            when revenue_change > 0 then 'expansion'
            when revenue_change < 0 then 'contraction'
        end as movement_bucket,
        max(case when status = 'churned' then month end) over (
            partition by client_id
            order by month
            rows between unbounded preceding and current row
        ) as latest_churn_month

    from statuses

),

final as (

    select
        client_id,
        month,
        first_revenue_month,
        net_revenue,
        cost,
        net_revenue - cost as gross_margin,
        t12_revenue,
        t12_cost,
        t12_revenue - t12_cost as t12_gross_margin,
        activity_window_revenue,
        is_active,
        was_active,
        status,
        revenue_change,
        movement_bucket,
        latest_churn_month,
        cast(
            case
                when is_active then {{ dbt.datediff('first_revenue_month', 'month', 'month') }} + 1
                when latest_churn_month is not null
                    then {{ dbt.datediff('first_revenue_month', 'latest_churn_month', 'month') }}
                else 0
            end
            as integer
        ) as lifetime_months,
        revenue_last_3m,
        revenue_prior_3m

    from buckets

)

select * from final
