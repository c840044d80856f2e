-- Credited revenue of each manager month with its 12-month sums (metrics.md "Revenue and
-- credit"): R(a, m), R12(a, m) = R(a, m-11) + ... + R(a, m) and R12(a, m-12), the base of the
-- year-on-year growth. Months without credited revenue (before the data, before the hire, or
-- simply quiet) count 0; R is credited by ownership, whatever the manager's employment.
with

manager_months as (

    select * from {{ ref('int_manager_months') }}

),

revenue as (

    select * from {{ ref('int_manager_revenue_month') }}

),

months_with_revenue as (

    select
        manager_months.manager_id,
        manager_months.month,
        revenue.month as revenue_month,
        revenue.credited_revenue

    from manager_months

    left join revenue
        on
            manager_months.manager_id = revenue.manager_id
            and revenue.month <= manager_months.month
            and revenue.month > cast({{ dbt.dateadd('month', -24, 'manager_months.month') }} as date)

),

summed as (

    select
        manager_id,
        month,
        coalesce(sum(case when revenue_month = month then credited_revenue end), 0) as credited_revenue,
        coalesce(
            sum(
                case
                    when revenue_month > cast({{ dbt.dateadd('month', -12, 'month') }} as date)
                        then credited_revenue
                end
            ),
            0
        ) as r12_revenue,
        coalesce(
            sum(
                case
                    when revenue_month <= cast({{ dbt.dateadd('month', -12, 'month') }} as date)
                        then credited_revenue
                end
            ),
            0
        ) as r12_revenue_year_ago

    from months_with_revenue

    group by manager_id, month

),

final as (

    select
        manager_id,
        month,
        credited_revenue,
        r12_revenue,
        r12_revenue_year_ago

    from summed

)

select * from final
