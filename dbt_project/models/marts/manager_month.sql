-- One row per manager per month from the month of hired_at to as_of_month or the month of
-- terminated_at (a manager soft-deleted in the CRM keeps its rows): credited revenue, portfolio,
-- retention, invoices, deals, activities and service KPIs (metrics.md "Manager KPIs"; columns in
-- the order of marts.md "manager_month", extras after). Ratios are unrounded and null when
-- their denominator is 0 or absent.
with

manager_months as (

    select * from {{ ref('int_manager_months') }}

),

revenue as (

    select * from {{ ref('int_manager_revenue_rolling_month') }}

),

portfolio as (

    select * from {{ ref('int_manager_portfolio_summary_month') }}

),

retention as (

    select * from {{ ref('int_manager_retention_month') }}

),

invoices as (

    select * from {{ ref('int_manager_invoices_month') }}

),

deals as (

    select * from {{ ref('int_manager_deals_month') }}

),

activities as (

    select * from {{ ref('int_manager_activities_month') }}

),

requests as (

    select * from {{ ref('int_manager_requests_month') }}

),

joined as (

    select
        manager_months.manager_id,
        manager_months.month,
        coalesce(revenue.credited_revenue, 0) as credited_revenue,
        coalesce(revenue.r12_revenue, 0) as r12_revenue,
        coalesce(revenue.r12_revenue_year_ago, 0) as r12_revenue_year_ago,
        coalesce(portfolio.portfolio_clients, 0) as portfolio_clients,
        coalesce(portfolio.active_clients, 0) as active_clients,
        coalesce(portfolio.key_clients, 0) as key_clients,
        coalesce(portfolio.stakeholder_covered_clients, 0) as stakeholder_covered_clients,
        portfolio.portfolio_tenure_months,
        coalesce(retention.prior_active_clients, 0) as prior_active_clients,
        coalesce(retention.churned_clients, 0) as churned_clients,
        coalesce(retention.nrr_base_clients, 0) as nrr_base_clients,
        coalesce(retention.nrr_base_t12_revenue, 0) as nrr_base_t12_revenue,
        coalesce(retention.nrr_current_t12_revenue, 0) as nrr_current_t12_revenue,
        coalesce(retention.grr_retained_t12_revenue, 0) as grr_retained_t12_revenue,
        coalesce(invoices.credited_invoices, 0) as credited_invoices,
        coalesce(invoices.repeat_orders, 0) as repeat_orders,
        coalesce(deals.proposals_won, 0) as proposals_won,
        coalesce(deals.proposals_lost, 0) as proposals_lost,
        coalesce(deals.won_deals, 0) as won_deals,
        coalesce(deals.cross_sell_deals, 0) as cross_sell_deals,
        coalesce(deals.cross_sell_amount, 0) as cross_sell_amount,
        coalesce(activities.meetings_in_person, 0) as meetings_in_person,
        coalesce(activities.meetings_online, 0) as meetings_online,
        coalesce(activities.calls, 0) as calls,
        coalesce(activities.emails, 0) as emails,
        coalesce(requests.requests, 0) as requests,
        coalesce(requests.answered_requests, 0) as answered_requests,
        requests.response_hours_median,
        requests.response_hours_p90,
        coalesce(requests.sla_met, 0) as sla_met,
        coalesce(requests.sla_breached, 0) as sla_breached

    from manager_months

    left join revenue
        on
            manager_months.manager_id = revenue.manager_id
            and manager_months.month = revenue.month

    left join portfolio
        on
            manager_months.manager_id = portfolio.manager_id
            and manager_months.month = portfolio.month

    left join retention
        on
            manager_months.manager_id = retention.manager_id
            and manager_months.month = retention.month

    left join invoices
        on
            manager_months.manager_id = invoices.manager_id
            and manager_months.month = invoices.month

    left join deals
        on
            manager_months.manager_id = deals.manager_id
            and manager_months.month = deals.month

    left join activities
        on
            manager_months.manager_id = activities.manager_id
            and manager_months.month = activities.month

    left join requests
        on
            manager_months.manager_id = requests.manager_id
            and manager_months.month = requests.month

),

ratios as (

    select
        joined.*,
        cast(joined.churned_clients as numeric) / nullif(joined.prior_active_clients, 0) as logo_churn_rate,
        joined.nrr_current_t12_revenue / nullif(joined.nrr_base_t12_revenue, 0) as nrr,
        joined.grr_retained_t12_revenue / nullif(joined.nrr_base_t12_revenue, 0) as grr

    from joined

),

final as (

    select
        manager_id,
        month,
        credited_revenue,
        r12_revenue,
        portfolio_clients,
        active_clients,
        key_clients,
        cast(key_clients as numeric) / nullif(active_clients, 0) as pareto_share,
        churned_clients,
        logo_churn_rate,
        1 - logo_churn_rate as logo_retention_rate,
        nrr,
        grr,
        coalesce(nrr >= 1 + {{ var('growth_target') }}, false) as meets_growth_bar,
        r12_revenue / nullif(r12_revenue_year_ago, 0) - 1 as revenue_growth_yoy,
        credited_invoices,
        credited_revenue / nullif(credited_invoices, 0) as average_check,
        cast(repeat_orders as numeric) / nullif(credited_invoices, 0) as repeat_order_share,
        proposals_won,
        proposals_lost,
        cast(proposals_won as numeric) / nullif(proposals_won + proposals_lost, 0) as proposal_conversion,
        cast(won_deals as numeric) / nullif(active_clients, 0) as won_deals_per_active_client,
        cross_sell_deals,
        cross_sell_amount,
        meetings_in_person,
        meetings_online,
        calls,
        emails,
        cast(stakeholder_covered_clients as numeric) / nullif(active_clients, 0) as stakeholder_coverage,
        requests,
        response_hours_median,
        response_hours_p90,
        cast(sla_met as numeric) / nullif(sla_met + sla_breached, 0) as sla_attainment,
        portfolio_tenure_months,
        r12_revenue_year_ago,
        prior_active_clients,
        nrr_base_clients,
        repeat_orders,
        won_deals,
        stakeholder_covered_clients,
        answered_requests,
        sla_met,
        sla_breached

    from ratios

)

select * from final
