{#
    The last month of the reporting window, from the var `as_of_month` (YYYY-MM-01).

    It has no default: the caller computes it once per run (warehouse.dbt.default_as_of_month)
    and passes it with --vars. A model that needs it fails with this message when it is
    missing; at parse time (execute is false) nothing is checked, so `dbt parse` works without it.
#}
{% macro as_of_month_value() -%}
    {%- set value = var('as_of_month', none) -%}
    {%- if value is none or (value | string | trim) == '' -%}
        {%- if execute -%}
            {{ exceptions.raise_compiler_error(
                "var 'as_of_month' is not set. Pass it as --vars '{as_of_month: YYYY-MM-01}' "
                ~ "(warehouse.dbt.run_dbt does: the month before the run's logical date, "
                ~ "or WAREHOUSE_AS_OF_MONTH). No model reads the clock."
            ) }}
        {%- endif -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set text = value | string | trim -%}
    {%- set parsed = none -%}
    {%- if modules.re.match('^[0-9]{4}-[0-9]{2}-01$', text) -%}
        {%- set parsed = modules.datetime.datetime.strptime(text, '%Y-%m-%d') -%}
    {%- endif -%}
    {%- if parsed is none -%}
        {{ exceptions.raise_compiler_error(
            "var 'as_of_month' must be the first day of a month as YYYY-MM-01, got '" ~ text ~ "'"
        ) }}
    {%- endif -%}
    {{ return(parsed.strftime('%Y-%m-%d')) }}
{%- endmacro %}


{# `as_of_month` as a SQL date literal. #}
{% macro as_of_month() -%}
    {%- set value = as_of_month_value() -%}
    {%- if value is none -%}
        cast(null as date)
    {%- else -%}
        cast({{ dbt.string_literal(value) }} as date)
    {%- endif -%}
{%- endmacro %}


{#
    The first instant after the reporting window: midnight of the month after `as_of_month`, in
    reporting_tz.
#}
{% macro window_end_at() -%}
    {{ reporting_instant(dbt.dateadd('month', 1, as_of_month())) }}
{%- endmacro %}
