{{ config(pre_hook="{{ prefer_hash_joins() }}") }}
-- Portfolio counts per manager and month over P(a, m) (int_manager_portfolio_month), with the
-- client facts of client_month at m (metrics.md "Manager KPIs", "Portfolio quality",
-- "Lifetime"). A client in P(a, m) before its first revenue month has no client_month row: it
-- is counted in the portfolio and is not active.
--   active clients: clients of P(a, m) active in m
--   key clients: clients of P(a, m) of ABC class A at m (A is only given to active clients)
--   tenure: the mean lifetime_months of the active clients
--   stakeholder-covered / in-person-covered: active clients with the coverage flag
with

portfolio as (

    select * from {{ ref('int_manager_portfolio_month') }}

),

client_month as (

    select * from {{ ref('client_month') }}

),

members as (

    select
        portfolio.manager_id,
        portfolio.month,
        portfolio.client_id,
        coalesce(client_month.is_active, false) as is_active,
        client_month.abc_class,
        client_month.lifetime_months,
        portfolio.has_stakeholder_contact,
        portfolio.has_in_person_meeting_quarter_to_date

    from portfolio

    left join client_month
        on
            portfolio.client_id = client_month.client_id
            and portfolio.month = client_month.month

),

final as (

    select
        manager_id,
        month,
        cast(count(*) as integer) as portfolio_clients,
        cast(sum(case when is_active then 1 else 0 end) as integer) as active_clients,
        cast(sum(case when abc_class = 'A' then 1 else 0 end) as integer) as key_clients,
        avg(case when is_active then cast(lifetime_months as numeric) end) as portfolio_tenure_months,
        cast(sum(case when is_active and has_stakeholder_contact then 1 else 0 end) as integer)
            as stakeholder_covered_clients,
        cast(
            sum(case when is_active and has_in_person_meeting_quarter_to_date then 1 else 0 end)
            as integer
        ) as in_person_covered_clients

    from members

    group by manager_id, month

)

select * from final
