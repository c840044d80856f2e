-- NPS and CSI answers per manager and quarter (metrics.md "NPS per quarter", "CSI"): each
-- survey answer goes to the manager who owned its client at responded_at (ownership at the
-- instant, whatever the client's created_at; an answer of an unassigned client goes to nobody),
-- in the quarter of responded_at (reporting_tz). The unfinished quarter runs to the end of
-- as_of_month; later answers are outside the window.
--   nps = 100 * (promoters 9-10 - detractors 0-6) / nps answers
--   csi = mean csi score
with

surveys as (

    select * from {{ ref('int_surveys_live') }}

),

ownership as (

    select * from {{ ref('int_client_ownership') }}

),

answers as (

    select
        ownership.manager_id,
        cast({{ dbt.date_trunc('quarter', to_reporting_tz('surveys.responded_at')) }} as date) as quarter,
        surveys.kind,
        surveys.score

    from surveys

    inner join ownership
        on
            surveys.client_id = ownership.client_id
            and {{ owned_at('ownership', 'surveys.responded_at') }}

    where
        surveys.responded_at < {{ window_end_at() }}
        and surveys.kind in ('nps', 'csi')
        and surveys.score is not null
        and ownership.manager_id is not null

),

summed as (

    select
        manager_id,
        quarter,
        sum(case when kind = 'nps' then 1 else 0 end) as nps_responses,
        sum(case when kind = 'nps' and score >= 9 then 1 else 0 end) as nps_promoters,
        sum(case when kind = 'nps' and score <= 6 then 1 else 0 end) as nps_detractors,
        sum(case when kind = 'csi' then 1 else 0 end) as csi_responses,
        sum(case when kind = 'csi' then score end) as csi_score_total

    from answers

    group by manager_id, quarter

),

final as (

    select
        manager_id,
        quarter,
        cast(nps_responses as integer) as nps_responses,
        cast(nps_promoters as integer) as nps_promoters,
        cast(nps_detractors as integer) as nps_detractors,
        100 * cast(nps_promoters - nps_detractors as numeric) / nullif(nps_responses, 0) as nps,
        cast(csi_responses as integer) as csi_responses,
        cast(csi_score_total as numeric) / nullif(csi_responses, 0) as csi

    from summed

)

select * from final
