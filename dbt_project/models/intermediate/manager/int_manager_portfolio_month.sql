{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='fail',
    meta={'rebuilt_by_client': true},
    pre_hook="{{ delete_changed_clients() }}",
) }}
-- depends_on: {{ ref('int_changed_clients') }}
-- Portfolio membership P(a, m) (metrics.md "Portfolio", readings "Portfolio membership"): the
-- clients owned by a at the end of month m, counted from the month of the client's created_at
-- on, whatever its CRM status and whether or not it has revenue. One row per client per month
-- of the spine in which it belongs to a portfolio (unassigned clients have none), whatever the
-- manager's employment: m-1 and m-12 portfolios are read by churn and NRR.
-- Two client-level flags ride along, for the coverage KPIs (any manager's activity counts):
--   has_stakeholder_contact: an activity with occurred_at in [end - stakeholder_window_days,
--     end) whose contact's current buying_role is decision_maker or budget_holder, where end is
--     the first instant of m+1 and the days are calendar days in reporting_tz;
--   has_in_person_meeting_quarter_to_date: a meeting_in_person from the start of m's quarter to
--     the end of m (the quarter's in-person coverage reads it at the quarter's last month in
--     the window).
-- The client's own facts at m ride along too, so the manager models aggregate this table alone
-- (int_client_month_revenue; none before the first revenue month F(c)): activity, status next
-- month, T12 at m and twelve months later (window frames of exactly that month over a month
-- number: a gap leaves them null), lifetime. Each depends on the client's history only, so a
-- build by client rewrites them with the rest of its rows.
with

clients as (

    select * from {{ ref('int_clients_live') }}
    {{- changed_clients_only() }}

),

ownership as (

    select * from {{ ref('int_client_ownership') }}
    {{- changed_clients_only() }}

),

spine as (

    select * from {{ ref('int_month_spine') }}

),

activities as (

    select * from {{ ref('int_activities_live') }}
    {{- changed_clients_only() }}

),

client_revenue as (

    select
        client_id,
        month,
        {{ dbt.datediff("cast('2000-01-01' as date)", 'month', 'month') }} as month_number,
        is_active,
        status,
        t12_revenue,
        lifetime_months

    from {{ ref('int_client_month_revenue') }}
    {{- changed_clients_only() }}

),

client_facts as (

    select
        client_id,
        month,
        is_active,
        t12_revenue,
        lifetime_months,
        first_value(status) over (
            partition by client_id order by month_number
            range between 1 following and 1 following
        ) as next_month_status,
        first_value(t12_revenue) over (
            partition by client_id order by month_number
            range between 12 following and 12 following
        ) as t12_revenue_12_months_later

    from client_revenue

),

stakeholder_windows as (

    select
        month,
        month_end_at,
        {{ reporting_instant(dbt.dateadd(
            'day',
            -1 * var('stakeholder_window_days'),
            dbt.dateadd('month', 1, 'month')
        )) }} as window_start_at

    from spine

),

stakeholder_activities as (

    select
        client_id,
        occurred_at,
        {{ reporting_month('occurred_at') }} as activity_month

    from activities

    where contact_buying_role in ('decision_maker', 'budget_holder')

),

-- the (client, month) pairs whose window [end - days, end) holds a decision maker's or budget
-- holder's activity. An activity in local month M lies in the windows of M and of at most
-- (days + 31) // 28 months after it (a window reaches back from the first instant of m+1, and
-- m+1 starts at least 28 days per month after M); those months are joined by equality, so the
-- join stays a hash join (a range join of every activity with every month is a nested loop)
stakeholder_contacts as (

    select distinct
        stakeholder_activities.client_id,
        stakeholder_windows.month

    from stakeholder_activities

    cross join {{ date_series(
        'stakeholder_activities.activity_month',
        dbt.dateadd(
            'month',
            (var('stakeholder_window_days') | int + 31) // 28,
            'stakeholder_activities.activity_month',
        ),
        'month',
    ) }}

    inner join stakeholder_windows
        on month_series.series_value = stakeholder_windows.month

    where
        stakeholder_activities.occurred_at >= stakeholder_windows.window_start_at
        and stakeholder_activities.occurred_at < stakeholder_windows.month_end_at

),

-- a meeting in person at instant t lies in [start of m's quarter, end of m) exactly when t's
-- quarter is m's and t's month is <= m (both in reporting_tz)
in_person_meeting_months as (

    select
        client_id,
        cast({{ dbt.date_trunc('quarter', to_reporting_tz('occurred_at')) }} as date) as quarter,
        {{ reporting_month('occurred_at') }} as month

    from activities

    where activity_type = 'meeting_in_person'

),

in_person_meetings as (

    select
        client_id,
        quarter,
        min(month) as first_meeting_month

    from in_person_meeting_months

    group by client_id, quarter

),

client_months as (

    select
        clients.client_id,
        spine.month,
        spine.quarter,
        spine.month_end_at

    from clients

    inner join spine
        on spine.month >= {{ reporting_month('clients.created_at') }}

),

memberships as (

    select
        ownership.manager_id,
        client_months.month,
        client_months.client_id,
        client_months.quarter

    from client_months

    inner join ownership
        on
            client_months.client_id = ownership.client_id
            and {{ owned_just_before('ownership', 'client_months.month_end_at') }}

    where ownership.manager_id is not null

),

final as (

    select
        memberships.manager_id,
        memberships.month,
        memberships.client_id,
        stakeholder_contacts.client_id is not null as has_stakeholder_contact,
        coalesce(in_person_meetings.first_meeting_month <= memberships.month, false)
            as has_in_person_meeting_quarter_to_date,
        coalesce(client_facts.is_active, false) as is_active,
        client_facts.t12_revenue,
        client_facts.lifetime_months,
        client_facts.next_month_status,
        client_facts.t12_revenue_12_months_later

    from memberships

    left join client_facts
        on
            memberships.client_id = client_facts.client_id
            and memberships.month = client_facts.month

    left join stakeholder_contacts
        on
            memberships.client_id = stakeholder_contacts.client_id
            and memberships.month = stakeholder_contacts.month

    left join in_person_meetings
        on
            memberships.client_id = in_person_meetings.client_id
            and memberships.quarter = in_person_meetings.quarter

)

select * from final
