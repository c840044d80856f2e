-- Activities that count: not soft-deleted, their client not soft-deleted; each with the current
-- buying role of its contact, null when the contact is soft-deleted (it still counts, with no role).
with

activities as (

    select * from {{ ref('stg_crm__activities') }}

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

)

select * from final
