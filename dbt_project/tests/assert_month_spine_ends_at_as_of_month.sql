-- The month spine ends exactly at as_of_month and has no gap (a spine that runs past the window
-- invents churn; one that stops early hides it). An empty spine (no data yet) passes.
with

spine as (

    select * from {{ ref('int_month_spine') }}

),

summary as (

    select
        min(month) as first_month,
        max(month) as last_month,
        count(*) as months,
        max(month_number) as last_month_number

    from spine

),

final as (

    select *

    from summary

    where
        months > 0
        and (
            last_month <> {{ as_of_month() }}
            or months <> last_month_number
            or {{ dbt.datediff('first_month', 'last_month', 'month') }} + 1 <> months
        )

)

select * from final
