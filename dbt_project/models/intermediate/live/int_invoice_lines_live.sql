{{ config(materialized='view') }}
-- Invoice lines that count: those of invoices in int_invoices_live. A view: its one reader,
-- int_invoice_lines_credited, is incremental and reads only the lines of changed clients.
with

invoice_lines as (

    select * from {{ ref('stg_billing__invoice_lines') }}

),

invoices as (

    select invoice_id from {{ ref('int_invoices_live') }}

),

final as (

    select
        invoice_lines.invoice_line_id,
        invoice_lines.invoice_id,
        invoice_lines.product_id,
        invoice_lines.quantity,
        invoice_lines.unit_price,
        invoice_lines.amount,
        invoice_lines.cost_amount,
        invoice_lines.updated_at

    from invoice_lines

    inner join invoices
        on invoice_lines.invoice_id = invoices.invoice_id

)

select * from final
