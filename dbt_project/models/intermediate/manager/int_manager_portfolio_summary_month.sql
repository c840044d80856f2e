{{ config(pre_hook="{{ prefer_hash_joins() }}") }}
-- Portfolio counts per manager and month over P(a, m) (int_manager_portfolio_month, which carries
-- the client's activity and lifetime at m), with the ABC class of client_month at m (metrics.md
-- "Manager KPIs", "Portfolio quality", "Lifetime"). A client in P(a, m) before its first revenue
-- month is counted in the portfolio and is not active.
--   active clients: clients of P(a, m) active in m
--   key clients: clients of P(a, m) of ABC class A at m (A is only given to active clients)
--   tenure: the mean lifetime_months of the active clients
--   stakeholder-covered / in-person-covered: active clients with the coverage flag
with

portfolio as (

    select * from {{ ref('int_manager_portfolio_month') }}

),

-- the same rows again: a CTE read twice would be written out whole before either reads it
portfolio_clients as (

    select
        manager_id,
        month,
        client_id

    from {{ ref('int_manager_portfolio_month') }}

),

key_client_months as (

    select
        client_id,
        month

    from {{ ref('client_month') }}

    where abc_class = 'A'

),

counts as (

    select
        manager_id,
        month,
        count(*) as portfolio_clients,
        sum(case when is_active then 1 else 0 end) as active_clients,
        avg(case when is_active then cast(lifetime_months as numeric) end) as portfolio_tenure_months,
        sum(case when is_active and has_stakeholder_contact then 1 else 0 end)
            as stakeholder_covered_clients,
        sum(case when is_active and has_in_person_meeting_quarter_to_date then 1 else 0 end)
            as in_person_covered_clients

    from portfolio

    group by manager_id, month

),

-- counted apart: joining every portfolio row would carry the wide rows through the hash
key_clients as (

    select
        portfolio_clients.manager_id,
        portfolio_clients.month,
        count(*) as key_clients

    from portfolio_clients

    inner join key_client_months
        on
            portfolio_clients.client_id = key_client_months.client_id
            and portfolio_clients.month = key_client_months.month

    group by portfolio_clients.manager_id, portfolio_clients.month

),

final as (

    select
        counts.manager_id,
        counts.month,
        cast(counts.portfolio_clients as integer) as portfolio_clients,
        cast(counts.active_clients as integer) as active_clients,
        cast(coalesce(key_clients.key_clients, 0) as integer) as key_clients,
        counts.portfolio_tenure_months,
        cast(counts.stakeholder_covered_clients as integer) as stakeholder_covered_clients,
        cast(counts.in_person_covered_clients as integer) as in_person_covered_clients

    from counts

    left join key_clients
        on
            counts.manager_id = key_clients.manager_id
            and counts.month = key_clients.month

)

select * from final
