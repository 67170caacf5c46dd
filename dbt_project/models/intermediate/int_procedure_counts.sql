{{ config(materialized='table') }}

-- Participants (N) and failing results (F) per school, procedure and year. Student-level
-- rows are counted where they exist; VPR school statistics fill the rest, so that the two
-- delivery forms give the same N and F.
with

student_level as (
    select
        school_id,
        procedure_code,
        year,
        cast(count(*) filter (where is_participant) as bigint) as participants,
        cast(count(*) filter (where is_failing) as bigint) as failing,
        'student_results' as result_source
    from {{ ref('int_assessment_results') }}
    where is_counted_attempt and procedure_code is not null and school_id is not null
    group by school_id, procedure_code, year
),

stats as (
    select * from {{ ref('stg_vpr__school_stats') }}
),

codes as (
    select code, school_id from {{ ref('int_school_codes') }}
),

subjects as (
    select subject_alias, subject_code from {{ ref('subject_aliases') }}
),

procedures as (
    select procedure_code, exam, subject_code, grade from {{ ref('procedures') }}
),

school_level as (
    select
        codes.school_id,
        procedures.procedure_code,
        stats.year,
        cast(sum(stats.mark_2 + stats.mark_3 + stats.mark_4 + stats.mark_5) as bigint) as participants,
        cast(sum(stats.mark_2) as bigint) as failing,
        'school_statistics' as result_source
    from stats
    inner join codes on stats.school_code = codes.code
    inner join subjects on stats.subject_alias = subjects.subject_alias
    inner join procedures
        on stats.exam = procedures.exam
        and subjects.subject_code = procedures.subject_code
        and stats.grade = procedures.grade
    group by codes.school_id, procedures.procedure_code, stats.year
),

final as (
    select * from student_level where participants > 0
    union all
    select * from school_level
    where not exists (
        select 1 from student_level
        where student_level.school_id = school_level.school_id
            and student_level.procedure_code = school_level.procedure_code
            and student_level.year = school_level.year
            and student_level.participants > 0
    )
)

select * from final
