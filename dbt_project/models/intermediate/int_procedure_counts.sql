{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='year',
    on_schema_change='sync_all_columns',
    post_hook="delete from {{ this }} as t where not exists (select 1 from {{ ref('int_result_inputs_by_year') }} as f where f.year = t.year and f.input_fingerprint = t.input_fingerprint)"
) }}
{#- Incremental by results year: only the years whose inputs changed (int_result_inputs_by_year)
    are counted again and replace that year's rows; the post-hook removes the rows of any year
    whose inputs changed but that counts nothing now. A first build, or `dbt build --full-refresh`,
    counts every year. The student-level results are the large facts (tens of millions of rows a
    year for a whole country): a nightly load that brings one year's files reads that year only.
    The year-local models downstream know a year's counts by its input_fingerprint alone
    (year_local_known_digest): every input of these counts must be in that fingerprint
    (int_result_inputs_by_year), as the raw result files, the school codes and the code are. -#}
{%- set years_to_count = none -%}
{%- if execute and is_incremental()
        and 'input_fingerprint' in (adapter.get_columns_in_relation(this) | map(attribute='name') | list) -%}
    {#- (a table built before the fingerprint existed is counted again in full) -#}
    {%- set years_to_count = years_not_built(ref('int_result_inputs_by_year'), this) -%}
    {%- do log("int_procedure_counts: counting years " ~ (years_to_count | join(", ") or "none"), info=true) -%}
{%- endif -%}
{%- do note_years_computed('year', years_to_count) -%}
{%- set year_filter = "" -%}
{%- if years_to_count is not none -%}
    {%- set year_filter = " and " ~ (year_in('year', years_to_count) if years_to_count else "false") -%}
{%- endif %}

-- Participants (N) and failing results (F) per school, procedure and year. Student-level
-- rows are counted where they exist; VPR school statistics fill the rest, so that the two
-- delivery forms give the same N and F.
with

-- the counted attempts (int_assessment_results.is_counted_attempt) without ordering every row:
-- nearly every participant has one main-period attempt at a procedure in a year, and that one
-- counts; only the attempts of keys held more than once are ordered. A key is one 8-byte hash
-- (tens of millions of them stay in memory where the strings spill); a hash collision only
-- sends more rows to the exact ordering. The repeated keys are found by sorting the hashes and
-- comparing each with the one before: nearly every key is unique, and grouping tens of millions
-- of unique hashes costs twice the sort (a country's two years: 7.7 s against 5.0 s, the
-- attempts' own 2.3 s included; the whole model 17.7 s against 12.7 s). The attempts are not
-- materialized: reading the view again (once for the keys, once for the single attempts, once
-- for the few repeated ones) costs less than writing tens of millions of rows with their
-- participant codes; the repeated keys are (both branches read them, and DuckDB would otherwise
-- sort every key twice).
attempts as not materialized (
    select
        school_id,
        procedure_code,
        year,
        participant_code,
        is_participant,
        is_failing,
        wave_order,
        file_id,
        source_row_number,
        hash(year, school_id, procedure_code, participant_code) as attempt_key
    from {{ ref('int_assessment_results') }}
    where is_main_period and procedure_code is not null and school_id is not null{{ year_filter }}
),

repeated_keys as materialized (
    select distinct attempt_key
    from (
        select attempt_key, lag(attempt_key) over (order by attempt_key) as previous_key
        from attempts
    ) as sorted_keys
    where attempt_key = previous_key
),

counted_attempts as (
    select attempts.*
    from attempts
    anti join repeated_keys on attempts.attempt_key = repeated_keys.attempt_key
    union all
    select attempts.*
    from attempts
    semi join repeated_keys on attempts.attempt_key = repeated_keys.attempt_key
    qualify row_number() over (
        partition by attempts.year, attempts.school_id, attempts.procedure_code, attempts.participant_code
        order by {{ counted_attempt_order(
            'attempts.is_participant', 'attempts.wave_order', 'attempts.file_id', 'attempts.source_row_number'
        ) }}
    ) = 1
),

student_level as (
    select
        school_id,
        procedure_code,
        year,
        cast(count(*) filter (where is_participant) as bigint) as participants,
        cast(count(*) filter (where is_failing) as bigint) as failing,
        'student_results' as result_source
    from counted_attempts
    group by school_id, procedure_code, year
),

inputs as (
    select year, input_fingerprint from {{ ref('int_result_inputs_by_year') }}
),

school_level as (
    select
        school_id,
        procedure_code,
        year,
        participants,
        failing,
        'school_statistics' as result_source
    from ({{ vpr_school_statistics_counts(year_filter) }})
),

counted as (
    select * from student_level
    where participants > 0
    union all
    select * from school_level
    where not exists (
        select 1 from student_level
        where student_level.school_id = school_level.school_id
            and student_level.procedure_code = school_level.procedure_code
            and student_level.year = school_level.year
            and student_level.participants > 0
    )
),

final as (
    select
        counted.school_id,
        counted.procedure_code,
        counted.year,
        counted.participants,
        counted.failing,
        counted.result_source,
        inputs.input_fingerprint,
        cast(current_timestamp as timestamp) as counted_at
    from counted
    left join inputs on counted.year = inputs.year
)

select * from final
