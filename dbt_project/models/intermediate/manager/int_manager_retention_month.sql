-- Churn and net/gross revenue retention per manager and month m (metrics.md "Logo churn rate",
-- "NRR", "GRR"), over earlier portfolios:
--   logo churn: the clients of P(a, m-1) active in m-1 (prior_active_clients, the denominator)
--     and those of them churned in m (churned_clients; a churned client was active in m-1, so
--     this is every client of P(a, m-1) churned in m);
--   NRR / GRR base: the clients of P(a, m-12) with T12(c, m-12) > 0, with
--     sum T12(c, m-12), sum T12(c, m) and sum min(max(T12(c, m), 0), T12(c, m-12)).
-- Client facts come from client_month; the facts one and twelve months later are read with a
-- window frame of exactly that month (range over a month number: a gap leaves it empty), so
-- portfolio and client_month are joined once. Only months up to as_of_month with a non-empty
-- base.
with

portfolio as (

    select
        manager_id,
        month,
        client_id

    from {{ ref('int_manager_portfolio_month') }}

),

client_month as (

    select
        client_id,
        month,
        {{ dbt.datediff("cast('2000-01-01' as date)", 'month', 'month') }} as month_number,
        is_active,
        status,
        t12_revenue

    from {{ ref('client_month') }}

),

client_month_ahead as (

    select
        client_id,
        month,
        is_active,
        t12_revenue,
        first_value(status) over (
            partition by client_id order by month_number
            range between 1 following and 1 following
        ) as next_status,
        first_value(t12_revenue) over (
            partition by client_id order by month_number
            range between 12 following and 12 following
        ) as t12_revenue_12_months_later

    from client_month

),

portfolio_facts as (

    select
        portfolio.manager_id,
        portfolio.month,
        client_month_ahead.is_active,
        client_month_ahead.t12_revenue,
        client_month_ahead.next_status,
        client_month_ahead.t12_revenue_12_months_later

    from portfolio

    inner join client_month_ahead
        on
            portfolio.client_id = client_month_ahead.client_id
            and portfolio.month = client_month_ahead.month

    where client_month_ahead.is_active or client_month_ahead.t12_revenue > 0

),

-- logo churn of m over the clients of P(a, m-1) active in m-1
churn as (

    select
        manager_id,
        cast({{ dbt.dateadd('month', 1, 'month') }} as date) as month,
        count(*) as prior_active_clients,
        sum(case when next_status = 'churned' then 1 else 0 end) as churned_clients

    from portfolio_facts

    where
        is_active
        and {{ dbt.dateadd('month', 1, 'month') }} <= {{ as_of_month() }}

    group by manager_id, month

),

-- NRR / GRR of m over the clients of P(a, m-12) with T12(c, m-12) > 0
retention as (

    select
        manager_id,
        cast({{ dbt.dateadd('month', 12, 'month') }} as date) as month,
        count(*) as nrr_base_clients,
        sum(t12_revenue) as nrr_base_t12_revenue,
        sum(coalesce(t12_revenue_12_months_later, 0)) as nrr_current_t12_revenue,
        sum(
            least(greatest(coalesce(t12_revenue_12_months_later, 0), 0), t12_revenue)
        ) as grr_retained_t12_revenue

    from portfolio_facts

    where
        t12_revenue > 0
        and {{ dbt.dateadd('month', 12, 'month') }} <= {{ as_of_month() }}

    group by manager_id, month

),

final as (

    select
        coalesce(churn.manager_id, retention.manager_id) as manager_id,
        coalesce(churn.month, retention.month) as month,
        cast(coalesce(churn.prior_active_clients, 0) as integer) as prior_active_clients,
        cast(coalesce(churn.churned_clients, 0) as integer) as churned_clients,
        cast(coalesce(retention.nrr_base_clients, 0) as integer) as nrr_base_clients,
        coalesce(retention.nrr_base_t12_revenue, 0) as nrr_base_t12_revenue,
        coalesce(retention.nrr_current_t12_revenue, 0) as nrr_current_t12_revenue,
        coalesce(retention.grr_retained_t12_revenue, 0) as grr_retained_t12_revenue

    from churn

    full outer join retention
        on
            churn.manager_id = retention.manager_id
            and churn.month = retention.month

)

select * from final
