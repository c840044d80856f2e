-- depends_on: {{ ref('int_build_watermark') }} (this build's plan, which scopes the data tests)
with

source as (

    select * from {{ source('raw_crm', 'owner_changes') }}

),

final as (

    select
        {{ text_id('id') }} as owner_change_id,
        {{ text_id('client_id') }} as client_id,
        {{ text_id('old_owner_id') }} as old_owner_id,
        {{ text_id('new_owner_id') }} as new_owner_id,
        changed_at,
        updated_at,
        _loaded_at as loaded_at,
        _first_loaded_at as first_loaded_at

    from source

)

select * from final
