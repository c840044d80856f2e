-- Deal KPIs per manager and month, by each deal's own manager_id (not the client's owner) and
-- the month of its closed_at (metrics.md "Manager KPIs"):
--   proposals won / lost: deals closed in m in stage won / lost that have proposal_sent_at;
--   won deals: every won deal closed in m;
--   cross-sell: won deals of kind upsell or cross_sell closed in m, count and amount converted
--   at closed_at.
-- Only months up to as_of_month with at least one such deal.
with

deals as (

    select * from {{ ref('int_deals_live') }}

),

won_deals as (

    select * from {{ ref('int_won_deals_converted') }}

),

closed_proposals as (

    select
        manager_id,
        {{ reporting_month('closed_at') }} as month,
        case when stage = 'won' then 1 else 0 end as is_won,
        case when stage = 'lost' then 1 else 0 end as is_lost

    from deals

    where
        stage in ('won', 'lost')
        and proposal_sent_at is not null
        and closed_at is not null

),

proposals as (

    select
        manager_id,
        month,
        sum(is_won) as proposals_won,
        sum(is_lost) as proposals_lost

    from closed_proposals

    where month <= {{ as_of_month() }}

    group by manager_id, month

),

won as (

    select
        manager_id,
        closed_month as month,
        count(*) as won_deals,
        sum(case when kind in ('upsell', 'cross_sell') then 1 else 0 end) as cross_sell_deals,
        sum(case when kind in ('upsell', 'cross_sell') then amount_base else 0 end) as cross_sell_amount

    from won_deals

    group by manager_id, closed_month

),

final as (

    select
        coalesce(proposals.manager_id, won.manager_id) as manager_id,
        coalesce(proposals.month, won.month) as month,
        cast(coalesce(proposals.proposals_won, 0) as integer) as proposals_won,
        cast(coalesce(proposals.proposals_lost, 0) as integer) as proposals_lost,
        cast(coalesce(won.won_deals, 0) as integer) as won_deals,
        cast(coalesce(won.cross_sell_deals, 0) as integer) as cross_sell_deals,
        coalesce(won.cross_sell_amount, 0) as cross_sell_amount

    from proposals

    full outer join won
        on
            proposals.manager_id = won.manager_id
            and proposals.month = won.month

)

select * from final
