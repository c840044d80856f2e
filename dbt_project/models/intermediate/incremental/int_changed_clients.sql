{{ config(post_hook=["{{ log_changed_clients() }}"]) }}
{%- set previous_plan = existing_model_relation('int_changed_clients') %}
{%- if previous_plan is none %}
    {%- set previous_plan = '(select cast(null as text) as client_id where false)' %}
{%- endif %}
-- The clients whose client-path rows this run rewrites (macros/incremental.sql): those that a
-- source row loaded at or after the previous build's safe point touches, and those of a previous
-- run that stopped before client_month (int_build_watermark.carries_previous_plan). Empty on a
-- full build.
with

build as (

    select * from {{ ref('int_build_watermark') }}

),

touched as (

    {{ incremental_changed_clients(build_plan_literal('changes_loaded_from')) }}

),

carried as (

    -- read while this model is rebuilt: the table still holds the previous run's clients
    select previous_plan.client_id
    from {{ previous_plan }} as previous_plan
    where (select build.carries_previous_plan from build)

),

final as (

    select
        changes.client_id,
        {{ dbt.bool_or('changes.reaches_revenue') }} as reaches_revenue
    from (
        select
            touched.client_id,
            touched.reaches_revenue
        from touched
        where not (select build.is_full_build from build)

        union all

        -- a stopped run may have rewritten any model of the path for its clients
        select
            carried.client_id,
            true as reaches_revenue
        from carried
    ) as changes
    group by changes.client_id

)

select * from final
