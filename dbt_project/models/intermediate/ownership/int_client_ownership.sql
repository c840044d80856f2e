-- Who owns each client when: intervals [valid_from, valid_to) that tile the whole time line
-- (null = unbounded), by the ownership rule of metrics.md:
--   * the owner at instant t is new_owner_id of the latest change with changed_at <= t;
--   * before the first change, the first change's old_owner_id (null = unassigned);
--   * changes at the same changed_at are ordered by id in byte order, greater is later (the
--     earlier one's interval is empty and left out);
--   * a client with no change rows is owned by clients.owner_id at all times.
-- Join it with the macros owned_at / owned_just_before.
with

clients as (

    select * from {{ ref('int_clients_live') }}

),

owner_changes as (

    select * from {{ ref('int_owner_changes_live') }}

),

ordered_changes as (

    select
        owner_change_id,
        client_id,
        old_owner_id,
        new_owner_id,
        changed_at,
        row_number() over (
            partition by client_id
            order by changed_at, owner_change_id
        ) as change_number,
        lead(changed_at) over (
            partition by client_id
            order by changed_at, owner_change_id
        ) as next_changed_at

    from owner_changes

),

before_first_change as (

    select
        client_id,
        old_owner_id as manager_id,
        cast(null as timestamp with time zone) as valid_from,
        changed_at as valid_to,
        'before_first_change' as ownership_basis,
        cast(null as {{ dbt.type_string() }}) as owner_change_id

    from ordered_changes

    where change_number = 1

),

after_each_change as (

    select
        client_id,
        new_owner_id as manager_id,
        changed_at as valid_from,
        next_changed_at as valid_to,
        'owner_change' as ownership_basis,
        owner_change_id

    from ordered_changes

    -- a change followed by another at the same instant never holds: its interval is empty
    where next_changed_at is null or next_changed_at > changed_at

),

clients_without_changes as (

    select
        clients.client_id,
        clients.owner_id as manager_id,
        cast(null as timestamp with time zone) as valid_from,
        cast(null as timestamp with time zone) as valid_to,
        'clients_owner_id' as ownership_basis,
        cast(null as {{ dbt.type_string() }}) as owner_change_id

    from clients

    where not exists (
        select 1
        from owner_changes
        where owner_changes.client_id = clients.client_id
    )

),

intervals as (

    select * from before_first_change
    union all
    select * from after_each_change
    union all
    select * from clients_without_changes

),

final as (

    select
        client_id,
        manager_id,
        valid_from,
        valid_to,
        ownership_basis,
        owner_change_id

    from intervals

)

select * from final
