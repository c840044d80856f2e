{#
    A model's custom schema is its schema, as is (staging, intermediate, marts, finance): no
    target-name prefix, so BI and finance read fixed schema names in every environment. A model
    without one lands in the target's schema.
#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
