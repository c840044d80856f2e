{#
    The response-time SLA of a request priority, in hours, from the var `sla_hours`
    (metrics.md: high 4, normal 24). A priority the var does not name has no SLA (null).
#}
{% macro manager_sla_hours(priority) -%}
    case {{ priority }}
    {%- for name, hours in var('sla_hours').items() %}
        when {{ dbt.string_literal(name) }} then cast({{ hours }} as numeric)
    {%- endfor %}
    end
{%- endmacro %}
