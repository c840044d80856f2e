{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='fail',
    meta={'rebuilt_by_client': true},
    pre_hook="{{ delete_changed_clients() }}",
) }}
-- depends_on: {{ ref('int_changed_clients') }}
-- Health score of every client month from F(c) to as_of_month (metrics.md "Health score"), each
-- component 0-100, unrounded, with `end` = the first instant of m+1 in reporting_tz:
--   revenue trend: N over m-2..m / N over m-5..m-3; >= full_at (1.0) 100, <= zero_at (0.5) 0,
--     linear between; a prior sum <= 0 scores 100;
--   engagement: days = last day of m - date of the latest activity before `end` (any manager, no
--     lower bound); <= 30 days 100, >= 120 days 0, linear between; no activity 0;
--   sentiment: the latest NPS answer of months m-11..m: 9-10 promoter, 7-8 passive, 0-6
--     detractor, none 50;
--   service: requests created in [end - 90 days, end), any manager: share within SLA * 100; an
--     answered request meets the SLA when hours to first response <= sla_hours of its priority;
--     an unanswered one is a breach once created_at + sla_hours <= the end of as_of_month, and
--     until then counts on neither side; none scores 100.
-- Score = weighted sum (var health_weights); band by var health_bands.
{%- set scoring = var('health_scoring') %}
{%- set weights = var('health_weights') %}
{%- set bands = var('health_bands') %}
with

client_months as (

    select * from {{ ref('int_client_month_revenue') }}
    {{- changed_clients_only() }}

),

month_spine as (

    select * from {{ ref('int_month_spine') }}

),

activities as (

    select * from {{ ref('int_activities_live') }}
    {{- changed_clients_only() }}

),

surveys as (

    select * from {{ ref('int_surveys_live') }}
    {{- changed_clients_only() }}

),

requests as (

    select * from {{ ref('int_requests_live') }}
    {{- changed_clients_only() }}

),

grid as (

    select
        client_months.client_id,
        client_months.month,
        client_months.revenue_last_3m,
        client_months.revenue_prior_3m,
        month_spine.month_last_day,
        month_spine.month_end_at,
        {{ reporting_instant(dbt.dateadd(
            'day', -(var('service_window_days') | int), dbt.dateadd('month', 1, 'month_spine.month'),
        )) }}
            as service_window_start_at,
        -- the local month of that start: the requests to judge are created from it on
        cast({{ dbt.date_trunc('month', dbt.dateadd(
            'day', -(var('service_window_days') | int), dbt.dateadd('month', 1, 'month_spine.month'),
        )) }} as date) as service_window_start_month

    from client_months

    inner join month_spine
        on client_months.month = month_spine.month

),

-- engagement: the latest activity of each month, carried forward over the client's months
activity_months as (

    select
        client_id,
        {{ reporting_month('occurred_at') }} as month,
        max(occurred_at) as last_activity_at

    from activities

    group by client_id, {{ reporting_month('occurred_at') }}

),

activity_timeline as (

    select
        client_id,
        month,
        last_activity_at

    from activity_months

    union all

    select
        client_id,
        month,
        cast(null as timestamp with time zone) as last_activity_at

    from grid

),

latest_activity as (

    select
        client_id,
        month,
        max(last_activity_at) over (
            partition by client_id
            order by month
            range between unbounded preceding and current row
        ) as last_activity_at

    from activity_timeline

),

latest_activity_per_month as (

    select
        client_id,
        month,
        max(last_activity_at) as last_activity_at

    from latest_activity

    group by client_id, month

),

-- sentiment: the latest NPS answer of months m-11..m
nps_answers as (

    select
        survey_id,
        client_id,
        score,
        responded_at,
        {{ reporting_month('responded_at') }} as responded_month

    from surveys

    where kind = 'nps'

),

nps_in_window as (

    select
        grid.client_id,
        grid.month,
        nps_answers.score,
        row_number() over (
            partition by grid.client_id, grid.month
            order by nps_answers.responded_at desc, {{ text_id('nps_answers.survey_id') }} desc
        ) as recency

    from grid

    inner join nps_answers
        on
            grid.client_id = nps_answers.client_id
            and nps_answers.responded_month > {{ dbt.dateadd('month', -12, 'grid.month') }}
            and nps_answers.responded_month <= grid.month

),

latest_nps as (

    select
        client_id,
        month,
        score as latest_nps_score

    from nps_in_window

    where recency = 1

),

