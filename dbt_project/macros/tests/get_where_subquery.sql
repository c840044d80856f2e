{#
    The relation a generic data test reads. A `dbt build` whose plan rewrites only the changed
    clients (int_build_watermark) tests only what that run could have changed; the other rows are
    those an earlier build wrote and tested:
      - a model rebuilt by client (config meta `rebuilt_by_client`): the changed clients' rows
        (`revenue`: those a revenue source touched, the only ones it rewrote).
        Grain tests stay exact, as each of those models' keys starts with client_id (a line's
        invoice belongs to one client);
        A row-wise test of a model that stamps the rows a build writes (config meta `written_at`:
        client_month's `_source_loaded_at`) reads the rows stamped with this build's safe point
        instead: the changed clients' rows and the rows whose ABC class moved, found by an index
        on the stamp (a filter on ~7 % of the clients scans the whole table, test after test);
        a grain test still reads the changed clients' rows, as a duplicate may pair a new row
        with an old one (and a gap test needs each client's whole history);
      - a model rebuilt by month (config meta `rebuilt_by_month`): the rows of the months it
        ranked again (int_changed_months); its keys include the month;
      - a staging view (config meta `tested_by_load`): the rows loaded at or after the previous
        build's safe point. Staging is 1:1 with raw, whose primary keys already make every key
        unique, so row-wise tests on new rows are exact.
    `dbt test` and full builds test every row; a test's own `where` config still applies.
#}
{% macro default__get_where_subquery(relation) -%}
    {%- set conditions = [] -%}
    {%- set where = config.get('where', '') -%}
    {%- if where -%}
        {%- do conditions.append('(' ~ where ~ ')') -%}
    {%- endif -%}
    {%- set scope = test_scope(relation) -%}
    {%- if scope and flags.WHICH == 'build' and run_is_by_client() -%}
        {%- set written_at = model_meta(relation).get('written_at') -%}
        {%- if scope == 'client' and written_at and not is_grain_test() -%}
            {%- do conditions.append(written_at ~ ' = ' ~ build_plan_literal('loaded_before')) -%}
        {%- elif scope in ('client', 'revenue') -%}
            {%- do conditions.append(is_changed_client(part='revenue' if scope == 'revenue' else 'all')) -%}
        {%- elif scope == 'month' -%}
            {%- do conditions.append(is_changed_month()) -%}
        {%- else -%}
            {%- set build = model_relation('int_build_watermark') -%}
            {%- do conditions.append('loaded_at >= (select build.changes_loaded_from from ' ~ build ~ ' as build)') -%}
        {%- endif -%}
    {%- endif -%}
    {%- if conditions -%}
        {%- do return('(select * from ' ~ relation ~ ' where ' ~ conditions | join(' and ') ~ ') dbt_subquery') -%}
    {%- endif -%}
    {%- do return(relation) -%}
{%- endmacro %}


{#
    Whether the test being compiled checks a grain (unique, unique_combination_of_columns,
    every_month_to_as_of_month) rather than each row: it needs whole partitions.
#}
{% macro is_grain_test() -%}
    {%- set test = model.get('test_metadata') or {} if model is mapping else {} -%}
    {{ return(test.get('name') in ('unique', 'unique_combination_of_columns', 'every_month_to_as_of_month')) }}
{%- endmacro %}


{#
    The config meta of the model behind `relation` ({} when it is none of this project's models).
    Found by name first: this runs for every test a build compiles, and the graph has every node.
#}
{% macro model_meta(relation) -%}
    {%- if execute and relation is not string -%}
        {%- set named = graph.nodes.get('model.account_management.' ~ relation.identifier) -%}
        {%- if named and named.alias == relation.identifier and named.schema == relation.schema -%}
            {{ return(named.config.meta) }}
        {%- endif -%}
        {%- for node in graph.nodes.values() -%}
            {%- if node.resource_type == 'model' and node.alias == relation.identifier and node.schema == relation.schema -%}
                {{ return(node.config.meta) }}
            {%- endif -%}
        {%- endfor -%}
    {%- endif -%}
    {{ return({}) }}
{%- endmacro %}


{#
    'client', 'revenue', 'month', 'load' or none: how a build by client scopes the tests of the
    model behind `relation` (meta `rebuilt_by_client: revenue` marks the models that rebuild only
    the clients a revenue source touched, `rebuilt_by_month` those that rebuild changed months).
#}
{% macro test_scope(relation) -%}
    {%- set meta = model_meta(relation) -%}
    {%- set rebuilt = meta.get('rebuilt_by_client', false) -%}
    {%- if rebuilt == 'revenue' -%}
        {{ return('revenue') }}
    {%- elif rebuilt -%}
        {{ return('client') }}
    {%- elif meta.get('rebuilt_by_month', false) -%}
        {{ return('month') }}
    {%- elif meta.get('tested_by_load', false) -%}
        {{ return('load') }}
    {%- endif -%}
    {{ return(none) }}
{%- endmacro %}


{# The relation of one of this project's models if it exists in the warehouse, else none (looked up without a ref: no dependency added). #}
{% macro existing_model_relation(name) -%}
    {%- if not execute -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set relation = model_relation(name) -%}
    {{ return(adapter.get_relation(database=relation.database, schema=relation.schema, identifier=relation.identifier)) }}
{%- endmacro %}


{# The relation of one of this project's models, looked up without a ref (no dependency added). #}
{% macro model_relation(name) -%}
    {%- set node = graph.nodes['model.account_management.' ~ name] -%}
    {{ return(api.Relation.create(database=node.database, schema=node.schema, identifier=node.alias)) }}
{%- endmacro %}
