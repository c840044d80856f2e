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


{#
    A post-hook of every intermediate and mart table: gather the planner's statistics right after
    the build writes the table, as the next models and tests of the same build read it. Without
    them PostgreSQL plans a fresh table blind (a no-change build joined ~10M invoice lines to the
    rebuilt invoices, 3.7 s, where the right plan reads nothing). Views and other adapters get no
    statement.
#}
{% macro analyze_relation(relation) -%}
    {{ return(adapter.dispatch('analyze_relation')(relation)) }}
{%- endmacro %}

{% macro default__analyze_relation(relation) -%}
{%- endmacro %}

{% macro postgres__analyze_relation(relation) -%}
    {#- a build by client rewrites a few per cent of an incremental table: its statistics stand -#}
    {%- if config.get('materialized') == 'table'
        or (config.get('materialized') == 'incremental' and not incremental_by_client()) -%}
        analyze {{ relation }}
    {%- endif -%}
{%- endmacro %}
