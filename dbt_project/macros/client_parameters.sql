{#
    Client-mart parameters that are maps in dbt_project.yml vars, rendered as SQL expressions, so
    no rate, weight or threshold is a literal buried in a model.
#}

{#
    The standard hourly rate (base currency) of a manager role, from var `hourly_rate`; null for a
    role it does not name.
#}
{% macro client_hourly_rate(role_column) -%}
    {%- set rates = var('hourly_rate') -%}
    case {{ role_column }}
    {%- for role, rate in rates.items() %}
        when {{ dbt.string_literal(role) }} then cast({{ rate }} as numeric)
    {%- endfor %}
    end
{%- endmacro %}


{#
    The response SLA in hours of a request priority, from var `sla_hours`; null for a priority it
    does not name.
#}
{% macro client_sla_hours(priority_column) -%}
    {%- set hours = var('sla_hours') -%}
    case {{ priority_column }}
    {%- for priority, limit in hours.items() %}
        when {{ dbt.string_literal(priority) }} then cast({{ limit }} as numeric)
    {%- endfor %}
    end
{%- endmacro %}


{#
    A score of 100 at or beyond `full_at`, 0 at or beyond `zero_at`, linear between (either
    direction: full_at > zero_at for a ratio, full_at < zero_at for days). Unrounded.
#}
{% macro client_linear_score(value, full_at, zero_at) -%}
    {%- if full_at | float > zero_at | float -%}
    case
        when {{ value }} >= cast({{ full_at }} as numeric) then cast(100 as numeric)
        when {{ value }} <= cast({{ zero_at }} as numeric) then cast(0 as numeric)
        else ({{ value }} - cast({{ zero_at }} as numeric)) * 100
            / (cast({{ full_at }} as numeric) - cast({{ zero_at }} as numeric))
    end
    {%- else -%}
    case
        when {{ value }} <= cast({{ full_at }} as numeric) then cast(100 as numeric)
        when {{ value }} >= cast({{ zero_at }} as numeric) then cast(0 as numeric)
        else (cast({{ zero_at }} as numeric) - {{ value }}) * 100
            / (cast({{ zero_at }} as numeric) - cast({{ full_at }} as numeric))
    end
    {%- endif -%}
{%- endmacro %}


{#
    The linear score of a ratio numerator / denominator, for a denominator > 0, compared without
    dividing (numerator >= full_at * denominator), so a ratio exactly on a bound is never moved
    off it by a rounded quotient: 100 at or above full_at, 0 at or below zero_at (< full_at),
    linear between, with a single division.
#}
{% macro client_ratio_score(numerator, denominator, full_at, zero_at) -%}
    case
        when {{ numerator }} >= cast({{ full_at }} as numeric) * {{ denominator }} then cast(100 as numeric)
        when {{ numerator }} <= cast({{ zero_at }} as numeric) * {{ denominator }} then cast(0 as numeric)
        else ({{ numerator }} - cast({{ zero_at }} as numeric) * {{ denominator }}) * 100
            / ((cast({{ full_at }} as numeric) - cast({{ zero_at }} as numeric)) * {{ denominator }})
    end
{%- endmacro %}


{#
    `value` >= `threshold` for a quotient numerator / denominator, compared exactly: by
    cross-multiplying when the denominator is positive, on the quotient otherwise.
#}
{% macro client_quotient_at_least(numerator, denominator, quotient, threshold) -%}
    case
        when {{ denominator }} > 0 then {{ numerator }} >= cast({{ threshold }} as numeric) * {{ denominator }}
        else {{ quotient }} >= cast({{ threshold }} as numeric)
    end
{%- endmacro %}
