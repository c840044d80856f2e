-- Churn and net/gross revenue retention per manager and month m (metrics.md "Logo churn rate",
-- "NRR", "GRR"), over earlier portfolios:
--   logo churn: the clients of P(a, m-1) active in m-1 (prior_active_clients, the denominator)
--     and those of them churned in m (churned_clients; a churned client was active in m-1, so
--     this is every client of P(a, m-1) churned in m);
--   NRR / GRR base: the clients of P(a, m-12) with T12(c, m-12) > 0, with
--     sum T12(c, m-12), sum T12(c, m) and sum min(max(T12(c, m), 0), T12(c, m-12)).
-- The client facts at m, m+1 and m+12 ride on the portfolio rows (int_manager_portfolio_month).
-- Only months up to as_of_month with a non-empty base.
with

portfolio_facts as (

    select
        manager_id,
        month,
        is_active,
        t12_revenue,
        next_month_status,
        t12_revenue_12_months_later

    from {{ ref('int_manager_portfolio_month') }}

    where is_active or t12_revenue > 0

),

-- one pass over the portfolio rows: the churn and retention inputs each month m gives
by_portfolio_month as (

    select
        manager_id,
        month,
        sum(case when is_active then 1 else 0 end) as active_clients,
        sum(case when is_active and next_month_status = 'churned' then 1 else 0 end)
            as churned_next_month,
        sum(case when t12_revenue > 0 then 1 else 0 end) as base_clients,
        sum(case when t12_revenue > 0 then t12_revenue else 0 end) as base_t12_revenue,
        sum(
            case when t12_revenue > 0 then coalesce(t12_revenue_12_months_later, 0) else 0 end
        ) as base_t12_revenue_12_months_later,
        sum(
            case
                when t12_revenue > 0
                    then least(greatest(coalesce(t12_revenue_12_months_later, 0), 0), t12_revenue)
                else 0
            end
        ) as base_retained_t12_revenue

    from portfolio_facts

    group by manager_id, month

),

-- logo churn of m over the clients of P(a, m-1) active in m-1
churn as (

    select
        manager_id,
        cast({{ dbt.dateadd('month', 1, 'month') }} as date) as month,
        active_clients as prior_active_clients,
        churned_next_month as churned_clients

    from by_portfolio_month

    where
        active_clients > 0
        and {{ dbt.dateadd('month', 1, 'month') }} <= {{ as_of_month() }}

),

-- NRR / GRR of m over the clients of P(a, m-12) with T12(c, m-12) > 0
retention as (

    select
        manager_id,
        cast({{ dbt.dateadd('month', 12, 'month') }} as date) as month,
        base_clients as nrr_base_clients,
        base_t12_revenue as nrr_base_t12_revenue,
        base_t12_revenue_12_months_later as nrr_current_t12_revenue,
        base_retained_t12_revenue as grr_retained_t12_revenue

    from by_portfolio_month

    where
        base_clients > 0
        and {{ dbt.dateadd('month', 12, 'month') }} <= {{ as_of_month() }}

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
