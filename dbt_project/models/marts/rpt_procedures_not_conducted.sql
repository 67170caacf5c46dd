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

-- counted before the procedures are crossed in: a school of a group in a results year with the
-- grades it lacks (NULL: not in the registry that year, then not counted as without the grade),
-- and the schools of each group with a result row of each reported procedure. A whole country's
-- grid of every school, group and procedure (11 million rows) cost most of a night's last model.
group_schools as (
    select
        school_groups.group_code,
        school_groups.group_name_ru,
        school_groups.group_kind,
        school_groups.school_id,
        school_groups.year,
        not schools.has_grade_9 as is_without_grade_9,
        not schools.has_grade_11 as is_without_grade_11
    from school_groups
    inner join results_years on school_groups.year = results_years.year
    left join schools
        on school_groups.school_id = schools.school_id
        and school_groups.year = schools.year
),

group_totals as (
    select
        group_code,
        group_name_ru,
        group_kind,
        year,
        count(*) as n_schools,
        count(*) filter (where is_without_grade_9) as n_without_grade_9,
        count(*) filter (where is_without_grade_11) as n_without_grade_11
    from group_schools
    group by all
),

-- is_conducted (participants > 0) is known where a school has a result row with participants;
-- the others of the group did not conduct the procedure
group_results as (
    select
        group_schools.group_code,
        group_schools.group_name_ru,
        group_schools.group_kind,
        group_schools.year,
        procedure_results.procedure_code,
        count(*) filter (where procedure_results.participants > 0) as n_conducted,
        count(*) filter (where procedure_results.participants is not null) as n_known,
        count(*) filter (
            where procedure_results.participants is not null
            and case reported_procedures.grade
                when 9 then group_schools.is_without_grade_9
                when 11 then group_schools.is_without_grade_11
                else false
            end
        ) as n_known_without_grade
    from group_schools
    inner join procedure_results
        on group_schools.school_id = procedure_results.school_id
        and group_schools.year = procedure_results.year
    inner join reported_procedures on procedure_results.procedure_code = reported_procedures.procedure_code
    group by all
),

grouped as (
    select
        group_totals.group_code,
        group_totals.group_name_ru,
        group_totals.group_kind,
        reported_procedures.procedure_code,
        reported_procedures.procedure_name_ru,
        group_totals.year,
        group_totals.n_schools,
        coalesce(group_results.n_conducted, 0) as n_conducted,
        group_totals.n_schools - coalesce(group_results.n_known, 0) as n_not_conducted,
        case reported_procedures.grade
            when 9 then group_totals.n_without_grade_9
            when 11 then group_totals.n_without_grade_11
            else 0
        end - coalesce(group_results.n_known_without_grade, 0) as n_not_conducted_without_grade
    from group_totals
    cross join reported_procedures
    left join group_results
        on group_totals.group_code = group_results.group_code
        and group_totals.group_name_ru is not distinct from group_results.group_name_ru
        and group_totals.group_kind is not distinct from group_results.group_kind
        and group_totals.year = group_results.year
        and reported_procedures.procedure_code = group_results.procedure_code
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
