{#
    The columns together are unique (nulls compare equal, as in GROUP BY): the grain of a model
    whose key spans several columns.
#}
{% test unique_combination_of_columns(model, combination_of_columns) %}

with

grouped as (

    select
        {{ combination_of_columns | join(',\n        ') }},
        count(*) as duplicates

    from {{ model }}

    group by {{ combination_of_columns | join(', ') }}

    having count(*) > 1

)

select * from grouped

{% endtest %}
