{#
    A pre-hook for a model that joins two multi-million-row relations on (client_id, month):
    PostgreSQL's planner prefers a merge join there, sorting both sides (each parallel worker
    sorting the whole inner side), ~3x slower than the hash join at 10M invoice lines. The
    setting lasts for the model's transaction only; other adapters get no statement.
#}
{% macro prefer_hash_joins() -%}
    {{ return(adapter.dispatch('prefer_hash_joins')()) }}
{%- endmacro %}

{% macro default__prefer_hash_joins() -%}
{%- endmacro %}

{% macro postgres__prefer_hash_joins() -%}
    set local enable_mergejoin = off
{%- endmacro %}
