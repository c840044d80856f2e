{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='fail',
    meta={'rebuilt_by_month': true},
    pre_hook="{{ delete_changed_months() }}",
) }}
-- depends_on: {{ ref('int_changed_months') }}
-- ABC class of every client active in m (metrics.md "Portfolio quality"): active clients of the
-- month ranked by T12 descending, ties by client id in byte order; a client is A while the
-- cumulative T12 share of the clients ranked before it is below abc_thresholds.a (0.80), B below
-- abc_thresholds.b (0.95), else C. The share is over the T12 of all active clients of the month.
-- A build by client ranks again only the months int_changed_months lists (macros/incremental.sql).
with

client_months as (

    select * from {{ ref('int_client_month_revenue') }}
    {{- changed_months_only() }}

),

active_clients as (

    select
        client_id,
        month,
        t12_revenue

    from client_months

    where is_active

),

ranked as (

    select
        client_id,
        month,
        t12_revenue,
        row_number() over ranking as abc_rank,
        coalesce(
            sum(t12_revenue) over (
                ranking
                rows between unbounded preceding and 1 preceding
            ),
            0
        ) as cumulative_t12_before,
        sum(t12_revenue) over (partition by month) as active_t12_total

    from active_clients

    window ranking as (
        partition by month
        order by t12_revenue desc, {{ text_id('client_id') }}
    )

),

shares as (

    select
        *,
        cumulative_t12_before / nullif(active_t12_total, 0) as cumulative_share_before

    from ranked

),

final as (

    select
        client_id,
        month,
        t12_revenue,
        cast(abc_rank as integer) as abc_rank,
        cumulative_t12_before,
        active_t12_total,
        cumulative_share_before,
        -- share before < threshold, compared without dividing (the total is positive in practice)
        case
            when not {{ client_quotient_at_least(
                'cumulative_t12_before', 'active_t12_total', 'cumulative_share_before',
                var('abc_thresholds')['a'],
            ) }}
                then 'A'
            when not {{ client_quotient_at_least(
                'cumulative_t12_before', 'active_t12_total', 'cumulative_share_before',
                var('abc_thresholds')['b'],
            ) }}
                then 'B'
            else 'C'
        end as abc_class

    from shares

)

select * from final
