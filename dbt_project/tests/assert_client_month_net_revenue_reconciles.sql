-- For every month, Σ client_month.net_revenue equals the in-scope invoice lines minus the credit
-- notes on in-scope invoices, computed straight from staging (not from the intermediate
-- models): soft-deleted clients dropped, each amount converted with the latest fx rate on or
-- before its date (a correlated lookup, not int_fx_rates_daily), summed per client and month,
-- counted from each client's first month with N > 0 (client_month starts at F(c); net revenue
-- before F(c) is outside it). Returns the months that differ. A build by client checks the changed
-- clients' part of each month (tested_clients_only): the rest was checked when it was written.
with

invoices as (

    select * from {{ ref('stg_billing__invoices') }}
    {{- tested_clients_only() }}

),

invoice_lines as (

    select * from {{ ref('stg_billing__invoice_lines') }}

),

credit_notes as (

    select * from {{ ref('stg_billing__credit_notes') }}

),

clients as (

    select * from {{ ref('stg_crm__clients') }}

),

fx_rates as (

    select * from {{ ref('stg_billing__fx_rates') }}

),

client_month as (

    select * from {{ ref('client_month') }}
    {{- tested_clients_only() }}

),

in_scope_invoices as (

    select
        invoices.invoice_id,
        invoices.client_id,
        invoices.currency,
        invoices.issued_at

    from invoices

    where
        invoices.status in ('issued', 'paid')
        and invoices.issued_at is not null
        and not exists (
            select 1
            from clients
            where clients.client_id = invoices.client_id and clients.is_deleted
        )

),

line_totals as (

    select
        invoice_id,
        sum(amount) as amount

    from invoice_lines

    where invoice_id in (select in_scope_invoices.invoice_id from in_scope_invoices)

    group by invoice_id

),

amounts as (

    select
        in_scope_invoices.client_id,
        in_scope_invoices.currency,
        {{ reporting_date('in_scope_invoices.issued_at') }} as amount_date,
        line_totals.amount

    from in_scope_invoices

    inner join line_totals
        on in_scope_invoices.invoice_id = line_totals.invoice_id

    union all

    select
        in_scope_invoices.client_id,
        in_scope_invoices.currency,
        {{ reporting_date('credit_notes.issued_at') }} as amount_date,
        -credit_notes.amount as amount

    from credit_notes

    inner join in_scope_invoices
        on credit_notes.invoice_id = in_scope_invoices.invoice_id

),

amounts_in_window as (

    select * from amounts

    where amount_date < {{ dbt.dateadd('month', 1, as_of_month()) }}

),

rates_needed as (

    select distinct
        currency,
        amount_date

    from amounts_in_window

    where currency <> {{ dbt.string_literal(var('base_currency')) }}

),

rates as (

    select
        rates_needed.currency,
        rates_needed.amount_date,
        (
            select fx_rates.rate_to_base
            from fx_rates
            where
                fx_rates.currency = rates_needed.currency
                and fx_rates.rate_date <= rates_needed.amount_date
            order by fx_rates.rate_date desc
            limit 1
        ) as rate_to_base

    from rates_needed

),

client_net as (

    select
        amounts_in_window.client_id,
        cast({{ dbt.date_trunc('month', 'amounts_in_window.amount_date') }} as date) as month,
        sum(
            amounts_in_window.amount
            * case
                when amounts_in_window.currency = {{ dbt.string_literal(var('base_currency')) }} then 1
                else rates.rate_to_base
            end
        ) as net_revenue

    from amounts_in_window

    left join rates
        on
            amounts_in_window.currency = rates.currency
            and amounts_in_window.amount_date = rates.amount_date

    group by
        amounts_in_window.client_id,
        cast({{ dbt.date_trunc('month', 'amounts_in_window.amount_date') }} as date)

),

first_months as (

    select
        client_id,
        min(month) as first_revenue_month

    from client_net

    where net_revenue > 0

    group by client_id

),

expected as (

    select
        client_net.month,
        sum(client_net.net_revenue) as net_revenue

    from client_net

    inner join first_months
        on
            client_net.client_id = first_months.client_id
            and client_net.month >= first_months.first_revenue_month

    group by client_net.month

),

actual as (

    select
        month,
        sum(net_revenue) as net_revenue

    from client_month

    group by month

),

final as (

    select
        coalesce(actual.month, expected.month) as month,
        actual.net_revenue as client_month_net_revenue,
        expected.net_revenue as staging_net_revenue

    from actual

    full outer join expected
        on actual.month = expected.month

    where coalesce(actual.net_revenue, 0) <> coalesce(expected.net_revenue, 0)

)

select * from final
