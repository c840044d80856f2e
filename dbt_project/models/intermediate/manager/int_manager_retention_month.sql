-- Churn and net/gross revenue retention per manager and month m (metrics.md "Logo churn rate",
-- "NRR", "GRR"), over earlier portfolios:
--   logo churn: the clients of P(a, m-1) active in m-1 (prior_active_clients, the denominator)
--     and those of them churned in m (churned_clients; a churned client was active in m-1, so
--     this is every client of P(a, m-1) churned in m);
--   NRR / GRR base: the clients of P(a, m-12) with T12(c, m-12) > 0, with
--     sum T12(c, m-12), sum T12(c, m) and sum min(max(T12(c, m), 0), T12(c, m-12)).
-- Client facts come from client_month. Only months up to as_of_month with a non-empty base.
-- The import CTEs name their columns: each is read several times, so PostgreSQL materializes it,
-- and whole client_month rows made that ~0.5 GB spilled to disk at 10M invoice lines.
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
        is_active,
        status,
        t12_revenue

    from {{ ref('client_month') }}

),

prior_active as (

    select
        portfolio.manager_id,
        cast({{ dbt.dateadd('month', 1, 'portfolio.month') }} as date) as month,
        portfolio.client_id

    from portfolio

    inner join client_month
        on
            portfolio.client_id = client_month.client_id
            and portfolio.month = client_month.month

    where client_month.is_active

),

churn as (

    select
        prior_active.manager_id,
        prior_active.month,
        count(*) as prior_active_clients,
        sum(case when client_month.status = 'churned' then 1 else 0 end) as churned_clients

    from prior_active

    left join client_month
        on
            prior_active.client_id = client_month.client_id
            and prior_active.month = client_month.month

    where prior_active.month <= {{ as_of_month() }}

    group by prior_active.manager_id, prior_active.month

),

retention_base as (

    select
        portfolio.manager_id,
        cast({{ dbt.dateadd('month', 12, 'portfolio.month') }} as date) as month,
        portfolio.client_id,
        client_month.t12_revenue as base_t12_revenue

    from portfolio

    inner join client_month
        on
            portfolio.client_id = client_month.client_id
            and portfolio.month = client_month.month

    where client_month.t12_revenue > 0

),

retention as (

    select
        retention_base.manager_id,
        retention_base.month,
        count(*) as nrr_base_clients,
        sum(retention_base.base_t12_revenue) as nrr_base_t12_revenue,
        sum(coalesce(client_month.t12_revenue, 0)) as nrr_current_t12_revenue,
        sum(
            least(greatest(coalesce(client_month.t12_revenue, 0), 0), retention_base.base_t12_revenue)
        ) as grr_retained_t12_revenue

    from retention_base

    left join client_month
        on
            retention_base.client_id = client_month.client_id
            and retention_base.month = client_month.month

    where retention_base.month <= {{ as_of_month() }}

    group by retention_base.manager_id, retention_base.month

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
