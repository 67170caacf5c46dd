{#- The student-level staging views' key, from the per-file checks of int_result_key_checks: no
    row of stg_vpr__results / stg_gia__results shares its key (year, school, grade or exam,
    subject, participant, wave) with another row, and none has a NULL in a key column. A file's
    violation counts while the view still holds that file's rows of the partition (the latest
    delivery wins: a later file of the same partition supersedes it). One failing row per key:
    the file, its rows, the NULL columns. When no checked file has a violation the views are not
    read at all. -#}
{% test no_live_key_violations(model, views) %}
{%- set any_violation = true -%}
{#- (compiled without a built model, e.g. by `dbt docs generate`: the whole query) -#}
{%- if execute and load_relation(model) is not none -%}
    {%- set counted = run_query("select count(*) from " ~ model ~ " where n_violations > 0") -%}
    {%- set any_violation = counted.columns[0].values()[0] > 0 -%}
{%- endif %}
with

violations as (
    select
        checks.source_table,
        checks.file_id,
        violation.*
    from {{ model }} as checks,
        unnest(checks.violations) as v(violation)
    where checks.n_violations > 0
){% if not any_violation %}

select * from violations where false
{%- else %},

live_partitions as (
    {%- for source_table, view in views.items() %}
    {%- if not loop.first %}
    union all
    {%- endif %}
    select distinct
        '{{ source_table }}' as source_table, file_id, year, school_code, exam, grade, subject_key
    from {{ ref(view) }} as rows_kept
    where exists (
        select 1 from violations
        where violations.source_table = '{{ source_table }}'
            and violations.file_id = rows_kept.file_id
            and violations.year is not distinct from rows_kept.year
            and violations.school_code is not distinct from rows_kept.school_code
            and violations.subject_key is not distinct from rows_kept.subject_key
    )
    {%- endfor %}
)

select violations.*
from violations
where exists (
    select 1 from live_partitions as live
    where live.source_table = violations.source_table
        and live.file_id = violations.file_id
        and live.year is not distinct from violations.year
        and live.school_code is not distinct from violations.school_code
        and live.exam is not distinct from violations.exam
        and live.grade is not distinct from violations.grade
        and live.subject_key is not distinct from violations.subject_key
)
{%- endif %}
{% endtest %}
