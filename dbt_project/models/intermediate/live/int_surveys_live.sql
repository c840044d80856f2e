-- depends_on: {{ ref('int_changed_clients') }}
-- Built after the plan, which finds the client an edited row had in the previous build's table
-- (macros/incremental.sql).
-- Survey answers that count: those of clients that are not soft-deleted (a soft-deleted
-- contact's answer still counts).
with

surveys as (

    select * from {{ ref('stg_crm__surveys') }}

),

deleted_clients as (

    select client_id
    from {{ ref('stg_crm__clients') }}
    where is_deleted

),

final as (

    select
        surveys.survey_id,
        surveys.client_id,
        surveys.contact_id,
        surveys.kind,
        surveys.score,
        surveys.responded_at,
        surveys.updated_at

    from surveys

    left join deleted_clients
        on surveys.client_id = deleted_clients.client_id

    where deleted_clients.client_id is null

)

select * from final
