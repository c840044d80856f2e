-- depends_on: {{ ref('int_changed_clients') }}
-- Built after the plan, which finds the client an edited row had in the previous build's table
-- (macros/incremental.sql).
-- Owner changes that count: those of clients that are not soft-deleted.
with

owner_changes as (

    select * from {{ ref('stg_crm__owner_changes') }}

),

deleted_clients as (

    select client_id
    from {{ ref('stg_crm__clients') }}
    where is_deleted

),

final as (

    select
        owner_changes.owner_change_id,
        owner_changes.client_id,
        owner_changes.old_owner_id,
        owner_changes.new_owner_id,
        owner_changes.changed_at,
        owner_changes.updated_at

    from owner_changes

    left join deleted_clients
        on owner_changes.client_id = deleted_clients.client_id

    where deleted_clients.client_id is null

)

select * from final
