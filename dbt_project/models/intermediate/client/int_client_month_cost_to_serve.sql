{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='fail',
    meta={'rebuilt_by_client': true},
    pre_hook="{{ delete_changed_clients() }}",
) }}
-- depends_on: {{ ref('int_changed_clients') }}
-- Cost to serve of every client month from F(c) to as_of_month (metrics.md "Portfolio quality"),
-- over the 12 months m-11..m (months in reporting_tz): every activity of the client, by any
-- manager, at duration_min / 60 * hourly_rate of the activity manager's current role (var
-- hourly_rate; a soft-deleted manager keeps its role), plus every request of the client * var
-- request_cost. An activity whose manager or role has no rate costs 0.
with

client_months as (

    select * from {{ ref('int_client_month_revenue') }}
    {{- changed_clients_only() }}

),

activities as (

    select * from {{ ref('int_activities_live') }}
    {{- changed_clients_only() }}

),

requests as (

    select * from {{ ref('int_requests_live') }}
    {{- changed_clients_only() }}

),

managers as (

    select * from {{ ref('stg_crm__managers') }}

),

activity_costs as (

    select
        activities.client_id,
        {{ reporting_month('activities.occurred_at') }} as month,
        coalesce(
            cast(activities.duration_min as numeric) * {{ client_hourly_rate('managers.role') }} / 60,
            0
        ) as activity_cost,
        1 as activities,
        0 as requests

    from activities

    left join managers
        on activities.manager_id = managers.manager_id

),

request_counts as (

    select
        client_id,
        {{ reporting_month('created_at') }} as month,
        cast(0 as numeric) as activity_cost,
        0 as activities,
        1 as requests

    from requests

),

service_events as (

    select * from activity_costs
    union all
    select * from request_counts

),

monthly as (

    select
        client_id,
        month,
        sum(activity_cost) as activity_cost,
        sum(activities) as activities,
        sum(requests) as requests

    from service_events

    group by client_id, month

),

-- the client's months with a client_month row or with service events (those before F(c) count
-- in the first months' windows), so the 12 months m-11..m are a window frame over a month
-- number: a join of every client month with every month of its events grows with history
client_event_months as (

    select
        coalesce(client_months.client_id, monthly.client_id) as client_id,
        coalesce(client_months.month, monthly.month) as month,
        client_months.client_id is not null as is_client_month,
        coalesce(monthly.activity_cost, 0) as activity_cost,
        coalesce(monthly.activities, 0) as activities,
        coalesce(monthly.requests, 0) as requests

    from client_months

    full outer join monthly
        on
            client_months.client_id = monthly.client_id
            and client_months.month = monthly.month

),

trailing_months as (

    select
        client_id,
        month,
        is_client_month,
        sum(activity_cost) over trailing_12_months as activity_cost_12m,
        cast(sum(activities) over trailing_12_months as integer) as activities_12m,
        cast(sum(requests) over trailing_12_months as integer) as requests_12m

    from client_event_months

    window trailing_12_months as (
        partition by client_id
        order by {{ dbt.datediff("cast('2000-01-01' as date)", 'month', 'month') }}
        range between 11 preceding and current row
    )

),

final as (

    select
        client_id,
        month,
        activities_12m,
        activity_cost_12m,
        requests_12m,
        requests_12m * cast({{ var('request_cost') }} as numeric) as request_cost_12m,
        activity_cost_12m + requests_12m * cast({{ var('request_cost') }} as numeric) as cost_to_serve_12m

    from trailing_months

    where is_client_month

)

select * from final
