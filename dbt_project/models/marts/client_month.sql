-- sqlfluff:indentation:template_blocks_indent:False
-- One row per client per month from its first revenue month F(c) to as_of_month: revenue,
-- margin, activity status and movement, lifetime, ABC class, share of wallet, cost to serve and
-- health (metrics.md; columns in the order of marts.md "client_month", extras after).
-- Incremental (docs/decisions.md "dbt — Incremental builds", macros/incremental.sql):
-- a run rewrites every month of the clients a newly loaded source row touches and the rows whose
-- ABC class moved with them, or every row when the build's fingerprint changed.
{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key=['client_id', 'month'],
    on_schema_change='fail',
    meta={'rebuilt_by_client': true},
    post_hook="{{ delete_vanished_client_months(ref('int_client_month_revenue')) }}",
) }}
-- depends_on: {{ ref('int_changed_clients') }}
{%- set wallet_bands = var('wallet_bands') %}
{%- set fingerprint = incremental_parameters_fingerprint() %}
{%- set by_client = incremental_by_client() %}
with

client_months as (

    select * from {{ ref('int_client_month_revenue') }}

),

abc as (

    select * from {{ ref('int_client_month_abc') }}

),

cost_to_serve as (

    select * from {{ ref('int_client_month_cost_to_serve') }}

),

health as (

    select * from {{ ref('int_client_month_health') }}

),

clients as (

    select * from {{ ref('int_clients_live') }}

),

ownership as (

    select * from {{ ref('int_client_ownership') }}

),

month_spine as (

    select * from {{ ref('int_month_spine') }}

),

{%- if by_client %}

changed_clients as (

    select * from {{ ref('int_changed_clients') }}

),

-- ABC ranks every active client of a month by T12: in the months where a changed client's T12 or
-- activity moved, any client's class may move; those whose class did are rewritten too
previous_active as (

    select
        client_id,
        month,
        t12_revenue

    from {{ this }}

    where is_active and client_id in (select changed_clients.client_id from changed_clients)

),

current_active as (

    select
        client_id,
        month,
        t12_revenue

    from client_months

    where is_active and client_id in (select changed_clients.client_id from changed_clients)

),

moved_ranks as (

    (
        select * from current_active
        except
        select * from previous_active
    )
    union all
    (
        select * from previous_active
        except
        select * from current_active
    )

),

reranked_months as (

    select distinct month from moved_ranks

),

reclassed as (

    select
        previous.client_id,
        previous.month

    from {{ this }} as previous

    inner join reranked_months
        on previous.month = reranked_months.month

    left join abc
        on
            previous.client_id = abc.client_id
            and previous.month = abc.month

    where previous.abc_class is distinct from abc.abc_class

),
{%- endif %}

-- the client months this run writes: all of them on a full build
rebuilt as (

    select * from client_months
    {%- if by_client %}

    where
        client_id in (select changed_clients.client_id from changed_clients)
        or (client_id, month) in (
            select
                reclassed.client_id,
                reclassed.month
            from reclassed
        )
    {%- endif %}

),

owners_at_month_end as (

    select
        rebuilt.client_id,
        rebuilt.month,
        ownership.manager_id as owner_id

    from rebuilt

    inner join month_spine
        on rebuilt.month = month_spine.month

    inner join ownership
        on
            rebuilt.client_id = ownership.client_id
            and {{ owned_just_before('ownership', 'month_spine.month_end_at') }}

),

joined as (

    select
        rebuilt.client_id,
        rebuilt.month,
        owners_at_month_end.owner_id,
        clients.segment,
        clients.is_vip,
        clients.wallet_estimate,
        rebuilt.net_revenue,
        rebuilt.cost,
        rebuilt.gross_margin,
        rebuilt.t12_revenue,
        rebuilt.t12_gross_margin,
        rebuilt.is_active,
        rebuilt.status,
        rebuilt.revenue_change,
        rebuilt.movement_bucket,
        rebuilt.lifetime_months,
        rebuilt.first_revenue_month,
        abc.abc_class,
        rebuilt.t12_revenue / nullif(clients.wallet_estimate, 0) as wallet_share,
        cost_to_serve.cost_to_serve_12m,
        health.health_score,
        health.health_revenue_trend,
        health.health_engagement,
        health.health_sentiment,
        health.health_service,
        health.health_band

    from rebuilt

    left join owners_at_month_end
        on
            rebuilt.client_id = owners_at_month_end.client_id
            and rebuilt.month = owners_at_month_end.month

    left join clients
        on rebuilt.client_id = clients.client_id

    left join abc
        on
            rebuilt.client_id = abc.client_id
            and rebuilt.month = abc.month

    left join cost_to_serve
        on
            rebuilt.client_id = cost_to_serve.client_id
            and rebuilt.month = cost_to_serve.month

    left join health
        on
            rebuilt.client_id = health.client_id
            and rebuilt.month = health.month

),

final as (

    select
        client_id,
        month,
        owner_id,
        segment,
        is_vip,
        net_revenue,
        cost,
        gross_margin,
        gross_margin / nullif(net_revenue, 0) as margin_pct,
        t12_revenue,
        is_active,
        status,
        revenue_change,
        movement_bucket,
        lifetime_months,
        abc_class,
        wallet_share,
        -- bands compared without dividing (T12 >= bound * estimate), exact on the bounds
        case
            when wallet_share is null then null
            when {{ client_quotient_at_least(
                't12_revenue', 'wallet_estimate', 'wallet_share', wallet_bands['saturated'],
            ) }}
                then 'saturated'
            when {{ client_quotient_at_least(
                't12_revenue', 'wallet_estimate', 'wallet_share', wallet_bands['high'],
            ) }}
                then 'high'
            when {{ client_quotient_at_least(
                't12_revenue', 'wallet_estimate', 'wallet_share', wallet_bands['headroom'],
            ) }}
                then 'headroom'
            else 'low'
        end as wallet_band,
        cost_to_serve_12m,
        t12_gross_margin - cost_to_serve_12m as contribution_margin_12m,
        t12_gross_margin - cost_to_serve_12m < 0 as is_unprofitable,
        coalesce(is_vip, false) and t12_gross_margin - cost_to_serve_12m < 0 as is_vip_unprofitable,
        health_score,
        health_revenue_trend,
        health_engagement,
        health_sentiment,
        health_service,
        health_band,
        first_revenue_month,
        wallet_estimate,
        t12_gross_margin,
        -- audit: this build's safe point (the next run's watermark) and its parameters fingerprint
        {{ incremental_build_watermark() }} as _source_loaded_at,
        cast({{ dbt.string_literal(fingerprint) }} as text) as _build_parameters

    from joined

)

select * from final
