-- Requests per manager and month, by the request's own manager_id and the month of created_at
-- (metrics.md "Response time", readings "SLA"):
--   response hours = (first_response_at - created_at) in hours, unrounded, of answered requests;
--   median and p90 with percentile_cont over the answered requests created in m;
--   SLA (sla_hours by priority): an answered request meets it when hours <= sla_hours, else
--   breaches it; an unanswered one breaches it once created_at + sla_hours <= the end of
--   as_of_month, and until then counts on neither side.
-- Only months up to as_of_month with at least one request.
with

requests as (

    select * from {{ ref('int_requests_live') }}

),

timed as (

    select
        request_id,
        manager_id,
        {{ reporting_month('created_at') }} as month,
        created_at,
        first_response_at,
        {{ manager_sla_hours('priority') }} as sla_hours,
        extract(epoch from (first_response_at - created_at)) / 3600 as response_hours

    from requests

    where created_at is not null

),

judged as (

    select
        request_id,
        manager_id,
        month,
        response_hours,
        case
            when first_response_at is not null and response_hours <= sla_hours then 'met'
            when first_response_at is not null and response_hours > sla_hours then 'breached'
            when
                first_response_at is null
                and {{ dbt.dateadd('hour', 'sla_hours', 'created_at') }} <= {{ window_end_at() }}
                then 'breached'
        end as sla_outcome

    from timed

    where month <= {{ as_of_month() }}

),

final as (

    select
        manager_id,
        month,
        cast(count(*) as integer) as requests,
        cast(count(response_hours) as integer) as answered_requests,
        cast(
            percentile_cont(0.5) within group (order by cast(response_hours as double precision))
            as numeric
        ) as response_hours_median,
        cast(
            percentile_cont(0.9) within group (order by cast(response_hours as double precision))
            as numeric
        ) as response_hours_p90,
        cast(sum(case when sla_outcome = 'met' then 1 else 0 end) as integer) as sla_met,
        cast(sum(case when sla_outcome = 'breached' then 1 else 0 end) as integer) as sla_breached

    from judged

    group by manager_id, month

)

select * from final
