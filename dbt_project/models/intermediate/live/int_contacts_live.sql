-- depends_on: {{ ref('int_changed_clients') }}
-- Contacts that count: not soft-deleted, and their client not soft-deleted. Built after the plan,
-- which compares edited contacts with the previous build's table (macros/incremental.sql).
with

contacts as (

    select * from {{ ref('stg_crm__contacts') }}

),

deleted_clients as (

    select client_id
    from {{ ref('stg_crm__clients') }}
    where is_deleted

),

final as (

    select
        contacts.contact_id,
        contacts.client_id,
        contacts.full_name,
        contacts.email,
        contacts.phone,
        contacts.position,
        contacts.buying_role,
        contacts.is_active,
        contacts.updated_at

    from contacts

    left join deleted_clients
        on contacts.client_id = deleted_clients.client_id

    where
        deleted_clients.client_id is null
        and not contacts.is_deleted

)

select * from final
