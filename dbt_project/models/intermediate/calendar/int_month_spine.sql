-- Every month from the first month in the data to as_of_month (never the clock): the months the
-- marts densify over. "The data" is every dated fact a mart reads: manager hires, client
-- creations, ownership changes, in-scope invoices, credit notes, activities, deals, requests
-- and survey answers. Months before the first one have N = 0 by definition.
with

managers as (

    select hired_at from {{ ref('stg_crm__managers') }}

),

clients as (

    select created_at from {{ ref('int_clients_live') }}

),

owner_changes as (

    select changed_at from {{ ref('int_owner_changes_live') }}

),

invoices as (

    select issued_at
    from {{ ref('int_invoices_live') }}
    where is_in_scope

),

credit_notes as (

    select issued_at from {{ ref('int_credit_notes_live') }}

),

activities as (

    select occurred_at from {{ ref('int_activities_live') }}

),

deals as (

    select created_at from {{ ref('int_deals_live') }}

),

requests as (

    select created_at from {{ ref('int_requests_live') }}

),

surveys as (

    select responded_at from {{ ref('int_surveys_live') }}

),

first_instants as (

    select min(hired_at) as first_at from managers
    union all
    select min(created_at) from clients
    union all
    select min(changed_at) from owner_changes
    union all
    select min(issued_at) from invoices
    union all
    select min(issued_at) from credit_notes
    union all
    select min(occurred_at) from activities
    union all
    select min(created_at) from deals
    union all
    select min(created_at) from requests
    union all
    select min(responded_at) from surveys

),

bounds as (

    select
        {{ reporting_month('min(first_at)') }} as first_month,
        {{ as_of_month() }} as last_month

    from first_instants

),

months as (

    select month_series.series_value as month

    from bounds

    cross join {{ date_series('bounds.first_month', 'bounds.last_month', 'month') }}

),

final as (

    select
        month,
        cast({{ dbt.last_day('month', 'month') }} as date) as month_last_day,
        cast({{ dbt.date_trunc('quarter', 'month') }} as date) as quarter,
        {{ reporting_instant('month') }} as month_start_at,
        {{ reporting_instant(dbt.dateadd('month', 1, 'month')) }} as month_end_at,
        row_number() over (order by month) as month_number,
        month = {{ as_of_month() }} as is_as_of_month

    from months

)

select * from final
