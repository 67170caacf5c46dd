{{ config(severity='warn', meta={'dagster': {'ref': {'name': 'int_procedure_counts'}}}) }}
-- a Dagster asset check of int_procedure_counts (it reads the ВПР school statistics too)
{#- Where a school's ВПР came both as per-student results and as school statistics, the
    per-student results are counted (int_procedure_counts); a statistics file that says other
    numbers is named, not silently set aside. #}
with

school_statistics as (
    {{ vpr_school_statistics_counts() }}
),

students as (
    select school_id, procedure_code, year, participants, failing
    from {{ ref('int_procedure_counts') }}
    where result_source = 'student_results'
)

select
    school_statistics.school_id,
    school_statistics.procedure_code,
    school_statistics.year,
    students.participants as counted_participants,
    school_statistics.participants as statistics_participants,
    students.failing as counted_failing,
    school_statistics.failing as statistics_failing,
    school_statistics.source_files as statistics_files
from school_statistics
inner join students
    on school_statistics.school_id = students.school_id
    and school_statistics.procedure_code = students.procedure_code
    and school_statistics.year = students.year
where
    school_statistics.participants <> students.participants
    or school_statistics.failing <> students.failing
