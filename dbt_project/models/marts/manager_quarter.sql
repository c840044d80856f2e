-- One row per manager per quarter from the quarter of hired_at to that of as_of_month or
-- terminated_at (a soft-deleted manager keeps its rows), the unfinished quarter included up to
-- as_of_month: in-person coverage, NPS and CSI (metrics.md "In-person coverage per quarter",
-- "NPS per quarter"; columns in the order of marts.md "manager_quarter", extras after).
with

manager_months as (

    select * from {{ ref('int_manager_months') }}

),

spine as (

    select * from {{ ref('int_month_spine') }}

),

portfolio as (

    select * from {{ ref('int_manager_portfolio_summary_month') }}

),

surveys as (

    select * from {{ ref('int_manager_surveys_quarter') }}

),

manager_quarters as (

    select distinct
        manager_id,
        quarter

    from manager_months

),

-- the quarter's end as far as the window goes: its last month, or as_of_month in the
-- unfinished quarter (the spine ends at as_of_month)
quarter_ends as (

    select
        quarter,
        max(month) as quarter_end_month

    from spine

    group by quarter

),

joined as (

    select
        manager_quarters.manager_id,
        manager_quarters.quarter,
        quarter_ends.quarter_end_month,
        coalesce(portfolio.active_clients, 0) as active_clients_at_quarter_end,
        coalesce(portfolio.in_person_covered_clients, 0) as in_person_covered_clients,
        surveys.nps,
        coalesce(surveys.nps_responses, 0) as nps_responses,
        surveys.csi,
        coalesce(surveys.csi_responses, 0) as csi_responses

    from manager_quarters

    inner join quarter_ends
        on manager_quarters.quarter = quarter_ends.quarter

    left join portfolio
        on
            manager_quarters.manager_id = portfolio.manager_id
            and quarter_ends.quarter_end_month = portfolio.month

    left join surveys
        on
            manager_quarters.manager_id = surveys.manager_id
            and manager_quarters.quarter = surveys.quarter

),

final as (

    select
        manager_id,
        quarter,
        cast(in_person_covered_clients as numeric) / nullif(active_clients_at_quarter_end, 0)
            as in_person_coverage,
        nps,
        nps_responses,
        csi,
        csi_responses,
        quarter_end_month,
        active_clients_at_quarter_end,
        in_person_covered_clients

    from joined

)

select * from final
