{#
    Per partition, intervals [from, to) tile the whole time line: the first starts at null
    (unbounded), the last ends at null, each ends where the next starts, none is empty.
#}
{% test contiguous_intervals(model, partition_by, from_column, to_column) %}

with

ordered as (

    select
        {{ partition_by }} as partition_key,
        {{ from_column }} as valid_from,
        {{ to_column }} as valid_to,
        row_number() over (
            partition by {{ partition_by }}
            order by {{ from_column }} nulls first
        ) as position,
        count(*) over (partition by {{ partition_by }}) as intervals,
        lead({{ from_column }}) over (
            partition by {{ partition_by }}
            order by {{ from_column }} nulls first
        ) as next_valid_from

    from {{ model }}

),

broken as (

    select
        partition_key,
        valid_from,
        valid_to,
        case
            when position = 1 and valid_from is not null then 'first interval has a start'
            when position = intervals and valid_to is not null then 'last interval has an end'
            when position < intervals and (valid_to is null or valid_to <> next_valid_from)
                then 'gap or overlap before the next interval'
            when valid_from is not null and valid_to is not null and valid_to <= valid_from
                then 'empty interval'
        end as problem

    from ordered

)

select * from broken where problem is not null

{% endtest %}
