-- The plan of this run, one row, built before any model reads a source (macros/incremental.sql):
-- whether the client path is built in full, why, the previous build's safe point (changes are
-- read from it), this build's (client_month keeps it as its watermark), and whether the changed
-- clients of a previous run that stopped before client_month are rebuilt too.
{%- set fingerprint = incremental_parameters_fingerprint() %}
{%- set plan = incremental_plan(fingerprint) %}
{%- set safe_point = incremental_safe_point() %}
{%- set path = 'full build' if plan.full else 'changed clients' %}
{{ log('client path: ' ~ path ~ ' (' ~ plan.reason ~ ')', info=execute) }}
with

final as (

    select
        {{ safe_point }} as loaded_before,
        {%- set watermark = dbt.string_literal(plan.watermark) if plan.watermark else 'null' %}
        cast({{ watermark }} as timestamp with time zone) as changes_loaded_from,
        {{ 'true' if plan.full else 'false' }} as is_full_build,
        {{ 'true' if plan.carry_over else 'false' }} as carries_previous_plan,
        cast({{ dbt.string_literal(plan.reason) }} as text) as reason,
        cast({{ dbt.string_literal(fingerprint) }} as text) as build_parameters

)

select * from final
