-- a table, not a view: read by several models, tests and checks, computed once per build
{{ config(materialized='table') }}

-- Are the results of a year complete enough to build a list on, per municipality: one row per
-- results year and municipality of the registry. Every school with students has results
-- (fct_delivery_completeness, source results: a late municipality has none), and no procedure that
-- counts for the list under the selected profile vanished region-wide (int_procedure_coverage: a
-- lost subject file; a ВПР-only profile is not held up by a lost ОГЭ file). reason_ru says in words
-- what is missing.
with

completeness as (
    select * from {{ ref('fct_delivery_completeness') }}
),

coverage as (
    select * from {{ ref('int_procedure_coverage') }}
),

profile as (
    select profile_name from {{ ref('int_methodology_profile') }}
),

profile_procedures as (
    select profile_procedures.procedure_code
    from {{ ref('methodology_profile_procedures') }} as profile_procedures
    inner join profile on profile_procedures.profile_name = profile.profile_name
    where profile_procedures.counts_for_list
),

procedures as (
    select procedure_code, exam, procedure_name_ru from {{ ref('procedures') }}
),

not_held as (
    select year, procedure_code from {{ ref('procedures_not_held') }}
),

-- each exam's results in the region a year: the schools the registry expects to have them, and
-- those that have
by_exam as (
    select
        year,
        source,
        any_value(source_ru) as source_ru,
        sum(n_expected_schools) as n_expected_schools,
        sum(n_delivered_schools) as n_delivered_schools
    from completeness
    where source in ('vpr', 'oge', 'ege')
    group by year, source
),

vanished as (
    select
        coverage.year,
        string_agg(
            procedures.procedure_name_ru || ': ' || coverage.n_schools_continuing || ' из '
            || coverage.n_schools_previous_year || ' школ, у которых были результаты в '
            || (coverage.year - 1) || ' году, имеют их в ' || coverage.year || ' (потерян файл предмета?)',
            '; ' order by coverage.procedure_code
        ) as vanished_ru
    from coverage
    inner join profile_procedures on coverage.procedure_code = profile_procedures.procedure_code
    inner join procedures on coverage.procedure_code = procedures.procedure_code
    where coverage.is_vanished
    group by coverage.year
),

-- an exam that counts for the list with no result at all in the region in a year when the
-- registry has schools that should have it (a 9th grade for ОГЭ, an 11th for ЕГЭ, students for
-- ВПР): its files were not delivered, or none of their rows loaded (a missing code crosswalk
-- quarantines them). The rule above compares a year with the year before; this one holds in the
-- first year too.
-- (an exam whose counted procedures were none of them held that year, seed procedures_not_held,
-- is not expected)
counted_exams as (
    select distinct years.year, lower(procedures.exam) as source
    from (select distinct year from completeness) as years
    cross join profile_procedures
    inner join procedures on profile_procedures.procedure_code = procedures.procedure_code
    where not exists (
        select 1 from not_held
        where not_held.year = years.year and not_held.procedure_code = profile_procedures.procedure_code
    )
),

absent as (
    select
        by_exam.year,
        string_agg(
            by_exam.source_ru || ': ни одного результата в регионе за ' || by_exam.year || ' год, а в реестре '
            || by_exam.n_expected_schools || ' школ, у которых они должны быть (файлы не поступили или их строки '
            || 'в карантине?)',
            '; ' order by by_exam.source
        ) as absent_ru
    from by_exam
    inner join counted_exams on by_exam.year = counted_exams.year and by_exam.source = counted_exams.source
    where by_exam.n_expected_schools > 0 and by_exam.n_delivered_schools = 0
    group by by_exam.year
),

-- a counted procedure with no result at all in the region in a year when its exam's other results
-- came, while the region has it in another loaded year: one subject's file was not delivered. The
-- «vanished» rule sees this from the year before only; this one sees the first year of a region
-- too, and a year before a gap. (a procedure that vanished is said there, not twice; one not held
-- that year, seed procedures_not_held, is not expected)
procedure_years as (
    select distinct year, procedure_code from {{ ref('int_procedure_counts') }}
),

procedure_held_in as (
    select
        procedure_code,
        string_agg(year::varchar, ', ' order by year) || case when count(*) = 1 then ' год' else ' годы' end
            as years_ru
    from procedure_years
    group by procedure_code
),

absent_procedures as (
    select
        by_exam.year,
        string_agg(
            procedures.procedure_name_ru || ': ни одного результата в регионе за ' || by_exam.year
            || ' год, хотя другие результаты ' || by_exam.source_ru || ' за этот год есть, а за '
            || procedure_held_in.years_ru || ' результаты этой процедуры есть (потерян файл предмета?)',
            '; ' order by procedures.procedure_code
        ) as absent_procedures_ru
    from by_exam
    inner join procedures on by_exam.source = lower(procedures.exam)
    inner join profile_procedures on procedures.procedure_code = profile_procedures.procedure_code
    inner join procedure_held_in on procedures.procedure_code = procedure_held_in.procedure_code
    where
        by_exam.n_delivered_schools > 0
        and not exists (
            select 1 from procedure_years
            where procedure_years.year = by_exam.year
                and procedure_years.procedure_code = procedures.procedure_code
        )
        and not exists (
            select 1 from not_held
            where not_held.year = by_exam.year and not_held.procedure_code = procedures.procedure_code
        )
        and not exists (
            select 1 from coverage
            where coverage.year = by_exam.year
                and coverage.procedure_code = procedures.procedure_code
                and coverage.is_vanished
        )
    group by by_exam.year
),

municipal as (
    select
        completeness.year,
        completeness.municipality_code,
        any_value(completeness.municipality_name) as municipality_name,
        bool_and(completeness.is_complete) as is_delivery_complete,
        string_agg(
            case
                when not completeness.is_complete
                    then completeness.source_ru || ': ' || completeness.n_missing_schools || ' из '
                    || completeness.n_expected_schools || ' школ без результатов'
                    || case
                        when completeness.n_missing_schools <= 5 then ' (' || completeness.missing_school_ids || ')'
                        else ''
                    end
            end,
            '; ' order by completeness.source
        ) as missing_ru
    from completeness
    where completeness.source = 'results'
    group by completeness.year, completeness.municipality_code
),

final as (
    select
        municipal.year,
        municipal.municipality_code,
        municipal.municipality_name,
        municipal.is_delivery_complete,
        vanished.vanished_ru is null as has_no_vanished_procedure,
        absent.absent_ru is null as has_no_absent_exam,
        absent_procedures.absent_procedures_ru is null as has_no_absent_procedure,
        municipal.is_delivery_complete and vanished.vanished_ru is null and absent.absent_ru is null
        and absent_procedures.absent_procedures_ru is null as is_complete,
        municipal.missing_ru,
        vanished.vanished_ru,
        nullif(concat_ws('; ', absent.absent_ru, absent_procedures.absent_procedures_ru), '') as absent_ru,
        nullif(
            concat_ws(
                '; ',
                municipal.missing_ru,
                vanished.vanished_ru,
                absent.absent_ru,
                absent_procedures.absent_procedures_ru
            ),
            ''
        ) as reason_ru
    from municipal
    left join vanished on municipal.year = vanished.year
    left join absent on municipal.year = absent.year
    left join absent_procedures on municipal.year = absent_procedures.year
)

select * from final
