{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='fail',
    meta={
        'rebuilt_by_client': 'revenue',
        'rebuilt_by_key': {'key': 'invoice_id', 'loaded_from': 'stg_billing__invoices'},
    },
    pre_hook="{{ delete_changed_clients() }}",
) }}
-- depends_on: {{ ref('int_changed_clients') }}
-- Invoices that count (every status): those of clients that are not soft-deleted. An invoice
-- of a client the CRM does not know (yet) stays: only a soft deletion removes rows. Rebuilt for
-- the clients a revenue source touched (a soft deletion among them), and by key, with its
-- client, for every invoice loaded since the last build: an edit the client path does not see
-- (an invoice paid) still changes its row here.
with

invoices as (

    select * from {{ ref('stg_billing__invoices') }}
    {{- changed_clients_only() }}

),

deleted_clients as (

    select client_id
    from {{ ref('stg_crm__clients') }}
    where is_deleted

),

final as (

    select
        invoices.invoice_id,
        invoices.client_id,
        invoices.invoice_number,
        invoices.issued_at,
        invoices.due_at,
        invoices.currency,
        invoices.status,
        {{ invoice_in_scope('invoices.status') }} as is_in_scope,
        invoices.updated_at

    from invoices

    left join deleted_clients
        on invoices.client_id = deleted_clients.client_id

    where deleted_clients.client_id is null

)

select * from final