-- service: requests of the last 90 days to `end`
requests_with_sla as (

    select
        request_id,
        client_id,
        created_at,
        first_response_at,
        {{ reporting_month('created_at') }} as created_month,
        {{ dbt.dateadd('hour', client_sla_hours('priority'), 'created_at') }} as sla_deadline_at

    from requests

),

requests_judged as (

    select
        grid.client_id,
        grid.month,
        case
            when requests_with_sla.first_response_at is not null
                then requests_with_sla.first_response_at <= requests_with_sla.sla_deadline_at
            when requests_with_sla.sla_deadline_at <= {{ window_end_at() }} then false
        end as is_within_sla

    from grid

    inner join requests_with_sla
        on
            grid.client_id = requests_with_sla.client_id
            and requests_with_sla.created_month >= grid.service_window_start_month
            and requests_with_sla.created_month <= grid.month
            and requests_with_sla.created_at >= grid.service_window_start_at
            and requests_with_sla.created_at < grid.month_end_at

),

service as (

    select
        client_id,
        month,
        sum(case when is_within_sla then 1 else 0 end) as requests_within_sla,
        sum(case when not is_within_sla then 1 else 0 end) as requests_breached

    from requests_judged

    group by client_id, month

),

components as (

    select
        grid.client_id,
        grid.month,
        grid.revenue_last_3m,
        grid.revenue_prior_3m,
        case
            when grid.revenue_prior_3m > 0 then grid.revenue_last_3m / grid.revenue_prior_3m
        end as revenue_trend_ratio,
        latest_activity_per_month.last_activity_at,
        grid.month_last_day - {{ reporting_date('latest_activity_per_month.last_activity_at') }}
            as days_since_activity,
        latest_nps.latest_nps_score,
        cast(coalesce(service.requests_within_sla, 0) as integer) as requests_within_sla,
        cast(coalesce(service.requests_breached, 0) as integer) as requests_breached

    from grid

    left join latest_activity_per_month
        on
            grid.client_id = latest_activity_per_month.client_id
            and grid.month = latest_activity_per_month.month

    left join latest_nps
        on
            grid.client_id = latest_nps.client_id
            and grid.month = latest_nps.month

    left join service
        on
            grid.client_id = service.client_id
            and grid.month = service.month

),

scores as (

    select
        *,
        case
            when revenue_prior_3m <= 0 then cast(100 as numeric)
            else {{ client_ratio_score(
                'revenue_last_3m', 'revenue_prior_3m',
                scoring['revenue_trend_full_at'], scoring['revenue_trend_zero_at'],
            ) }}
        end as health_revenue_trend,
        case
            when last_activity_at is null then cast(0 as numeric)
            else {{ client_linear_score(
                'days_since_activity', scoring['engagement_full_days'], scoring['engagement_zero_days'],
            ) }}
        end as health_engagement,
        case
            when latest_nps_score is null then cast({{ scoring['sentiment_none'] }} as numeric)
            when latest_nps_score >= 9 then cast({{ scoring['sentiment_promoter'] }} as numeric)
            when latest_nps_score >= 7 then cast({{ scoring['sentiment_passive'] }} as numeric)
            else cast({{ scoring['sentiment_detractor'] }} as numeric)
        end as health_sentiment,
        case
            when requests_within_sla + requests_breached = 0 then cast(100 as numeric)
            else cast(requests_within_sla as numeric) * 100 / (requests_within_sla + requests_breached)
        end as health_service

    from components

),

weighted as (

    select
        *,
        cast({{ weights['revenue_trend'] }} as numeric) * health_revenue_trend
        + cast({{ weights['engagement'] }} as numeric) * health_engagement
        + cast({{ weights['sentiment'] }} as numeric) * health_sentiment
        + cast({{ weights['service'] }} as numeric) * health_service as health_score

    from scores

),

final as (

    select
        client_id,
        month,
        revenue_last_3m,
        revenue_prior_3m,
        revenue_trend_ratio,
        last_activity_at,
        days_since_activity,
        latest_nps_score,
        requests_within_sla,
        requests_breached,
        health_revenue_trend,
        health_engagement,
        health_sentiment,
        health_service,
        health_score,
        -- the band of the score rounded to 12 decimals: a weighted sum of rounded quotients
        -- (e.g. 2/3 of requests within SLA) can miss an exact bound by 1e-20
        case
            when round(health_score, 12) >= cast({{ bands['green'] }} as numeric) then 'green'
            when round(health_score, 12) >= cast({{ bands['yellow'] }} as numeric) then 'yellow'
            else 'red'
        end as health_band

    from weighted

)

select * from final
