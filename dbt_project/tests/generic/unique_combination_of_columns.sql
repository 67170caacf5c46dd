{#- One row per combination of the given columns (the grain of a model); when `not_null_columns`
    is given, no NULL in those columns; when `accepted_values` is given ({column: [values]}), no
    value of those columns outside its list (NULL is not judged here: `not_null_columns` or the
    contract's constraint does). All in one scan of the model (on a student-level staging view each
    scan re-reads every result) and one dbt node (each node costs ~35 ms of dbt's Python whatever
    the data). A failing row is a key that is not unique (n_rows > 1), a key whose rows hold NULLs
    (null_<column> > 0), or a key whose rows hold values not accepted (unexpected_<column>_rows > 0,
    one of them in unexpected_<column>).

    `by_year_of` (a raw source): the model keeps, per year, the latest deliveries of that source, so
    its rows of a year change only when a file with rows of that year is loaded. In a build made by
    its plan (gate.baseline: the var `eduq_judged_up_to_file` is the last file id of the audited
    build it starts from, whose audit passed this test), the test judges the years of the files
    loaded since (and rows without a year); the other years' rows are the ones that audit judged. A
    country's risk questionnaire re-read whole was the night's slowest test (~1 s of 2.3 million
    rows).

    A table incremental by year (macros/year_local.sql, int_procedure_counts) whose key holds its
    year column: in a build made by its plan, the years the build computed and the rows without a
    year (years_judged); a country's night re-read 1.1 million rows of each of three such tables on
    its longest chain of models. -#}
{% test unique_combination_of_columns(
    model, combination_of_columns, not_null_columns=none, accepted_values=none, by_year_of=none
) %}
{%- set required = not_null_columns or [] %}
{%- set accepted = accepted_values or {} %}
{%- set outside = {} %}
{%- for column, values in accepted.items() %}
    {%- set listed = [] %}
    {%- for value in values %}
        {%- do listed.append(value if value is number else "'" ~ (value | string | replace("'", "''")) ~ "'") %}
    {%- endfor %}
    {%- do outside.update({column: adapter.quote(column) ~ ' not in (' ~ listed | join(', ') ~ ')'}) %}
{%- endfor %}
select
    {{ combination_of_columns | join(', ') }},
    count(*) as n_rows
    {%- for column in required %},
    count(*) filter (where {{ adapter.quote(column) }} is null) as {{ adapter.quote('null_' ~ column) }}
    {%- endfor %}
    {%- for column, condition in outside.items() %},
    count(*) filter (where {{ condition }}) as {{ adapter.quote('unexpected_' ~ column ~ '_rows') }},
    min({{ adapter.quote(column) }}) filter (where {{ condition }}) as {{ adapter.quote('unexpected_' ~ column) }}
    {%- endfor %}
{#- the source is named at parse time too, where the var is not set: dbt knows the dependency #}
{%- set delivered = source('raw', by_year_of) if by_year_of else none %}
{%- set judged_up_to = var('eduq_judged_up_to_file', none) if by_year_of else none %}
{%- set computed = years_judged(model, combination_of_columns) %}
{#- the rows judged (none: all): the years the build computed, else the years of the later files #}
{%- set judged = none %}
{%- if computed is not none %}
    {%- set judged = computed.column ~ ' is null or ' ~ year_local_filter(computed.years, computed.column) %}
{%- elif judged_up_to is not none %}
    {%- set judged = 'year is null or year in (select distinct year from ' ~ delivered
        ~ ' where _file_id > ' ~ (judged_up_to | int) ~ ')' %}
{%- endif %}
{%- if judged is not none %}
from (select * from {{ model }} where {{ judged }}) as judged
{%- else %}
from {{ model }}
{%- endif %}
group by {{ combination_of_columns | join(', ') }}
having
    count(*) > 1
    {%- for column in required %}
    or count(*) filter (where {{ adapter.quote(column) }} is null) > 0
    {%- endfor %}
    {%- for column, condition in outside.items() %}
    or count(*) filter (where {{ condition }}) > 0
    {%- endfor %}
{% endtest %}
