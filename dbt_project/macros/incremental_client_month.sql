{#
    The incremental build of client_month (docs/decisions.md "dbt — Incremental builds").

    An incremental run rewrites (delete+insert on client_id, month):
      - every month of each client that a source row loaded since the watermark touches
        (`incremental_changed_clients`): status, lifetime and T12 depend on the client's whole
        history, so none of its months is kept;
      - every client of the months whose ABC ranking moved: ABC ranks all active clients of a
        month, so a changed T12 or activity of one client can move the class of any other.
    The watermark is the newest raw `_loaded_at` a build saw, kept in each row it wrote
    (`_source_loaded_at`); rows loaded within `look_back_days` before it are read again, for a
    load that committed late.
    A run falls back to rebuilding every row when the table's parameters fingerprint (as_of_month,
    the vars the client path reads, the SQL of every model upstream) is not this run's, when it
    has no watermark, or when the raw tables are older than the watermark (reloaded or restored).
#}


{# The vars that change what client_month holds (look_back_days only changes what is re-read). #}
{% macro incremental_client_month_vars() -%}
    {{ return([
        'as_of_month', 'reporting_tz', 'base_currency', 'activity_window_months',
        'abc_thresholds', 'wallet_bands', 'request_cost', 'hourly_rate', 'sla_hours',
        'health_weights', 'health_bands', 'health_scoring', 'service_window_days',
    ]) }}
{%- endmacro %}


{#
    md5 of the vars above and of the checksums of every model upstream of the current one: a row
    built under another fingerprint may differ from a fresh build, so it forces a full rebuild.
    A changed macro does not change a model's checksum: run --full-refresh after one.
#}
{% macro incremental_parameters_fingerprint() -%}
    {%- set parts = [] -%}
    {%- for name in incremental_client_month_vars() -%}
        {%- do parts.append(name ~ '=' ~ tojson(var(name, none))) -%}
    {%- endfor -%}
    {%- if execute and model is defined and graph is defined -%}
        {%- set pending = [model.unique_id] -%}
        {%- set seen = [] -%}
        {#- a list grows while it is iterated: a breadth-first walk of depends_on -#}
        {%- for unique_id in pending -%}
            {%- if unique_id not in seen and unique_id in graph.nodes -%}
                {%- do seen.append(unique_id) -%}
                {%- set node = graph.nodes[unique_id] -%}
                {%- if unique_id != model.unique_id -%}
                    {%- do parts.append(unique_id ~ '=' ~ node.checksum.checksum) -%}
                {%- endif -%}
                {%- for parent in node.depends_on.nodes -%}
                    {%- do pending.append(parent) -%}
                {%- endfor -%}
            {%- endif -%}
        {%- endfor -%}
        {%- do parts.append(model.unique_id ~ '=' ~ model.checksum.checksum) -%}
    {%- endif -%}
    {{ return(local_md5(parts | sort | join('\n'))) }}
{%- endmacro %}


{#
    The newest `_loaded_at` of the raw tables the client path reads (through their staging
    views, which keep every row, deleted ones included), as a scalar subquery.
#}
{% macro incremental_client_month_sources() -%}
    {{ return([
        'stg_crm__clients', 'stg_crm__owner_changes', 'stg_crm__contacts', 'stg_crm__activities',
        'stg_crm__requests', 'stg_crm__surveys', 'stg_crm__managers', 'stg_billing__invoices',
        'stg_billing__invoice_lines', 'stg_billing__credit_notes', 'stg_billing__fx_rates',
    ]) }}
{%- endmacro %}


{% macro incremental_source_watermark() -%}
    {#- a unit test has no `this` and mocks only the model's own inputs: no watermark there -#}
    {%- if this is none -%}
        {{ return('cast(null as timestamp with time zone)') }}
    {%- endif %}
    {%- set selects = [] -%}
    {%- for name in incremental_client_month_sources() -%}
        {%- do selects.append('select max(loaded_at) as loaded_at from ' ~ ref(name)) -%}
    {%- endfor %}
    (
        select max(source_watermarks.loaded_at)
        from (
            {{ selects | join('\n            union all\n            ') }}
        ) as source_watermarks
    )
{%- endmacro %}


{#
    Whether this incremental run may rewrite only the changed clients: a dict with `full` (bool)
    and `reason`. Read at execution from the existing table; logged.
#}
{% macro incremental_client_month_plan(fingerprint) -%}
    {#- a unit test has no `this`: it renders the full build -#}
    {%- if not execute or this is none or not is_incremental() -%}
        {{ return({'full': true, 'reason': 'not an incremental run'}) }}
    {%- endif -%}
    {%- set query -%}
        select
            count(distinct _build_parameters) as fingerprints,
            max(_build_parameters) as fingerprint,
            max(_source_loaded_at) as watermark,
            {{ incremental_source_watermark() }} as source_watermark
        from {{ this }}
    {%- endset -%}
    {%- set rows = run_query(query).rows -%}
    {#- an aggregate always answers one row; only sqlfluff's mock answers none: lint the incremental SQL -#}
    {%- if rows | length == 0 -%}
        {{ return({'full': false, 'reason': 'no introspection'}) }}
    {%- endif -%}
    {%- set row = rows[0] -%}
    {%- if row['fingerprints'] == 0 -%}
        {%- set plan = {'full': true, 'reason': 'the table is empty'} -%}
    {%- elif row['fingerprints'] > 1 or row['fingerprint'] != fingerprint -%}
        {%- set plan = {'full': true, 'reason': 'as_of_month, a var or a model upstream changed'} -%}
    {%- elif row['watermark'] is none -%}
        {%- set plan = {'full': true, 'reason': 'the table has no watermark'} -%}
    {%- elif row['source_watermark'] is none or row['source_watermark'] < row['watermark'] -%}
        {%- set plan = {'full': true, 'reason': 'the raw tables are older than the watermark'} -%}
    {%- else -%}
        {%- set plan = {
            'full': false,
            'reason': 'rows loaded since ' ~ row['watermark'] ~ ' - ' ~ var('look_back_days') ~ ' days',
        } -%}
    {%- endif -%}
    {%- set path = 'full rebuild' if plan.full else 'changed clients' -%}
    {{ log(model.name ~ ': ' ~ path ~ ' (' ~ plan.reason ~ ')', info=true) }}
    {{ return(plan) }}
{%- endmacro %}


{#
    Clients that a source row loaded after `since` (a SQL timestamptz expression) touches, by
    the way each row reaches a client:
      clients, owner changes, contacts, activities, requests, surveys, invoices: their client;
      invoice lines and credit notes: their invoice's client;
      managers (their role prices an activity): the clients of the manager's activities;
      fx rates (currency, rate_date): the clients of every invoice in that currency issued, or
        credited, on or after the day before rate_date (a day of margin for reporting_tz).
    Staging keeps deleted rows, so a soft deletion touches its client like any edit.
#}
{% macro incremental_changed_clients(since) -%}
    {%- set by_client = [
        'stg_crm__clients', 'stg_crm__owner_changes', 'stg_crm__contacts', 'stg_crm__activities',
        'stg_crm__requests', 'stg_crm__surveys', 'stg_billing__invoices',
    ] -%}
    {%- for name in by_client %}
        select client_id from {{ ref(name) }} where loaded_at > {{ since }}
        union
    {%- endfor %}
        select invoices.client_id
        from {{ ref('stg_billing__invoice_lines') }} as invoice_lines
        inner join {{ ref('stg_billing__invoices') }} as invoices
            on invoice_lines.invoice_id = invoices.invoice_id
        where invoice_lines.loaded_at > {{ since }}
        union
        select invoices.client_id
        from {{ ref('stg_billing__credit_notes') }} as credit_notes
        inner join {{ ref('stg_billing__invoices') }} as invoices
            on credit_notes.invoice_id = invoices.invoice_id
        where credit_notes.loaded_at > {{ since }}
        union
        select activities.client_id
        from {{ ref('stg_crm__managers') }} as managers
        inner join {{ ref('stg_crm__activities') }} as activities
            on managers.manager_id = activities.manager_id
        where managers.loaded_at > {{ since }}
        union
        select invoices.client_id
        from {{ ref('stg_billing__fx_rates') }} as fx_rates
        inner join {{ ref('stg_billing__invoices') }} as invoices
            on fx_rates.currency = invoices.currency
        left join {{ ref('stg_billing__credit_notes') }} as credit_notes
            on invoices.invoice_id = credit_notes.invoice_id
        where
            fx_rates.loaded_at > {{ since }}
            and (
                invoices.issued_at >= {{ dbt.dateadd('day', -1, 'fx_rates.rate_date') }}
                or credit_notes.issued_at >= {{ dbt.dateadd('day', -1, 'fx_rates.rate_date') }}
            )
{%- endmacro %}


{#
    Post-hook: the rows of a client month that no longer exists (a soft-deleted client, a first
    revenue month that moved later). delete+insert only replaces the keys it inserts, so the
    rows of a client month gone from `grid` (the full table of client months) are deleted here.
#}
{% macro incremental_delete_vanished_rows(grid) -%}
    delete from {{ this }} as target
    where not exists (
        select 1
        from {{ grid }} as grid
        where
            grid.client_id = target.client_id
            and grid.month = target.month
    )
{%- endmacro %}
