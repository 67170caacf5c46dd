-- Procedures not conducted (seed 003, «Доля школ, в которых не проводились соответствующие
-- оценочные процедуры»), one row per report group, reported procedure and results year: how
-- many schools of the group had no participant in the procedure that year, and how many of
-- those have no such grade at all (e.g. ЕГЭ in a basic school without grade 11).
with

procedure_results as (
    select school_id, procedure_code, year, participants from {{ ref('fct_procedure_results') }}
),

school_groups as (
    select school_id, year, group_code, group_name_ru, group_kind from {{ ref('dim_school_group') }}
),

schools as (
    select school_id, year, has_grade_9, has_grade_11 from {{ ref('dim_school') }}
),

profile as (
    select * from {{ ref('int_methodology_profile') }}
),

profile_procedures as (
    select * from {{ ref('methodology_profile_procedures') }}
),

procedures as (
    select procedure_code, procedure_name_ru, exam, grade from {{ ref('procedures') }}
),

reported_procedures as (
    select procedures.*
    from profile_procedures
    inner join profile on profile_procedures.profile_name = profile.profile_name
    inner join procedures on profile_procedures.procedure_code = procedures.procedure_code
    where profile_procedures.in_reports
),

results_years as (
    select distinct year from procedure_results
),

grid as (
    select
        school_groups.group_code,
        school_groups.group_name_ru,
        school_groups.group_kind,
        school_groups.school_id,
        school_groups.year,
        reported_procedures.procedure_code,
        reported_procedures.procedure_name_ru,
        procedure_results.participants > 0 as is_conducted,
        case reported_procedures.grade
            when 9 then not schools.has_grade_9
            when 11 then not schools.has_grade_11
            else false
        end as is_without_grade
    from school_groups
    inner join results_years on school_groups.year = results_years.year
    cross join reported_procedures
    left join schools
        on school_groups.school_id = schools.school_id
        and school_groups.year = schools.year
    left join procedure_results
        on school_groups.school_id = procedure_results.school_id
        and school_groups.year = procedure_results.year
        and reported_procedures.procedure_code = procedure_results.procedure_code
),

grouped as (
    select
        group_code,
        group_name_ru,
        group_kind,
        procedure_code,
        procedure_name_ru,
        year,
        count(*) as n_schools,
        count(*) filter (where is_conducted) as n_conducted,
        count(*) filter (where is_conducted is null) as n_not_conducted,
        count(*) filter (where is_conducted is null and is_without_grade) as n_not_conducted_without_grade
    from grid
    group by all
),

final as (
    select
        grouped.group_code,
        grouped.group_name_ru,
        grouped.group_kind,
        grouped.procedure_code,
        grouped.procedure_name_ru,
        grouped.year,
        grouped.n_schools,
        grouped.n_conducted,
        grouped.n_not_conducted,
        grouped.n_not_conducted / grouped.n_schools as not_conducted_share,
        grouped.n_not_conducted_without_grade,
        profile.profile_name,
        profile.profile_version
    from grouped
    cross join profile
)

select * from final
