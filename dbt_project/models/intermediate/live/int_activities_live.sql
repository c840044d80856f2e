{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='fail',
    meta={'rebuilt_by_client': true},
    pre_hook="{{ delete_changed_clients() }}",
) }}
-- depends_on: {{ ref('int_changed_clients') }}
-- Activities that count, up to the end of the reporting window: not soft-deleted, their client
-- not soft-deleted; each with the current buying role of its contact, null when the contact is
-- soft-deleted (it still counts, with no role). Rebuilt by client: an edited activity, a contact
-- whose role changed and a deleted client all touch the clients of the activities they reach
-- (int_changed_clients); one that arrives after the window touches none, so none is kept. One
-- moved to another client touches the client this table held it under too, so its old row goes.
with

activities as (

    select * from {{ ref('stg_crm__activities') }}
    {{- changed_clients_only() }}

),

deleted_clients as (

    select client_id
    from {{ ref('stg_crm__clients') }}
    where is_deleted

),

contacts as (

    select * from {{ ref('int_contacts_live') }}

),

final as (

    select
        activities.activity_id,
        activities.client_id,
        activities.manager_id,
        activities.contact_id,
        contacts.buying_role as contact_buying_role,
        activities.activity_type,
        activities.occurred_at,
        activities.duration_min,
        activities.updated_at

    from activities

    left join deleted_clients
        on activities.client_id = deleted_clients.client_id

    left join contacts
        on activities.contact_id = contacts.contact_id

    where
        deleted_clients.client_id is null
        and not activities.is_deleted
        and (activities.occurred_at is null or activities.occurred_at < {{ window_end_at() }})

)

select * from final
