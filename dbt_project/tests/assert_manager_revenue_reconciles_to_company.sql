-- Reconciliation: for every month, the credited revenue of the manager marts plus the revenue
-- nobody is credited with equals the company's net revenue (sum of N(c, m) over all clients):
--   company N(m) = sum manager_month.credited_revenue
--                + revenue of unassigned clients (lines and credit notes of invoices credited to
--                  nobody: unassigned at issued_at, or a client the CRM does not know)
--                + revenue credited to a manager in a month without a manager_month row (a
--                  credit note after the manager's termination month on an invoice credited to
--                  them, or ownership before the hire month).
-- Exact, to the last digit: a fan-out or a lost join in the mart shows here.
with

spine as (

    select month from {{ ref('int_month_spine') }}

),

company as (

    select
        month,
        sum(net_revenue) as net_revenue

    from {{ ref('int_client_revenue_month') }}

    group by month

),

managers as (

    select
        month,
        sum(credited_revenue) as credited_revenue

    from {{ ref('manager_month') }}

    group by month

),

unassigned_amounts as (

    select
        revenue_month as month,
        amount_base as amount
    from {{ ref('int_invoice_lines_credited') }}
    where credited_manager_id is null

    union all

    select
        revenue_month as month,
        -amount_base as amount
    from {{ ref('int_credit_notes_credited') }}
    where credited_manager_id is null

),

unassigned as (

    select
        month,
        sum(amount) as unassigned_revenue

    from unassigned_amounts

    group by month

),

outside_manager_rows as (

    select
        manager_revenue.month,
        sum(manager_revenue.credited_revenue) as credited_revenue

    from {{ ref('int_manager_revenue_month') }} as manager_revenue

    where
        not exists (
            select 1
            from {{ ref('manager_month') }} as manager_month
            where
                manager_month.manager_id = manager_revenue.manager_id
                and manager_month.month = manager_revenue.month
        )

    group by manager_revenue.month

),

compared as (

    select
        spine.month,
        coalesce(company.net_revenue, 0) as company_net_revenue,
        coalesce(managers.credited_revenue, 0) as manager_credited_revenue,
        coalesce(unassigned.unassigned_revenue, 0) as unassigned_revenue,
        coalesce(outside_manager_rows.credited_revenue, 0) as credited_outside_manager_rows

    from spine

    left join company on spine.month = company.month
    left join managers on spine.month = managers.month
    left join unassigned on spine.month = unassigned.month
    left join outside_manager_rows on spine.month = outside_manager_rows.month

),

final as (

    select
        month,
        company_net_revenue,
        manager_credited_revenue,
        unassigned_revenue,
        credited_outside_manager_rows,
        company_net_revenue
        - manager_credited_revenue
        - unassigned_revenue
        - credited_outside_manager_rows as difference

    from compared

)

-- A singular test returns its failing rows: the filter stays on the closing select.
select * from final  -- noqa: CV13
where difference <> 0
