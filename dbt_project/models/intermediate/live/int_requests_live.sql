-- depends_on: {{ ref('int_changed_clients') }}
-- Built after the plan, which finds the client an edited row had in the previous build's table
-- (macros/incremental.sql).
-- Requests that count: those of clients that are not soft-deleted.
with

requests as (

    select * from {{ ref('stg_crm__requests') }}

),

deleted_clients as (

    select client_id
    from {{ ref('stg_crm__clients') }}
    where is_deleted

),

final as (

    select
        requests.request_id,
        requests.client_id,
        requests.manager_id,
        requests.priority,
        requests.channel,
        requests.created_at,
        requests.first_response_at,
        requests.resolved_at,
        requests.updated_at

    from requests

    left join deleted_clients
        on requests.client_id = deleted_clients.client_id

    where deleted_clients.client_id is null

)

select * from final
