{#
    A FROM-clause item of one row per `datepart` from start to end (both inclusive), column
    `series_value` (a date). The bounds may reference columns of a FROM item before it:

        from bounds
        cross join {{ date_series('bounds.first_month', 'bounds.last_month', 'month') }}

    dbt's own date_spine needs its bounds at compile time (it runs a query), which neither data
    bounds nor unit tests allow; PostgreSQL's generate_series does it in the query.
#}
{% macro date_series(start_date, end_date, datepart) -%}
    {{ return(adapter.dispatch('date_series')(start_date, end_date, datepart)) }}
{%- endmacro %}

{% macro default__date_series(start_date, end_date, datepart) -%}
    {{ exceptions.raise_compiler_error("date_series is not implemented for adapter " ~ adapter.type()) }}
{%- endmacro %}

{% macro postgres__date_series(start_date, end_date, datepart) -%}
    lateral (
        select cast(series_timestamp as date) as series_value
        from generate_series(
            cast({{ start_date }} as timestamp),
            cast({{ end_date }} as timestamp),
            interval '1 {{ datepart }}'
        ) as series (series_timestamp)
    ) as {{ datepart }}_series
{%- endmacro %}
