-- depends_on: {{ ref('int_changed_clients') }}
{%- set built = existing_model_relation('client_month') %}
{%- set by_client = built is not none and run_is_by_client() %}
-- The months whose ABC ranking this run recomputes (macros/incremental.sql): on a build by
-- client, those in which a client that a revenue source touched is active on one side and has
-- another activity or T12 than the last build's client_month holds (a row that came or went
-- counts). Every other month ranks the same active clients by the same T12. Empty on a full
-- build, which ranks every month.
with

client_months as (

    select
        client_id,
        month,
        is_active,
        t12_revenue

    from {{ ref('int_client_month_revenue') }}

    where {{ is_changed_client(part='revenue') if by_client else 'false' }}

),

built_client_months as (

    select
        client_id,
        month,
        is_active,
        t12_revenue

    {#- client_month, looked up: it is downstream and still holds the last build's rows #}
    from {{ built if by_client else ref('int_client_month_revenue') }}

    where {{ is_changed_client(part='revenue') if by_client else 'false' }}

),

moved as (

    select coalesce(client_months.month, built_client_months.month) as month

    from client_months

    full outer join built_client_months
        on
            client_months.client_id = built_client_months.client_id
            and client_months.month = built_client_months.month

    where
        (coalesce(client_months.is_active, false) or coalesce(built_client_months.is_active, false))
        and (
            client_months.is_active is distinct from built_client_months.is_active
            or client_months.t12_revenue is distinct from built_client_months.t12_revenue
        )

),

final as (

    select distinct month

    from moved

)

select * from final
