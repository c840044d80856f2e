-- Revenue movements per month, scope and bucket (metrics.md "Activity status and retention"):
-- each client's revenue_change of the month (N(c, m) - N(c, m-1); N(c, F) at its first revenue
-- month) booked to its movement_bucket, for the company and for the manager who owns the
-- client at month end. All six buckets for each month and scope with a client_month row, zero
-- rows included; a client without an owner is only in the company scope.
with

-- named columns: read twice, the CTE is materialized, and whole client_month rows are wide
client_month as (

    select
        client_id,
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

scoped_clients as (

    select
        month,
        'company' as scope,
        cast(null as {{ dbt.type_string() }}) as manager_id,
        client_id,
        movement_bucket,
        revenue_change

    from client_month

    union all

    select
        month,
        'manager' as scope,
        owner_id as manager_id,
        client_id,
        movement_bucket,
        revenue_change

    from client_month

    where owner_id is not null

),

scopes as (

    select distinct
        month,
        scope,
        manager_id

    from scoped_clients

),

booked as (

    select
        month,
        scope,
        manager_id,
        movement_bucket as bucket,
        sum(revenue_change) as amount,
        count(*) as clients

    from scoped_clients

    where movement_bucket is not null

    group by month, scope, manager_id, movement_bucket

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
