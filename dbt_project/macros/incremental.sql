{#
    Incremental builds of the client path (docs/decisions.md "dbt — Incremental builds").

    One plan per run, made by `int_build_watermark` before anything reads a source: a full build,
    or a build of the clients that rows loaded since the previous build touch
    (`int_changed_clients`). Every client-path model (pre-hook `delete_changed_clients`) deletes
    the rows of those clients and inserts them again, recomputed over the client's whole history
    (status, lifetime and T12 depend on it); `client_month` also rewrites the rows of other clients
    whose ABC class moved (ABC ranks every active client of a month).
    The watermark is a *safe point*: an instant before which every raw row is committed and
    visible (the start of the oldest transaction open in the database, or now), so the next run
    reads the rows loaded at or after it and never misses a load that committed late.
    A run is full when `client_month` is new or empty, when its parameters fingerprint
    (as_of_month, the vars the client path reads, the SQL of every model upstream) is not this
    run's, or when it has no watermark.
#}


{# The vars that change what client_month holds. #}
{% macro incremental_client_month_vars() -%}
    {{ return([
        'as_of_month', 'reporting_tz', 'base_currency', 'activity_window_months',
        'abc_thresholds', 'wallet_bands', 'request_cost', 'hourly_rate', 'sla_hours',
        'health_weights', 'health_bands', 'health_scoring', 'service_window_days',
        'stakeholder_window_days',
    ]) }}
{%- endmacro %}


{#
    md5 of the vars above and of the checksums of client_month, of every other model rebuilt by
    client (config meta `rebuilt_by_client`: int_manager_portfolio_month is not upstream of
    client_month) and of every model upstream of them: a row built under another fingerprint may
    differ from a fresh build, so it forces a full rebuild. A changed macro does not change a
    model's checksum: run --full-refresh after one.
#}
{% macro incremental_parameters_fingerprint(target_id='model.account_management.client_month') -%}
    {%- set parts = [] -%}
    {%- for name in incremental_client_month_vars() -%}
        {%- do parts.append(name ~ '=' ~ tojson(var(name, none))) -%}
    {%- endfor -%}
    {%- if execute and graph is defined and target_id in graph.nodes -%}
        {%- set pending = [target_id] -%}
        {%- for unique_id, node in graph.nodes.items() -%}
            {%- if node.resource_type == 'model' and node.config.meta.get('rebuilt_by_client') -%}
                {%- do pending.append(unique_id) -%}
            {%- endif -%}
        {%- endfor -%}
        {%- set seen = [] -%}
        {#- a list grows while it is iterated: a breadth-first walk of depends_on -#}
        {%- for unique_id in pending -%}
            {%- if unique_id not in seen and unique_id in graph.nodes -%}
                {%- do seen.append(unique_id) -%}
                {%- set node = graph.nodes[unique_id] -%}
                {%- if unique_id != target_id -%}
                    {%- do parts.append(unique_id ~ '=' ~ node.checksum.checksum) -%}
                {%- endif -%}
                {%- for parent in node.depends_on.nodes -%}
                    {%- do pending.append(parent) -%}
                {%- endfor -%}
            {%- endif -%}
        {%- endfor -%}
        {%- do parts.append(target_id ~ '=' ~ graph.nodes[target_id].checksum.checksum) -%}
    {%- endif -%}
    {{ return(local_md5(parts | sort | join('\n'))) }}
{%- endmacro %}


{#
    Clients that a source row loaded at or after `since` (a SQL timestamptz expression) touches, by
    the way each row reaches a client:
      clients: an edit of what the marts read of a client, compared with the last build's
        int_clients_live (rebuilt after the plan): it came or went (created, deleted, restored),
        its segment, VIP flag, wallet estimate or created_at, or its owner_id when it has no
        owner changes (then owner_id owns it); a client deleted then and now touches nothing;
      owner changes: their client, unless the row is new, effective at or after the end of the
        window and not the client's first (so the ownership of every instant the marts read
        stays; a first change also sets the owner before it): a reassignment entered today;
      activities, requests, surveys: their client;
      an activity, request, survey or owner change moved to another client: also the client the
        last build's live table (rebuilt after the plan) holds it under;
      a client deleted or restored (its contacts go or come back with it): the clients of the
        activities that name its contacts, whichever client the activity is of;
      contacts (their buying role is read through an activity's contact): the clients of the
        activities that name them, when the contact's role or client changed, or it came or went,
        against the last build's int_contacts_live (rebuilt after the plan); a new phone or the
        is_active flag touches nothing, nor does a contact no activity names;
      invoices: their client, unless the edit changes nothing the client path reads: the
        invoice is in scope and the last build credited it (int_invoices_credited, rebuilt after
        the plan: every in-scope invoice, with lines or not, of any month) to the same client,
        instant and currency (an invoice paid, most edits of a day); and the client the last
        build credited it to, if that is another;
      invoice lines and credit notes: their invoice's client, and the client the last build
        credited them to (int_invoice_lines_credited, int_credit_notes_credited, rebuilt after the
        plan): one moved to an invoice of another client leaves that client (the lines are
        looked up only when a line was edited, not just added);
      managers (their role prices an activity): the clients of the manager's activities;
      fx rates (currency, rate_date): the clients of every invoice in that currency issued, or
        credited, on a day (in reporting_tz) that rate converts, from rate_date to the day before
        the currency's next rate, within the window (a rate of a later day converts nothing the
        marts hold). Days are joined by equality, so a change of every rate stays a hash join.
    A *new* row (first loaded at or after `since`: no earlier build saw it) whose date lies after
    the reporting window touches nothing the marts hold: an activity, request, survey, invoice,
    invoice line (by its invoice's date) or credit note of a later day. An edited row always
    counts, as its earlier version is not in raw any more. Staging keeps deleted rows, so a soft
    deletion touches its client like any edit.
    Each row is (client_id, reaches_revenue): true for the rows that can change what the revenue
    models hold (clients, owner changes, invoices, their lines, credit notes, fx rates); false for
    activities, requests, surveys, contacts and managers, which reach only cost to serve, health,
    the portfolio flags and client_month. A client may appear many times.
#}
{% macro incremental_changed_clients(since) -%}
    {%- set window_last_day = 'cast(' ~ dbt.last_day(as_of_month(), 'month') ~ ' as date)' -%}
    {%- set dated_by_client = {
        'stg_crm__activities': 'occurred_at',
        'stg_crm__requests': 'created_at',
        'stg_crm__surveys': 'responded_at',
    } -%}
    {#- rows that reach a client through their invoice, dated by the invoice or by themselves -#}
    {%- set dated_through_invoice = {
        'stg_billing__invoice_lines': 'invoices.issued_at',
        'stg_billing__credit_notes': 'documents.issued_at',
    } -%}
    {#- rows whose client can change, and the table (built after the plan) that holds the client
        the previous build read them under -#}
    {%- set moved_between_clients = {
        'stg_crm__activities': {'model': 'int_activities_live', 'key': 'activity_id', 'reaches_revenue': 'false'},
        'stg_crm__requests': {'model': 'int_requests_live', 'key': 'request_id', 'reaches_revenue': 'false'},
        'stg_crm__surveys': {'model': 'int_surveys_live', 'key': 'survey_id', 'reaches_revenue': 'false'},
        'stg_crm__owner_changes': {
            'model': 'int_owner_changes_live', 'key': 'owner_change_id', 'reaches_revenue': 'true'
        },
    } -%}
    {%- set built_invoices = existing_model_relation('int_invoices_credited') -%}
    {%- set built_clients = existing_model_relation('int_clients_live') -%}
    {%- set built_contacts = existing_model_relation('int_contacts_live') -%}
    {%- set built_credit_notes = existing_model_relation('int_credit_notes_credited') -%}
    {%- set built_lines = existing_model_relation('int_invoice_lines_credited') -%}
    {%- if built_clients is none %}
        select client_id, true as reaches_revenue from {{ ref('stg_crm__clients') }} where loaded_at >= {{ since }}
    {%- else %}
        {#- each edited client beside the attributes the last build read (int_clients_live): only
            a change of one the marts read touches it #}
        select
            clients.client_id,
            (
                built.client_id is null
                or clients.is_deleted
                or (changes.client_id is null and clients.owner_id is distinct from built.owner_id)
            ) as reaches_revenue
        from {{ ref('stg_crm__clients') }} as clients
        left join {{ built_clients }} as built
            on clients.client_id = built.client_id
        left join (
            select distinct owner_changes.client_id from {{ ref('stg_crm__owner_changes') }} as owner_changes
        ) as changes
            on clients.client_id = changes.client_id
        where
            clients.loaded_at >= {{ since }}
            -- deleted then and now: the marts held nothing of it (a client first delivered
            -- deleted may have been billed before the CRM knew it: it counts)
            and not (
                built.client_id is null
                and clients.is_deleted
                and coalesce(clients.first_loaded_at < {{ since }}, false)
            )
            and not coalesce(
                not clients.is_deleted
                and clients.segment is not distinct from built.segment
                and clients.is_vip is not distinct from built.is_vip
                and clients.wallet_estimate is not distinct from built.wallet_estimate
                and clients.created_at is not distinct from built.created_at
                -- owner_id counts only for a client without owner changes
                and (changes.client_id is not null or clients.owner_id is not distinct from built.owner_id),
                false
            )
    {%- endif %}
        union all
        {#- an owner change counts unless it is new, effective after the window and not the
            client's first (the first also sets the owner before it) #}
        select owner_changes.client_id, true as reaches_revenue
        from {{ ref('stg_crm__owner_changes') }} as owner_changes
        left join (
            select
                earliest.client_id,
                min(earliest.changed_at) as first_changed_at
            from {{ ref('stg_crm__owner_changes') }} as earliest
            group by earliest.client_id
        ) as firsts
            on owner_changes.client_id = firsts.client_id
        where
            owner_changes.loaded_at >= {{ since }}
            and not (
                {{ incremental_new_after_window('owner_changes.first_loaded_at', since, 'owner_changes.changed_at') }}
                and coalesce(firsts.first_changed_at < owner_changes.changed_at, false)
            )
        union all
    {%- for name, date_column in dated_by_client.items() %}
        select client_id, false as reaches_revenue from {{ ref(name) }}
        where
            loaded_at >= {{ since }}
            and not {{ incremental_new_after_window('first_loaded_at', since, date_column) }}
        union all
    {%- endfor %}
        {%- if built_invoices is none %}
        select invoices.client_id, true as reaches_revenue
        from {{ ref('stg_billing__invoices') }} as invoices
        where
            invoices.loaded_at >= {{ since }}
            and not {{ incremental_new_after_window('invoices.first_loaded_at', since, 'invoices.issued_at') }}
        {%- else %}
        {#- each edited invoice beside the row the last build credited for it: its client, unless
            the edit is one the client path cannot see (in scope before and after, same client,
            instant and currency: an invoice paid, say); and the client it was credited to, when
            the invoice moved to another #}
        select
            case when sides.side = 1 then edits.client_id else edits.credited_client_id end,
            true as reaches_revenue
        from (
            select
                invoices.client_id,
                built.client_id as credited_client_id,
                coalesce(
                    {{ invoice_in_scope('invoices.status') }}
                    and built.client_id = invoices.client_id
                    and built.issued_at = invoices.issued_at
                    and built.currency = invoices.currency,
                    false
                ) as is_unseen_by_client_path
            from {{ ref('stg_billing__invoices') }} as invoices
            left join {{ built_invoices }} as built
                on invoices.invoice_id = built.invoice_id
            where
                invoices.loaded_at >= {{ since }}
                and not {{ incremental_new_after_window('invoices.first_loaded_at', since, 'invoices.issued_at') }}
        ) as edits
        cross join (select 1 as side union all select 2 as side) as sides
        where
            (sides.side = 1 and not edits.is_unseen_by_client_path)
            or (sides.side = 2 and edits.credited_client_id <> edits.client_id)
        {%- endif %}
        union all
    {%- for name, date_column in dated_through_invoice.items() %}
        select invoices.client_id, true as reaches_revenue
        from {{ ref(name) }} as documents
        inner join {{ ref('stg_billing__invoices') }} as invoices
            on documents.invoice_id = invoices.invoice_id
        where
            documents.loaded_at >= {{ since }}
            and not {{ incremental_new_after_window('documents.first_loaded_at', since, date_column) }}
        union all
    {%- endfor %}
        select activities.client_id, false as reaches_revenue
        from {{ ref('stg_crm__contacts') }} as contacts
        inner join {{ ref('stg_crm__activities') }} as activities
            on contacts.contact_id = activities.contact_id
        {%- if built_contacts is not none %}
        left join {{ built_contacts }} as built
            on contacts.contact_id = built.contact_id
        {%- endif %}
        where
            contacts.loaded_at >= {{ since }}
        {%- if built_contacts is not none %}
            -- deleted then and now: no activity had its role
            and not (built.contact_id is null and contacts.is_deleted)
            and (
                built.contact_id is null
                or contacts.is_deleted
                or contacts.buying_role is distinct from built.buying_role
                or contacts.client_id is distinct from built.client_id
            )
        {%- endif %}
        union all
    {#- a client deleted or restored takes its contacts with it or brings them back: the clients
        of the activities that name them (of any client) lose or regain the contact's role #}
        select activities.client_id, false as reaches_revenue
        from {{ ref('stg_crm__clients') }} as clients
        {%- if built_clients is not none %}
        left join {{ built_clients }} as built
            on clients.client_id = built.client_id
        {%- endif %}
        inner join {{ ref('stg_crm__contacts') }} as contacts
            on clients.client_id = contacts.client_id
        inner join {{ ref('stg_crm__activities') }} as activities
            on contacts.contact_id = activities.contact_id
        where
            clients.loaded_at >= {{ since }}
        {%- if built_clients is not none %}
            -- live in the last build (int_clients_live) and now, or deleted then and now: the
            -- contacts stay as they were
            and (built.client_id is null) = (not clients.is_deleted)
        {%- endif %}
        union all
    {#- a credit note or an invoice line moved to another invoice: also the client the last build
        credited it to (its invoice's client now counts above) #}
    {%- if built_credit_notes is not none %}
        select built.client_id, true as reaches_revenue
        from {{ ref('stg_billing__credit_notes') }} as edited
        inner join {{ built_credit_notes }} as built
            on edited.credit_note_id = built.credit_note_id
        where edited.loaded_at >= {{ since }}
        union all
    {%- endif %}
    {%- if built_lines is not none and incremental_lines_edited(since) %}
        {#- only when a line loaded since was loaded before too (billing writes new lines, it
            rarely edits one): finding its previous client reads the ~10M credited lines #}
        select built.client_id, true as reaches_revenue
        from {{ ref('stg_billing__invoice_lines') }} as edited
        inner join {{ built_lines }} as built
            on edited.invoice_line_id = built.invoice_line_id
        where
            edited.loaded_at >= {{ since }}
            and coalesce(edited.first_loaded_at < {{ since }}, true)
        union all
    {%- endif %}
    {#- a row moved to another client touches the client the previous build's table holds it
        under too (its current client counts above): the old client's rows must lose it #}
    {%- for name, previous in moved_between_clients.items() %}
        {%- set built_rows = existing_model_relation(previous.model) %}
        {%- if built_rows is not none %}
        select built.client_id, {{ previous.reaches_revenue }} as reaches_revenue
        from {{ ref(name) }} as edited
        inner join {{ built_rows }} as built
            on edited.{{ previous.key }} = built.{{ previous.key }}
        where
            edited.loaded_at >= {{ since }}
            and edited.client_id is distinct from built.client_id
        union all
        {%- endif %}
    {%- endfor %}
        select activities.client_id, false as reaches_revenue
        from {{ ref('stg_crm__managers') }} as managers
        inner join {{ ref('stg_crm__activities') }} as activities
            on managers.manager_id = activities.manager_id
        where managers.loaded_at >= {{ since }}
        union all
        select documents.client_id, true as reaches_revenue
        from (
            select
                invoices.client_id,
                invoices.currency,
                {{ reporting_date('invoices.issued_at') }} as document_date
            from {{ ref('stg_billing__invoices') }} as invoices
            union all
            select
                invoices.client_id,
                invoices.currency,
                {{ reporting_date('credit_notes.issued_at') }} as document_date
            from {{ ref('stg_billing__credit_notes') }} as credit_notes
            inner join {{ ref('stg_billing__invoices') }} as invoices
                on credit_notes.invoice_id = invoices.invoice_id
        ) as documents
        inner join (
            {#- the days (in reporting_tz) each changed rate converts, up to the end of the window -#}
            select
                changed_rates.currency,
                day_series.series_value as rate_day
            from (
                select
                    fx_rates.currency,
                    fx_rates.rate_date,
                    coalesce(
                        (
                            select cast({{ dbt.dateadd('day', -1, 'min(later.rate_date)') }} as date)
                            from {{ ref('stg_billing__fx_rates') }} as later
                            where later.currency = fx_rates.currency and later.rate_date > fx_rates.rate_date
                        ),
                        {{ window_last_day }}
                    ) as last_rate_day
                from {{ ref('stg_billing__fx_rates') }} as fx_rates
                where
                    fx_rates.loaded_at >= {{ since }}
                    and fx_rates.rate_date <= {{ window_last_day }}
            ) as changed_rates
            cross join {{ date_series(
                'changed_rates.rate_date',
                'least(changed_rates.last_rate_day, ' ~ window_last_day ~ ')',
                'day',
            ) }}
        ) as rate_days
            on
                documents.currency = rate_days.currency
                and documents.document_date = rate_days.rate_day
{%- endmacro %}


{#
    Post-hook of int_changed_clients: logs how many clients a build by client rewrites, of how many
    the CRM knows, and how many of them the revenue models rewrite ("client path: <n> of <all>
    clients changed, <r> of them through a revenue source"). Runs no SQL of its own.
#}
{% macro log_changed_clients() -%}
    {%- if execute and run_is_by_client() -%}
        {%- set query -%}
            select
                (select count(*) from {{ this }}) as changed,
                (select count(*) from {{ this }} where reaches_revenue) as revenue,
                (select count(*) from {{ ref('stg_crm__clients') }}) as known
        {%- endset -%}
        {%- set rows = run_query(query).rows -%}
        {%- if rows | length > 0 -%}
            {%- set row = rows[0] -%}
            {{ log(
                'client path: ' ~ row['changed'] ~ ' of ' ~ row['known'] ~ ' clients changed, '
                ~ row['revenue'] ~ ' of them through a revenue source',
                info=true,
            ) }}
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}


{#
    A row that no earlier build saw (first loaded at or after `since`; null, loaded before the
    column existed, counts as seen) whose instant `date_column` is at or after the end of the
    reporting window.
#}
{% macro incremental_new_after_window(first_loaded_at, since, date_column) -%}
    coalesce(
        {{ first_loaded_at }} >= {{ since }} and {{ date_column }} >= {{ window_end_at() }},
        false
    )
{%- endmacro %}


{#
    Whether a billing invoice line loaded at or after `since` had been loaded before (an edit, not
    a new line; null first_loaded_at: loaded before the column existed, so seen). Read through
    the index on _loaded_at; sqlfluff's mock answers no row: lint the branch it guards.
#}
{% macro incremental_lines_edited(since) -%}
    {%- if not execute -%}
        {{ return(false) }}
    {%- endif -%}
    {%- set query -%}
        select exists (
            select 1 from {{ ref('stg_billing__invoice_lines') }} as lines
            where lines.loaded_at >= {{ since }} and coalesce(lines.first_loaded_at < {{ since }}, true)
        ) as edited
    {%- endset -%}
    {%- set rows = run_query(query).rows -%}
    {{ return(rows | length == 0 or rows[0]['edited']) }}
{%- endmacro %}


{#
    A timestamp of this run's plan (int_build_watermark: `loaded_before`, this build's safe point,
    or `changes_loaded_from`, the previous one's) as a SQL literal, so the planner sees the value
    and reads the few rows after it through an index on the raw table or client_month.
#}
{% macro build_plan_literal(column) -%}
    {%- set plan = model_relation('int_build_watermark') if execute else none -%}
    {%- set rows = run_query('select cast(' ~ column ~ ' as text) as value from ' ~ plan).rows if plan else [] -%}
    {%- if rows | length == 0 or rows[0]['value'] is none -%}
        {{ return('cast(null as timestamp with time zone)') }}
    {%- endif -%}
    {{ return('cast(' ~ dbt.string_literal(rows[0]['value']) ~ ' as timestamp with time zone)') }}
{%- endmacro %}


{#
    The safe point of this run, as a SQL timestamptz literal: every raw row whose `_loaded_at` (its
    load transaction's start) lies before it is committed. Read before the statement that uses it,
    so that statement's snapshot sees all those rows. PostgreSQL-specific (pg_stat_activity): the
    build's role must see the loaders' sessions (the same role, or pg_read_all_stats).
#}
{% macro incremental_safe_point() -%}
    {%- if not execute -%}
        {{ return('current_timestamp') }}
    {%- endif -%}
    {%- set query -%}
        select cast(least(clock_timestamp(), min(xact_start)) as text) as safe_point
        from pg_stat_activity
        where datname = current_database() and pid <> pg_backend_pid() and xact_start is not null
    {%- endset -%}
    {%- set rows = run_query(query).rows -%}
    {%- if rows | length == 0 -%}
        {{ return('current_timestamp') }}
    {%- endif -%}
    {{ return('cast(' ~ dbt.string_literal(rows[0]['safe_point']) ~ ' as timestamp with time zone)') }}
{%- endmacro %}


{#
    The plan of this run, from the previous `client_month` (looked up by name: it is downstream)
    and the previous plan: a dict with `full` (bool), `reason`, `watermark` (text, the previous
    safe point) and `carry_over` (bool).
    A run that stopped before writing client_month (a killed worker, a `dbt run --select` of part
    of the path) may have rewritten models upstream of it, and int_changed_clients compares edited
    invoices with those rewritten lines. So when the previous plan is newer than client_month's
    watermark, this run repeats it: a full build after a full plan; after a plan by client, its
    clients join this run's (`carry_over`; int_changed_clients). Each carried plan holds the one
    before, so runs that stop in a row are all repeated.
#}
{% macro incremental_plan(fingerprint) -%}
    {%- set full = {'full': true, 'watermark': none, 'carry_over': false} -%}
    {%- if not execute -%}
        {{ return(dict(full, reason='not executing')) }}
    {%- endif -%}
    {%- set previous = existing_model_relation('client_month') -%}
    {%- if previous is none or flags.FULL_REFRESH -%}
        {{ return(dict(full, reason='client_month is new or fully refreshed')) }}
    {%- endif -%}
    {%- set query -%}
        select
            {#- two aggregates, not a count(distinct) that sorts every row #}
            case
                when min(_build_parameters) is null then 0
                when min(_build_parameters) = max(_build_parameters) then 1
                else 2
            end as fingerprints,
            max(_build_parameters) as fingerprint,
            cast(max(_source_loaded_at) as text) as watermark
        from {{ previous }}
    {%- endset -%}
    {%- set rows = run_query(query).rows -%}
    {#- an aggregate always answers one row; only sqlfluff's mock answers none -#}
    {%- if rows | length == 0 -%}
        {{ return({'full': false, 'watermark': none, 'carry_over': false, 'reason': 'no introspection'}) }}
    {%- endif -%}
    {%- set row = rows[0] -%}
    {%- if row['fingerprints'] == 0 -%}
        {{ return(dict(full, reason='client_month is empty')) }}
    {%- elif row['fingerprints'] > 1 or row['fingerprint'] != fingerprint -%}
        {{ return(dict(full, reason='as_of_month, a var or a model upstream of client_month changed')) }}
    {%- elif row['watermark'] is none -%}
        {{ return(dict(full, reason='client_month has no watermark')) }}
    {%- endif -%}
    {%- set by_client = {'full': false, 'watermark': row['watermark'], 'carry_over': false} -%}
    {%- set reason = 'rows loaded since ' ~ row['watermark'] -%}
    {%- set previous_plan = existing_model_relation('int_build_watermark') -%}
    {%- if previous_plan is not none -%}
        {%- set query -%}
            select is_full_build
            from {{ previous_plan }}
            where loaded_before > cast({{ dbt.string_literal(row['watermark']) }} as timestamp with time zone)
        {%- endset -%}
        {%- set unfinished = run_query(query).rows -%}
        {%- if unfinished | length > 0 and unfinished[0]['is_full_build'] -%}
            {{ return(dict(full, reason='the previous full build stopped before client_month')) }}
        {%- elif unfinished | length > 0 -%}
            {{ return(dict(by_client, carry_over=true, reason=reason ~ ', and the clients of the previous run, which stopped before client_month')) }}
        {%- endif -%}
    {%- endif -%}
    {{ return(dict(by_client, reason=reason)) }}
{%- endmacro %}


{#
    Whether this run's plan (`int_build_watermark`, built first) rewrites only the changed clients.
    Looked up, not ref'd: a model's ref to int_changed_clients already orders it after the plan.
#}
{% macro run_is_by_client() -%}
    {%- if not execute -%}
        {{ return(false) }}
    {%- endif -%}
    {%- set plan = existing_model_relation('int_build_watermark') -%}
    {%- if plan is none -%}
        {{ return(false) }}
    {%- endif -%}
    {%- set rows = run_query('select is_full_build from ' ~ plan).rows -%}
    {#- the plan always has one row; only sqlfluff's mock answers none: lint the by-client SQL -#}
    {%- if rows | length == 0 -%}
        {{ return(true) }}
    {%- endif -%}
    {{ return(not rows[0]['is_full_build']) }}
{%- endmacro %}


{# Whether this model rewrites only the changed clients: an incremental run of an existing table (a unit test has no `this`). #}
{% macro incremental_by_client() -%}
    {%- if not execute or this is none or not is_incremental() -%}
        {{ return(false) }}
    {%- endif -%}
    {{ return(run_is_by_client()) }}
{%- endmacro %}


{#
    SQL: `column` holds a client this run rebuilds (int_changed_clients, looked up: the callers
    depend on it). `part`: 'all' the client path, or 'revenue' the models of net revenue, cost and
    status (int_invoice_lines_credited, int_client_credited_revenue_month,
    int_client_revenue_month, int_client_month_revenue: meta `rebuilt_by_client: revenue`), which
    only the clients a revenue source touched need (an edited activity changes none of them). The hooks and import filters take the part from the
    model's meta (rebuilt_part), so each model states it once.
#}
{% macro is_changed_client(column='client_id', part='all') -%}
    {{ column }} in (
        select changed.client_id from {{ model_relation('int_changed_clients') }} as changed
        {%- if part == 'revenue' %}
        where changed.reaches_revenue
        {%- endif %}
    )
{%- endmacro %}


{# The part of the changed clients the current model rewrites: 'revenue' (meta rebuilt_by_client: revenue) or 'all'. #}
{% macro rebuilt_part() -%}
    {{ return('revenue' if config.get('meta', {}).get('rebuilt_by_client') == 'revenue' else 'all') }}
{%- endmacro %}


{#
    SQL: `column` holds a value of `key` in the rows of staging view `loaded_from` loaded since the
    previous build (`column` defaults to `key`).
#}
{% macro is_loaded_since(loaded_from, key, column=none) -%}
    {{ column or key }} in (
        select loaded.{{ key }} from {{ model_relation(loaded_from) }} as loaded
        where loaded.loaded_at >= {{ build_plan_literal('changes_loaded_from') }}
    )
{%- endmacro %}


{#
    The source rows the current model also rewrites by key (config meta `rebuilt_by_key`:
    {'key': its key column, 'loaded_from': the staging view of those rows}), or none: the rows
    loaded since the previous build, with every row of their clients. Such a model holds a
    column an edit may change without touching any client (an invoice paid), or a row that may
    move to another client. The hook and the import filter read it here, so they always agree.
#}
{% macro rebuilt_by_key() -%}
    {{ return(config.get('meta', {}).get('rebuilt_by_key')) }}
{%- endmacro %}


{# The filter of a client-path import CTE: the changed clients (and those of `rebuilt_by_key`), on an incremental run by client. #}
{% macro changed_clients_only(column='client_id') -%}
    {%- if incremental_by_client() %}
    {%- set by_key = rebuilt_by_key() %}
    where
        {{ is_changed_client(column, rebuilt_part()) }}
        {%- if by_key %}
        or {{ is_loaded_since(by_key['loaded_from'], 'client_id', column) }}
        {%- endif %}
    {%- endif %}
{%- endmacro %}


{#
    Pre-hook of a client-path model: before the changed clients are inserted again, delete every
    row they had (a soft-deleted client's, a month that is gone); on a full plan, every row.
    With `rebuilt_by_key`, also the rows of its clients and of its keys: a row that moved to
    another client would otherwise stay under its old client, beside its new row.
#}
{% macro delete_changed_clients() -%}
    {%- if execute and this is not none and is_incremental() -%}
        {%- set by_key = rebuilt_by_key() -%}
        delete from {{ this }}
        {%- if incremental_by_client() %}
        where
            {{ is_changed_client(part=rebuilt_part()) }}
            {%- if by_key %}
            or {{ is_loaded_since(by_key['loaded_from'], 'client_id') }}
            or {{ is_loaded_since(by_key['loaded_from'], by_key['key']) }}
            {%- endif %}
        {%- endif %}
    {%- endif -%}
{%- endmacro %}


{# SQL: `column` holds a month this run ranks again (int_changed_months, looked up: the callers depend on it). #}
{% macro is_changed_month(column='month') -%}
    {{ column }} in (select changed.month from {{ model_relation('int_changed_months') }} as changed)
{%- endmacro %}


{# The filter of an import CTE of a model rebuilt by month: the changed months, on an incremental run by client. #}
{% macro changed_months_only(column='month') -%}
    {%- if incremental_by_client() %}
    where {{ is_changed_month(column) }}
    {%- endif %}
{%- endmacro %}


{#
    Pre-hook of a model rebuilt by month (int_client_month_abc): before the changed months are
    inserted again, delete every row they had; on a full plan, every row.
#}
{% macro delete_changed_months() -%}
    {%- if execute and this is not none and is_incremental() -%}
        delete from {{ this }}
        {%- if incremental_by_client() %}
        where {{ is_changed_month() }}
        {%- endif %}
    {%- endif -%}
{%- endmacro %}


{#
    Post-hook of client_month on a build by client: ABC ranks every active client of a month, so
    a changed client's T12 or activity can move the class of a client that did not change. Its
    row is kept and its class set from the fresh ranking (only the class can move: an unchanged
    client's activity, and so its place among the ranked, stays). The changed clients' rows were
    just written from that ranking, and only the months ranked again (int_changed_months) can
    hold a moved class.
#}
{% macro update_moved_abc_classes(abc) -%}
    {%- if incremental_by_client() -%}
        update {{ this }} as target
        set
            abc_class = abc.abc_class,
            _source_loaded_at = {{ incremental_build_watermark() }}
        from {{ abc }} as abc
        where
            target.client_id = abc.client_id
            and target.month = abc.month
            and target.abc_class is distinct from abc.abc_class
            and {{ is_changed_month('abc.month') }}
            and {{ is_changed_month('target.month') }}
    {%- endif -%}
{%- endmacro %}


{# client_month's watermark column: this run's safe point (none in a unit test, which has no `this`). #}
{% macro incremental_build_watermark() -%}
    {%- if this is none -%}
        cast(null as timestamp with time zone)
    {%- else -%}
        (select build.loaded_before from {{ ref('int_build_watermark') }} as build)
    {%- endif -%}
{%- endmacro %}


{#
    The filter of a singular test's client-keyed CTE: on a `dbt build` by client, the changed
    clients only (as generic tests are scoped, macros/tests/get_where_subquery.sql). Exact for a
    per-client invariant: an unchanged client's rows and sources are those an earlier build checked.
#}
{% macro tested_clients_only(column='client_id') -%}
    {%- if flags.WHICH == 'build' and run_is_by_client() %}
    where {{ is_changed_client(column) }}
    {%- endif %}
{%- endmacro %}
