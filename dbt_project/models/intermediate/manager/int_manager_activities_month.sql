-- Activity counts per manager and month by the activity's own manager_id and the month of
-- occurred_at (metrics.md "Meetings in person, online, calls, emails"). Only months up to
-- as_of_month with at least one activity.
with

activities as (

    select
        manager_id,
        activity_type,
        {{ reporting_month('occurred_at') }} as month

    from {{ ref('int_activities_live') }}

    where occurred_at is not null

),

final as (

    select
        manager_id,
        month,
        cast(sum(case when activity_type = 'meeting_in_person' then 1 else 0 end) as integer)
            as meetings_in_person,
        cast(sum(case when activity_type = 'meeting_online' then 1 else 0 end) as integer)
            as meetings_online,
        cast(sum(case when activity_type = 'call' then 1 else 0 end) as integer) as calls,
        cast(sum(case when activity_type = 'email' then 1 else 0 end) as integer) as emails

    from activities

    where month <= {{ as_of_month() }}

    group by manager_id, month

)

select * from final
