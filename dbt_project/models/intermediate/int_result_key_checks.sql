{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key=['source_table', 'file_id'],
    on_schema_change='sync_all_columns',
    post_hook="delete from {{ this }} where code_fingerprint <> '{{ project_code_fingerprint() }}'"
) }}
{#- The key of the student-level results checked once per delivered file, not once per build.
    The latest delivery wins per partition (year, school, grade or exam, subject), so every row the
    staging views stg_vpr__results / stg_gia__results keep for a partition comes from one file: a
    duplicate key or a NULL in a key column of those views is always inside one file. Each file
    is checked when it first appears (and again when the project's code changes, since the subject
    key comes from the code and the seeds); a build that brings one region's new year or one
    school's correction reads those files only, where a test of the views re-read every result of
    every year. The test no_live_key_violations then keeps what the views would show: a violation
    counts while its partition's rows in the view are that file's (a later file that supersedes
    them clears it). -#}
{%- set fingerprint = project_code_fingerprint() %}
with

-- a file id is one delivered file, with one hash (any_value: grouping by the 64-character hash
-- too read it for every row, four times the cost of this at a country's 50 million rows)
delivered as (
    select 'vpr_results' as source_table, _file_id as file_id, any_value(_file_hash) as file_hash, count(*) as n_rows
    from {{ source('raw', 'vpr_results') }}
    group by _file_id
    union all
    select 'gia_results' as source_table, _file_id as file_id, any_value(_file_hash) as file_hash, count(*) as n_rows
    from {{ source('raw', 'gia_results') }}
    group by _file_id
),

to_check as (
    select * from delivered
    {%- if is_incremental() %}
    where not exists (
        select 1 from {{ this }} as earlier
        where earlier.source_table = delivered.source_table
            and earlier.file_id = delivered.file_id
            and earlier.file_hash is not distinct from delivered.file_hash
            and earlier.code_fingerprint = '{{ fingerprint }}'
    )
    {%- endif %}
),

subjects as (
    select subject_alias, subject_code from {{ ref('subject_aliases') }}
),

-- the key columns of stg_vpr__results and stg_gia__results, computed as they compute them
-- (not materialized: read again only for the few rows of suspect keys)
vpr_rows as not materialized (
    select
        'vpr_results' as source_table,
        source._file_id as file_id,
        source.year,
        source.school_id as school_code,
        'VPR' as exam,
        source.grade,
        {{ result_subject_key('source.subject') }} as subject_key,
        source.participant_code,
        cast(null as varchar) as wave,
        source._source_file as source_file,
        source._row_number as source_row_number,
        {{ result_key_check_columns(
            ['source.year', 'source.school_id', 'source.grade', result_subject_key('source.subject'),
             'source.participant_code'],
            {'year': 'source.year', 'school_code': 'source.school_id', 'grade': 'source.grade',
             'subject_alias': 'source.subject', 'subject_key': 'source.subject',
             'participant_code': 'source.participant_code'}
        ) }}
    from {{ source('raw', 'vpr_results') }} as source
    left join subjects on lower(trim(source.subject)) = subjects.subject_alias
    where source._file_id in (
        select to_check.file_id from to_check
        where to_check.source_table = 'vpr_results'
    )
),

gia_rows as not materialized (
    select
        'gia_results' as source_table,
        source._file_id as file_id,
        source.year,
        source.school_id as school_code,
        source.exam,
        case when source.exam = 'OGE' then 9 else 11 end as grade,
        {{ result_subject_key('source.subject') }} as subject_key,
        source.participant_code,
        source.wave,
        source._source_file as source_file,
        source._row_number as source_row_number,
        {{ result_key_check_columns(
            ['source.year', 'source.school_id', 'source.exam', result_subject_key('source.subject'),
             'source.participant_code', 'source.wave'],
            {'year': 'source.year', 'school_code': 'source.school_id', 'exam': 'source.exam',
             'subject_alias': 'source.subject', 'subject_key': 'source.subject',
             'participant_code': 'source.participant_code', 'wave': 'source.wave'}
        ) }}
    from {{ source('raw', 'gia_results') }} as source
    left join subjects on lower(trim(source.subject)) = subjects.subject_alias
    where source._file_id in (
        select to_check.file_id from to_check
        where to_check.source_table = 'gia_results'
    )
),

-- one hash per key first: tens of millions of 8-byte hashes stay in memory where the keys'
-- strings spill; a key held twice, or with a NULL, makes its hash a suspect (a collision only
-- adds a suspect that the exact grouping below clears). A key held twice is found by sorting each
-- file's hashes and comparing each with the one before: nearly every key is unique, and grouping
-- tens of millions of unique hashes cost half as much again (a country's 340 files: 7.7 s against
-- 5.2 s for the whole model). Materialized: both sources' rows below read it, and DuckDB would
-- otherwise sort every key once per reference
suspects as materialized (
    {%- for rows, table in [('vpr_rows', 'vpr_results'), ('gia_rows', 'gia_results')] %}
    {%- if not loop.first %}
    union all
    {%- endif %}
    select distinct '{{ table }}' as source_table, file_id, key_hash
    from (
        select
            file_id,
            key_hash,
            has_null_key,
            lag(key_hash) over (partition by file_id order by key_hash) as previous_hash
        from {{ rows }}
    ) as sorted_hashes
    where has_null_key or key_hash = previous_hash
    {%- endfor %}
),

suspect_rows as (
    {%- for rows, table in [('vpr_rows', 'vpr_results'), ('gia_rows', 'gia_results')] %}
    {%- if not loop.first %}
    union all
    {%- endif %}
    select {{ rows }}.*
    from {{ rows }}
    semi join suspects
        on suspects.source_table = '{{ table }}'
        and {{ rows }}.file_id = suspects.file_id
        and {{ rows }}.key_hash = suspects.key_hash
    {%- endfor %}
),

-- a key held by more than one row of a file, or with a NULL in a key column
violations as (
    select
        source_table,
        file_id,
        year,
        school_code,
        exam,
        grade,
        subject_key,
        participant_code,
        wave,
        any_value(source_file) as source_file,
        count(*) as n_rows,
        min(source_row_number) as first_row_number,
        max(source_row_number) as last_row_number,
        string_agg(distinct null_columns, '; ' order by null_columns) as null_columns
    from suspect_rows
    group by all
    having count(*) > 1 or count(null_columns) > 0
),

violations_by_file as (
    select
        source_table,
        file_id,
        list(
            struct_pack(
                year, school_code, exam, grade, subject_key, participant_code, wave, source_file,
                n_rows, first_row_number, last_row_number, null_columns
            )
            order by year, school_code, exam, grade, subject_key, participant_code, wave
        ) as violations
    from violations
    group by all
),

final as (
    select
        to_check.source_table,
        to_check.file_id,
        to_check.file_hash,
        to_check.n_rows as rows_checked,
        coalesce(len(violations_by_file.violations), 0) as n_violations,
        violations_by_file.violations,
        '{{ fingerprint }}' as code_fingerprint,
        '{{ invocation_id }}' as checked_by_invocation
    from to_check
    left join violations_by_file
        on to_check.source_table = violations_by_file.source_table
        and to_check.file_id = violations_by_file.file_id
)

select * from final
