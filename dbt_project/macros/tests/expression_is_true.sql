{#
    Every row satisfies the boolean SQL expression (null counts as a failure). On a column the
    expression is still written whole (the column's name is not prepended).
#}
{% test expression_is_true(model, expression, column_name=none) %}

select *

from {{ model }}

where not coalesce({{ expression }}, false)

{% endtest %}
