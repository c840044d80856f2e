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
-- In-scope (issued or paid) invoices, each credited to the manager who owned its client at
-- issued_at (null when unassigned), with its date and month in reporting_tz. Every in-scope
-- invoice with an issued_at, whatever its month (no amounts here, so no fx rate is needed);
-- the amount models stop at as_of_month. Rebuilt as int_invoices_live is, a client's every
-- invoice at once (a repeat order compares it with the client's first).
with

invoices as (

    select * from {{ ref('int_invoices_live') }}
    {{- changed_clients_only() }}

),

ownership as (

    select * from {{ ref('int_client_ownership') }}

),

in_scope_invoices as (

    select
        invoice_id,
        client_id,
        invoice_number,
        status,
        currency,
        issued_at

    from invoices

    where
        is_in_scope
        -- an issued invoice without issued_at has no month (a warn test on staging reports it)
        and issued_at is not null

),

credited as (

    select
        in_scope_invoices.invoice_id,
        in_scope_invoices.client_id,
        in_scope_invoices.invoice_number,
        in_scope_invoices.status,
        in_scope_invoices.currency,
        in_scope_invoices.issued_at,
        {{ reporting_date('in_scope_invoices.issued_at') }} as issued_date,
        {{ reporting_month('in_scope_invoices.issued_at') }} as revenue_month,
        ownership.manager_id as credited_manager_id,
        -- a repeat order: the client has an in-scope invoice with a strictly earlier issued_at
        in_scope_invoices.issued_at > min(in_scope_invoices.issued_at) over (
            partition by in_scope_invoices.client_id
        ) as is_repeat_order

    from in_scope_invoices

    left join ownership
        on
            in_scope_invoices.client_id = ownership.client_id
            and {{ owned_at('ownership', 'in_scope_invoices.issued_at') }}

),

final as (

    select
        invoice_id,
        client_id,
        invoice_number,
        status,
        currency,
        issued_at,
        issued_date,
        revenue_month,
        credited_manager_id,
        is_repeat_order

    from credited

)

select * from final
