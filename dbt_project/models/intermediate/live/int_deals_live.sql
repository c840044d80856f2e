-- Deals that count: not soft-deleted, their client not soft-deleted.
with

deals as (

    select * from {{ ref('stg_crm__deals') }}

),

deleted_clients as (

    select client_id
    from {{ ref('stg_crm__clients') }}
    where is_deleted

),

final as (

    select
        deals.deal_id,
        deals.client_id,
        deals.manager_id,
        deals.kind,
        deals.product_line,
        deals.amount,
        deals.currency,
        deals.stage,
        deals.created_at,
        deals.proposal_sent_at,
        deals.closed_at,
        deals.lost_reason,
        deals.updated_at

    from deals

    left join deleted_clients
        on deals.client_id = deleted_clients.client_id

    where
        deleted_clients.client_id is null
        and not deals.is_deleted

)

select * from final
