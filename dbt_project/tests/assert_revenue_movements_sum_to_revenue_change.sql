-- revenue_movements adds up (marts.md "revenue_movements"):
--   * each month and scope has exactly the six buckets, and every month of client_month has
--     the company scope;
--   * the company buckets of m sum to Σ client_month.net_revenue(m) - Σ client_month.net_revenue(m-1);
--   * a manager's buckets sum to Σ over the clients it owns at the end of m of
--     N(c, m) - N(c, m-1), with N(c, m-1) = 0 before F(c) (outside the movements).
-- Returns the offending month, scope and manager.
with

movements as (

    select * from {{ ref('revenue_movements') }}

),

-- each row beside N(c, m-1), read with a window frame of exactly the previous month (range
-- over a month number: 0 before F(c), where there is no row), so client_month is read once;
-- named columns: read twice, the CTE is materialized, and whole client_month rows are wide
client_month as (

    select
        client_id,
        month,
        owner_id,
        net_revenue,
        coalesce(
            first_value(net_revenue) over (
                partition by client_id
                order by {{ dbt.datediff("cast('2000-01-01' as date)", 'month', 'month') }}
                range between 1 preceding and 1 preceding
            ),
            0
        ) as previous_net_revenue

    from {{ ref('client_month') }}

),

scope_totals as (

    select
        month,
        scope,
        manager_id,
        count(*) as buckets,
        count(distinct bucket) as distinct_buckets,
        sum(amount) as amount

    from movements

    group by month, scope, manager_id

),

company_revenue as (

    select
        month,
        sum(net_revenue) as net_revenue

    from client_month

    group by month

),

company_expected as (

    select
        company_revenue.month,
        'company' as scope,
        cast(null as {{ dbt.type_string() }}) as manager_id,
        company_revenue.net_revenue - coalesce(previous_month.net_revenue, 0) as amount

    from company_revenue

    left join company_revenue as previous_month
        on previous_month.month = {{ dbt.dateadd('month', -1, 'company_revenue.month') }}

),

manager_expected as (

    select
        month,
        'manager' as scope,
        owner_id as manager_id,
        sum(net_revenue - previous_net_revenue) as amount

    from client_month

    where owner_id is not null

    group by month, owner_id

),

expected as (

    select * from company_expected
    union all
    select * from manager_expected

),

final as (

    select
        coalesce(scope_totals.month, expected.month) as month,
        coalesce(scope_totals.scope, expected.scope) as scope,
        coalesce(scope_totals.manager_id, expected.manager_id) as manager_id,
        scope_totals.buckets,
        scope_totals.distinct_buckets,
        scope_totals.amount as movements_amount,
        expected.amount as expected_amount

    from scope_totals

    full outer join expected
        on
            scope_totals.month = expected.month
            and scope_totals.scope = expected.scope
            -- the company scope has no manager; coalesce keeps the join hashable
            and coalesce(scope_totals.manager_id, '') = coalesce(expected.manager_id, '')

    where
        scope_totals.month is null
        or expected.month is null
        or scope_totals.buckets <> 6
        or scope_totals.distinct_buckets <> 6
        or scope_totals.amount <> expected.amount

)

select * from final
