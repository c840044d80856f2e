-- The rate of every day, per currency: the latest fx_rates row with rate_date <= the day (so a
-- weekend or holiday takes the last business day's rate), from the currency's first rate to the
-- last day of as_of_month. Equi-join it on (currency, the amount's date in reporting_tz); a
-- date before a currency's first rate has no row, and the models that convert fail on it.
-- The base currency has no rows: it converts at 1 (macro fx_rate_to_base).
with

rates as (

    select
        currency,
        rate_date,
        rate_to_base

    from {{ ref('stg_billing__fx_rates') }}

    where currency <> {{ dbt.string_literal(var('base_currency')) }}

),

bounds as (

    select
        currency,
        min(rate_date) as first_rate_date,
        cast({{ dbt.last_day(as_of_month(), 'month') }} as date) as last_day

    from rates

    group by currency

),

days as (

    select
        bounds.currency,
        day_series.series_value as rate_day

    from bounds

    cross join {{ date_series('bounds.first_rate_date', 'bounds.last_day', 'day') }}

),

days_with_rate_date as (

    select
        days.currency,
        days.rate_day,
        -- the running max over days skips the days without a row: the latest rate_date so far
        max(rates.rate_date) over (
            partition by days.currency
            order by days.rate_day
            rows between unbounded preceding and current row
        ) as rate_date

    from days

    left join rates
        on
            days.currency = rates.currency
            and days.rate_day = rates.rate_date

),

final as (

    select
        days_with_rate_date.currency,
        days_with_rate_date.rate_day,
        days_with_rate_date.rate_date,
        rates.rate_to_base

    from days_with_rate_date

    inner join rates
        on
            days_with_rate_date.currency = rates.currency
            and days_with_rate_date.rate_date = rates.rate_date

)

select * from final
