{#
    Per partition, one row for every month from its first to as_of_month, none missing: models
    that read "the next row" or "the twelfth next row" of a partition as one or twelve months
    later rely on it (with the grain test, which rules out a repeated month).
#}
{% test every_month_to_as_of_month(model, partition_by, month_column) %}

with

partitions as (

    select
        {{ partition_by }} as partition_key,
        min({{ month_column }}) as first_month,
        max({{ month_column }}) as last_month,
        count(*) as months

    from {{ model }}

    group by {{ partition_by }}

)

select * from partitions

where
    last_month <> {{ as_of_month() }}
    or months <> {{ dbt.datediff('first_month', as_of_month(), 'month') }} + 1

{% endtest %}
