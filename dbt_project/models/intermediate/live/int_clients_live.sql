-- depends_on: {{ ref('int_changed_clients') }}
-- Clients that count: every client except the soft-deleted ones. Built after the plan, which
-- compares edited clients with the previous build's table (macros/incremental.sql).
with

clients as (

    select * from {{ ref('stg_crm__clients') }}

),

final as (

    select
        client_id,
        client_name,
        tax_id,
        segment,
        industry,
        country,
        created_at,
        crm_status,
        lost_reason,
        owner_id,
        is_vip,
        wallet_estimate,
        updated_at

    from clients

    where not is_deleted

)

select * from final
