-- revenue_movements adds up (marts.md "revenue_movements"):
--   * each month and scope has exactly the six buckets, and every month of client_month has
--     the company scope, every owner at the end of a month its manager scope;
--   * a scope's buckets sum to Σ client_month.revenue_change of its clients: every client for
--     the company, the clients a manager owns at the end of m for that manager.
-- That is the change marts.md names for each scope: revenue_change is N(c, m) - N(c, m-1), 0
-- before F(c) (assert_client_month_revenue_change_is_month_over_month), and a client has a row
-- in every month from F(c) on (every_month_to_as_of_month), so the company's sum is
-- Σ N(m) - Σ N(m-1) and a manager's Σ over its clients at the end of m of N(c, m) - N(c, m-1).
-- Returns the offending month, scope and manager.
with

movements as (

    select * from {{ ref('revenue_movements') }}

),

client_month as (

    select * from {{ ref('client_month') }}

),

owner_changes as (

    select
        month,
        owner_id,
        sum(revenue_change) as amount

    from client_month

    group by month, owner_id

),

expected as (

    select
        month,
        'company' as scope,
        cast(null as {{ dbt.type_string() }}) as manager_id,
        sum(amount) as amount

    from owner_changes

    group by month

    union all

    select
        month,
        'manager' as scope,
        owner_id as manager_id,
        amount

    from owner_changes

    where owner_id is not null

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
