{#
    An id as text that compares and orders in byte order (COLLATE "C"), wherever ties are broken
    by id. Applied once, in staging; every later model inherits the column's collation.
#}
{% macro text_id(column) -%}
    {{ return(adapter.dispatch('text_id')(column)) }}
{%- endmacro %}

{% macro default__text_id(column) -%}
    cast({{ column }} as {{ dbt.type_string() }})
{%- endmacro %}

{% macro postgres__text_id(column) -%}
    cast({{ column }} as text) collate "C"
{%- endmacro %}
