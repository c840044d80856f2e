{#
    Joining int_client_ownership (intervals [valid_from, valid_to), null = unbounded) at an instant.

    owned_at(o, t): the interval of `o` that holds instant t (the owner "at t": the latest change
    with changed_at <= t).
    owned_just_before(o, t): the interval that holds the last instant before t; with t the first
    instant of month m+1 (int_month_spine.month_end_at) this is the owner at the end of month m.
#}
{% macro owned_at(ownership, instant) -%}
    ({{ ownership }}.valid_from is null or {{ ownership }}.valid_from <= {{ instant }})
    and ({{ ownership }}.valid_to is null or {{ instant }} < {{ ownership }}.valid_to)
{%- endmacro %}

{% macro owned_just_before(ownership, instant) -%}
    ({{ ownership }}.valid_from is null or {{ ownership }}.valid_from < {{ instant }})
    and ({{ ownership }}.valid_to is null or {{ instant }} <= {{ ownership }}.valid_to)
{%- endmacro %}
