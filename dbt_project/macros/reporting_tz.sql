{#
    The one place where `reporting_tz` is applied: every date or month of an instant is taken
    through these macros, never with a bare cast (which would use the session's time zone).
    PostgreSQL-specific (`at time zone`); other adapters get a clear error until implemented.
#}

{# The wall-clock timestamp (without time zone) of an instant in reporting_tz. #}
{% macro to_reporting_tz(instant) -%}
    {{ return(adapter.dispatch('to_reporting_tz')(instant)) }}
{%- endmacro %}

{% macro default__to_reporting_tz(instant) -%}
    {{ exceptions.raise_compiler_error("to_reporting_tz is not implemented for adapter " ~ adapter.type()) }}
{%- endmacro %}

{% macro postgres__to_reporting_tz(instant) -%}
    ({{ instant }} at time zone {{ dbt.string_literal(var('reporting_tz')) }})
{%- endmacro %}


{# The instant of a wall-clock timestamp or date (midnight) in reporting_tz. #}
{% macro reporting_instant(local_timestamp) -%}
    {{ return(adapter.dispatch('reporting_instant')(local_timestamp)) }}
{%- endmacro %}

{% macro default__reporting_instant(local_timestamp) -%}
    {{ exceptions.raise_compiler_error(
        "reporting_instant is not implemented for adapter " ~ adapter.type()
    ) }}
{%- endmacro %}

{% macro postgres__reporting_instant(local_timestamp) -%}
    (cast({{ local_timestamp }} as timestamp) at time zone {{ dbt.string_literal(var('reporting_tz')) }})
{%- endmacro %}


{# The date of an instant in reporting_tz. #}
{% macro reporting_date(instant) -%}
    cast({{ to_reporting_tz(instant) }} as date)
{%- endmacro %}


{# The month (first day, a date) of an instant in reporting_tz. #}
{% macro reporting_month(instant) -%}
    cast({{ dbt.date_trunc('month', to_reporting_tz(instant)) }} as date)
{%- endmacro %}
