{#
    Conversion to the base currency. An amount in currency X on date d converts with the latest
    fx_rates row of X with rate_date <= d (int_fx_rates_daily holds it for every day); the base
    currency converts at 1.
#}

{# The rate to base of `currency`, given the joined int_fx_rates_daily row `fx`. #}
{% macro fx_rate_to_base(currency, fx) -%}
    case
        when {{ currency }} = {{ dbt.string_literal(var('base_currency')) }} then cast(1 as numeric)
        else {{ fx }}.rate_to_base
    end
{%- endmacro %}

{# The date of the fx_rates row used (null for the base currency, which needs none). #}
{% macro fx_rate_date(currency, fx) -%}
    case
        when {{ currency }} = {{ dbt.string_literal(var('base_currency')) }} then cast(null as date)
        else {{ fx }}.rate_date
    end
{%- endmacro %}


{#
    A post-hook: fail the model when an amount it converts has no rate, naming each currency
    and date (up to 20), so the build stops before any mart sums a null.

        config(post_hook="{{ assert_fx_rates_found('currency', 'fx_date') }}")
#}
{% macro assert_fx_rates_found(currency_column, date_column, rate_column='rate_to_base') -%}
    {%- if execute -%}
        {%- set query -%}
            select
                {{ currency_column }} as currency,
                cast({{ date_column }} as {{ dbt.type_string() }}) as on_date,
                count(*) as amounts
            from {{ this }}
            where
                {{ rate_column }} is null
                {%- if incremental_by_client() %}
                {#- the other clients' rows were checked when they were written #}
                and {{ is_changed_client(part=rebuilt_part()) }}
                {%- endif %}
            group by 1, 2
            order by 1, 2
            limit 21
        {%- endset -%}
        {%- set rows = run_query(query).rows -%}
        {%- if rows | length > 0 -%}
            {%- set missing = [] -%}
            {%- for row in rows[:20] -%}
                {%- do missing.append(row[0] ~ ' on ' ~ row[1] ~ ' (' ~ row[2] ~ ' rows)') -%}
            {%- endfor -%}
            {{ exceptions.raise_compiler_error(
                "missing fx rate in " ~ this.identifier ~ ": no fx_rates row with rate_date <= the date for "
                ~ (missing | join('; ')) ~ (' and more' if rows | length > 20 else '')
                ~ ". Load the rates (raw_billing.fx_rates) and rebuild."
            ) }}
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}
