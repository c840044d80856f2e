-- depends_on: {{ ref('int_build_watermark') }} (this build's plan, which scopes the data tests)
with

source as (

    select * from {{ source('raw_crm', 'surveys') }}

),

final as (

    select
        {{ text_id('id') }} as survey_id,
        {{ text_id('client_id') }} as client_id,
        {{ text_id('contact_id') }} as contact_id,
        kind,
        score,
        responded_at,
        updated_at,
        _loaded_at as loaded_at,
        _first_loaded_at as first_loaded_at

    from source

)

select * from final
