{{ config(post_hook="{{ assert_fx_rates_found('currency', 'closed_date') }}") }}
-- Won deals closed up to as_of_month, with the amount converted to the base currency at
-- closed_at (in reporting_tz): the deal amounts a metric uses (won deals per active client,
-- cross-sell amount). Open and lost deals need no rate. A deal without a rate fails the build
-- (post-hook).
with

deals as (

    select * from {{ ref('int_deals_live') }}

),

fx_rates as (

    select * from {{ ref('int_fx_rates_daily') }}

),

won_deals as (

    select
        deal_id,
        client_id,
        manager_id,
        kind,
        product_line,
        closed_at,
        {{ reporting_date('closed_at') }} as closed_date,
        {{ reporting_month('closed_at') }} as closed_month,
        currency,
        amount

    from deals

    where
        stage = 'won'
        -- a won deal without closed_at belongs to no month
        and closed_at is not null

),

won_deals_in_window as (

    select * from won_deals

    where closed_month <= {{ as_of_month() }}

),

converted as (

    select
        won_deals_in_window.*,
        {{ fx_rate_date('won_deals_in_window.currency', 'fx_rates') }} as fx_rate_date,
        {{ fx_rate_to_base('won_deals_in_window.currency', 'fx_rates') }} as rate_to_base

    from won_deals_in_window

    left join fx_rates
        on
            won_deals_in_window.currency = fx_rates.currency
            and won_deals_in_window.closed_date = fx_rates.rate_day

),

final as (

    select
        deal_id,
        client_id,
        manager_id,
        kind,
        product_line,
        closed_at,
        closed_date,
        closed_month,
        currency,
        amount,
        fx_rate_date,
        rate_to_base,
        amount * rate_to_base as amount_base

    from converted

)

select * from final
