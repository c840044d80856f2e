-- manager_month has exactly one row per month and manager_quarter one per quarter from the hire
-- to as_of_month or the termination (reporting_tz), soft-deleted managers included, worked out
-- here from the managers themselves rather than from int_manager_months.
with

managers as (

    select
        manager_id,
        {{ reporting_month('hired_at') }} as hire_month,
        least(
            coalesce({{ reporting_month('terminated_at') }}, {{ as_of_month() }}),
            {{ as_of_month() }}
        ) as last_month

    from {{ ref('stg_crm__managers') }}

    where hired_at is not null

),

expected as (

    select
        manager_id,
        hire_month as first_month,
        last_month,
        {{ dbt.datediff('hire_month', 'last_month', 'month') }} + 1 as months,
        cast({{ dbt.date_trunc('quarter', 'hire_month') }} as date) as first_quarter,
        cast({{ dbt.date_trunc('quarter', 'last_month') }} as date) as last_quarter

    from managers

    where hire_month <= last_month

),

months as (

    select
        manager_id,
        min(month) as first_month,
        max(month) as last_month,
        count(*) as months

    from {{ ref('manager_month') }}

    group by manager_id

),

quarters as (

    select
        manager_id,
        min(quarter) as first_quarter,
        max(quarter) as last_quarter,
        count(*) as quarters

    from {{ ref('manager_quarter') }}

    group by manager_id

),

final as (

    select
        coalesce(expected.manager_id, months.manager_id, quarters.manager_id) as manager_id,
        expected.first_month as expected_first_month,
        months.first_month,
        expected.last_month as expected_last_month,
        months.last_month,
        expected.months as expected_months,
        months.months,
        expected.first_quarter as expected_first_quarter,
        quarters.first_quarter,
        expected.last_quarter as expected_last_quarter,
        quarters.last_quarter,
        quarters.quarters

    from expected

    full outer join months
        on expected.manager_id = months.manager_id

    full outer join quarters
        on coalesce(expected.manager_id, months.manager_id) = quarters.manager_id

)

-- A singular test returns its failing rows: the filter stays on the closing select.
select *  -- noqa: CV13

from final

where
    expected_first_month is distinct from first_month
    or expected_last_month is distinct from last_month
    or expected_months is distinct from months
    or expected_first_quarter is distinct from first_quarter
    or expected_last_quarter is distinct from last_quarter
    or quarters is distinct from
    {{ dbt.datediff('expected_first_quarter', 'expected_last_quarter', 'month') }} / 3 + 1
