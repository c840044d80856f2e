-- Cohort retention (metrics.md "Activity status and retention"): clients by cohort F(c), their
-- first revenue month; at offset k = 0 .. as_of_month - F the cohort's clients active in F + k,
-- the share of the cohort they are, and the cohort's net revenue Σ N(c, F + k).
with

client_month as (

    select * from {{ ref('client_month') }}

),

cohort_months as (

    select
        first_revenue_month as cohort_month,
        month,
        count(*) as cohort_clients,
        sum(case when is_active then 1 else 0 end) as active_clients,
        sum(net_revenue) as net_revenue

    from client_month

    group by first_revenue_month, month

),

final as (

    select
        cohort_month,
        cast({{ dbt.datediff('cohort_month', 'month', 'month') }} as integer) as months_since,
        cast(cohort_clients as integer) as cohort_clients,
        cast(active_clients as integer) as active_clients,
        cast(active_clients as numeric) / cohort_clients as retention_rate,
        net_revenue,
        month

    from cohort_months

)

select * from final
