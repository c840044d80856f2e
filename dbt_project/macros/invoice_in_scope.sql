{# metrics.md "Conventions": an invoice is in scope when its status is issued or paid. #}
{% macro invoice_in_scope(status) -%}
    {{ status }} in ('issued', 'paid')
{%- endmacro %}
