{{ config(post_hook=["analyze {{ this }}", "{{ log_changed_clients() }}"]) }}
-- The clients whose client-path rows this run rewrites (macros/incremental.sql): those that a
-- source row loaded at or after the previous build's safe point touches. Empty on a full build.
with

build as (

    select * from {{ ref('int_build_watermark') }}

),

touched as (

    {{ incremental_changed_clients('(select build.changes_loaded_from from build)') }}

),

final as (

    select distinct touched.client_id

    from touched

    where not (select build.is_full_build from build)

)

select * from final
