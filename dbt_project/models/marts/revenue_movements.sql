-- Revenue movements per month, scope and bucket (metrics.md "Activity status and retention"):
-- each client's revenue_change of the month (N(c, m) - N(c, m-1); N(c, F) at its first revenue
-- month) booked to its movement_bucket, for the company and for the manager who owns the
-- client at month end. All six buckets for each month and scope with a client_month row, zero
-- rows included; a client without an owner is only in the company scope.
with

client_month as (

    select
        month,
        owner_id,
        movement_bucket,
        revenue_change

    from {{ ref('client_month') }}

),

buckets as (

    select
        'new' as bucket,
        1 as bucket_order

    union all

    select
        'expansion' as bucket,
        2 as bucket_order

    union all

    select
        'contraction' as bucket,
        3 as bucket_order

    union all

    select
        'reactivated' as bucket,
        4 as bucket_order

    union all

    select
        'churned' as bucket,
        5 as bucket_order

    union all

    select
        'inactive' as bucket,
        6 as bucket_order

),

-- client_month read once, into a row per month, owner and bucket (null bucket: retained with no
-- change, which still makes its scope exist); both scopes are sums of these
owner_buckets as (

    select
        month,
        owner_id,
        movement_bucket,
        sum(revenue_change) as amount,
        count(*) as clients

    from client_month

    group by month, owner_id, movement_bucket

),

scoped_buckets as (

    select
        month,
        'company' as scope,
        cast(null as {{ dbt.type_string() }}) as manager_id,
        movement_bucket,
        sum(amount) as amount,
        sum(clients) as clients

    from owner_buckets

    group by month, movement_bucket

    union all

    select
        month,
        'manager' as scope,
        owner_id as manager_id,
        movement_bucket,
        amount,
        clients

    from owner_buckets

    where owner_id is not null

),

scopes as (

    select distinct
        month,
        scope,
        manager_id

    from scoped_buckets

),

booked as (

    select
        month,
        scope,
        manager_id,
        movement_bucket as bucket,
        amount,
        clients

    from scoped_buckets

    where movement_bucket is not null

),

final as (

    select
        scopes.month,
        scopes.scope,
        scopes.manager_id,
        buckets.bucket,
        coalesce(booked.amount, 0) as amount,
        cast(coalesce(booked.clients, 0) as integer) as clients,
        buckets.bucket_order

    from scopes

    cross join buckets

    left join booked
        on
            scopes.month = booked.month
            and scopes.scope = booked.scope
            -- the company scope has no manager; coalesce keeps the join hashable
            and coalesce(scopes.manager_id, '') = coalesce(booked.manager_id, '')
            and buckets.bucket = booked.bucket

)

select * from final
