-- client_month.revenue_change is N(c, m) - N(c, m-1), with N(c, m-1) = 0 at the client's first
-- revenue month F(c), where its rows start (marts.md "client_month"; N before F(c) is outside the
-- movements). N(c, m-1) is read with a window frame of exactly the previous month (range over a
-- month number: none before F(c)). Returns the rows that differ. A build by client checks the
-- changed clients' rows (tested_clients_only): the rest were checked when they were written.
with

client_month as (

    select
        client_id,
        month,
        net_revenue,
        revenue_change

    from {{ ref('client_month') }}
    {{- tested_clients_only() }}

),

with_previous as (

    select
        client_id,
        month,
        net_revenue,
        revenue_change,
        coalesce(
            first_value(net_revenue) over (
                partition by client_id
                order by {{ dbt.datediff("cast('2000-01-01' as date)", 'month', 'month') }}
                range between 1 preceding and 1 preceding
            ),
            0
        ) as previous_net_revenue

    from client_month

),

final as (

    select * from with_previous

    where revenue_change <> net_revenue - previous_net_revenue

)

select * from final
