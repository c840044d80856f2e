-- The months each manager has a row in the manager marts: from the month of hired_at to
-- as_of_month or the month of terminated_at (both in reporting_tz), whichever is earlier. A
-- manager soft-deleted in the CRM keeps its months (marts.md).
with

managers as (

    select * from {{ ref('stg_crm__managers') }}

),

spine as (

    select * from {{ ref('int_month_spine') }}

),

employment as (

    select
        manager_id,
        is_deleted,
        hired_at,
        terminated_at,
        {{ reporting_month('hired_at') }} as hire_month,
        {{ reporting_month('terminated_at') }} as termination_month

    from managers

    where hired_at is not null

),

final as (

    select
        employment.manager_id,
        spine.month,
        spine.quarter,
        spine.month_start_at,
        spine.month_end_at,
        employment.hire_month,
        employment.termination_month,
        employment.is_deleted as is_manager_deleted

    from employment

    -- the spine ends at as_of_month and starts no later than the first hire
    inner join spine
        on
            spine.month >= employment.hire_month
            and (
                employment.termination_month is null
                or spine.month <= employment.termination_month
            )

)

select * from final
