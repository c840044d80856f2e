-- Credit notes that count: those on invoices in int_invoices_live.
with

credit_notes as (

    select * from {{ ref('stg_billing__credit_notes') }}

),

invoices as (

    select invoice_id from {{ ref('int_invoices_live') }}

),

final as (

    select
        credit_notes.credit_note_id,
        credit_notes.invoice_id,
        credit_notes.issued_at,
        credit_notes.amount,
        credit_notes.reason,
        credit_notes.updated_at

    from credit_notes

    inner join invoices
        on credit_notes.invoice_id = invoices.invoice_id

)

select * from final
