{#- One row per combination of the given columns (the grain of a model) and, when
    `not_null_columns` is given, no NULL in those columns: both in one scan of the model (on a
    student-level staging view each scan re-reads every result). A failing row is a key that is
    not unique (n_rows > 1) or a key whose rows hold NULLs (null_<column> > 0). -#}
{% test unique_combination_of_columns(model, combination_of_columns, not_null_columns=none) %}
{%- set required = not_null_columns or [] %}
select
    {{ combination_of_columns | join(', ') }},
    count(*) as n_rows
    {%- for column in required %},
    count(*) filter (where {{ adapter.quote(column) }} is null) as {{ adapter.quote('null_' ~ column) }}
    {%- endfor %}
from {{ model }}
group by {{ combination_of_columns | join(', ') }}
having
    count(*) > 1
    {%- for column in required %}
    or count(*) filter (where {{ adapter.quote(column) }} is null) > 0
    {%- endfor %}
{% endtest %}
