-- sqlfluff:indentation:template_blocks_indent:False
-- One row per client per month from its first revenue month F(c) to as_of_month: revenue,
-- margin, activity status and movement, lifetime, ABC class, share of wallet, cost to serve and
-- health (metrics.md; columns in the order of marts.md "client_month", extras after).
-- Incremental (docs/decisions.md "dbt — Incremental builds", macros/incremental.sql):
-- a run rewrites every month of the changed clients, then moves the ABC class of every other
-- row whose class moved with them (post-hook), or rewrites every row on a full plan.
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='fail',
    meta={'rebuilt_by_client': true, 'written_at': '_source_loaded_at'},
    indexes=[{'columns': ['_source_loaded_at']}],
    pre_hook="{{ delete_changed_clients() }}",
    post_hook="{{ update_moved_abc_classes(ref('int_client_month_abc')) }}",
) }}
-- depends_on: {{ ref('int_changed_clients') }}
{%- set wallet_bands = var('wallet_bands') %}
{%- set fingerprint = incremental_parameters_fingerprint() %}
with

client_months as (

    select * from {{ ref('int_client_month_revenue') }}
    {{- changed_clients_only() }}

),

abc as (

    select * from {{ ref('int_client_month_abc') }}
    {{- changed_clients_only() }}

),

cost_to_serve as (

    select * from {{ ref('int_client_month_cost_to_serve') }}
    {{- changed_clients_only() }}

),

health as (

    select * from {{ ref('int_client_month_health') }}
    {{- changed_clients_only() }}

),

clients as (

    select * from {{ ref('int_clients_live') }}
    {{- changed_clients_only() }}

),

ownership as (

    select * from {{ ref('int_client_ownership') }}
    {{- changed_clients_only() }}

),

month_spine as (

    select * from {{ ref('int_month_spine') }}

),

owners_at_month_end as (

    select
        client_months.client_id,
        client_months.month,
        ownership.manager_id as owner_id

    from client_months

    inner join month_spine
        on client_months.month = month_spine.month

    inner join ownership
        on
            client_months.client_id = ownership.client_id
            and {{ owned_just_before('ownership', 'month_spine.month_end_at') }}

),

joined as (

    select
        client_months.client_id,
        client_months.month,
        owners_at_month_end.owner_id,
        clients.segment,
        clients.is_vip,
        clients.wallet_estimate,
        client_months.net_revenue,
        client_months.cost,
        client_months.gross_margin,
        client_months.t12_revenue,
        client_months.t12_gross_margin,
        client_months.is_active,
        client_months.status,
        client_months.revenue_change,
        client_months.movement_bucket,
        client_months.lifetime_months,
        client_months.first_revenue_month,
        abc.abc_class,
        client_months.t12_revenue / nullif(clients.wallet_estimate, 0) as wallet_share,
        cost_to_serve.cost_to_serve_12m,
        health.health_score,
        health.health_revenue_trend,
        health.health_engagement,
        health.health_sentiment,
        health.health_service,
        health.health_band

    from client_months

    left join owners_at_month_end
        on
            client_months.client_id = owners_at_month_end.client_id
            and client_months.month = owners_at_month_end.month

    left join clients
        on client_months.client_id = clients.client_id

    left join abc
        on
            client_months.client_id = abc.client_id
            and client_months.month = abc.month

    left join cost_to_serve
        on
            client_months.client_id = cost_to_serve.client_id
            and client_months.month = cost_to_serve.month

    left join health
        on
            client_months.client_id = health.client_id
            and client_months.month = health.month

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
