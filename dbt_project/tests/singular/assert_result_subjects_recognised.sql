{{ config(severity='error', meta={'dagster': {'ref': {'name': 'subject_aliases'}}}) }}
-- a Dagster asset check of the seed subject_aliases (it reads the raw results too; Dagster needs one asset)
{#- Every delivered spelling of Russian or mathematics (a spelling that starts with the subject's
    name) is one of seed subject_aliases: results in an unrecognised spelling («Математика (проф.)»)
    would load and never be counted (the loader already counts a run of spaces as one). In a build
    by its plan (gate.baseline) the files delivered since the audited build alone: the earlier ones
    passed. -#}
{%- set judged_up_to = var('eduq_judged_up_to_file', none) %}
with

aliases as (
    select subject_alias from {{ ref('subject_aliases') }}
),

delivered as (
    {%- for table in ['vpr_results', 'gia_results', 'vpr_school_stats'] %}
    {%- if not loop.first %}
    union all
    {%- endif %}
    select
        '{{ table }}' as source_table,
        _file_id as file_id,
        _source_file as source_file,
        subject,
        count(*) as n_rows,
        min(_row_number) as first_row_number
    from {{ source('raw', table) }}
    {%- if judged_up_to is not none %}
    where _file_id > {{ judged_up_to | int }}
    {%- endif %}
    group by _file_id, _source_file, subject
    {%- endfor %}
)

select source_table, file_id, source_file, subject, n_rows, first_row_number
from delivered
where
    lower(trim(subject)) not in (select aliases.subject_alias from aliases)
    -- a spelling of the subject itself: «Русский язык …», «Математика …» (not «Родной язык
    -- (русский)» nor «Итоговое собеседование по русскому языку»: other subjects, not counted)
    and regexp_matches(lower(trim(subject)), '^(русск|матем)')
