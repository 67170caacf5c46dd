-- Delivery completeness (полнота поступления данных), one row per results year, municipality and
-- source: how many schools of the registry should have delivered the source that year, how many
-- did, and whether the municipality's delivery is complete. An incomplete year is served with its
-- completeness visible and blocks only the publications that depend on it (dim_list_year).
-- Rules (thresholds none: a gap is a gap):
--   results: every registry school with students has results of some procedure (ВПР, ОГЭ or ЕГЭ);
--     a municipality whose file is late has none at all. This is what a list depends on
--     (int_results_completeness), with the procedures that vanished region-wide (a lost subject file);
--   vpr: every registry school with students has ВПР results (per student or school statistics);
--   oge / ege: a municipality with schools that have a 9th (11th) grade delivered ОГЭ (ЕГЭ) results
--     for at least one of them (a school without graduates in a year is normal; gaps of single
--     schools are a warning check);
--   social_passport / resource_survey: every registry school with students delivered its row.
-- A school reorganised that year counts as delivered when it or its partner (successor or
-- predecessor) delivered.
with

registry as (
    select
        school_id,
        registry_year as year,
        municipality_code,
        municipality_name,
        has_grade_9,
        has_grade_11
    from {{ ref('stg_registry__schools') }}
    where coalesce(enrolment, 1) > 0
),

counts as (
    select school_id, year, procedure_code from {{ ref('int_procedure_counts') }}
),

procedures as (
    select procedure_code, exam from {{ ref('procedures') }}
),

social_passport as (
    select distinct school_id, year from {{ ref('stg_surveys__social_passport') }}
),

resource_survey as (
    select distinct school_id, year from {{ ref('stg_surveys__resource_survey') }}
),

reorganised as (
    select old_school_id as school_id, new_school_id as partner_id
    from {{ ref('stg_registry__school_successors') }}
    union
    select new_school_id as school_id, old_school_id as partner_id
    from {{ ref('stg_registry__school_successors') }}
),

sources as (
    select 'results' as source, 'Результаты (ВПР, ОГЭ, ЕГЭ)' as source_ru
    union all
    select 'vpr' as source, 'ВПР' as source_ru
    union all
    select 'oge' as source, 'ОГЭ' as source_ru
    union all
    select 'ege' as source, 'ЕГЭ' as source_ru
    union all
    select 'social_passport' as source, 'Социальный паспорт (показатели ИСБШ)' as source_ru
    union all
    select 'resource_survey' as source, 'Мониторинг ресурсов' as source_ru
),

delivered_own as (
    select distinct counts.school_id, counts.year, lower(procedures.exam) as source
    from counts
    inner join procedures on counts.procedure_code = procedures.procedure_code
    union
    select distinct school_id, year, 'results' as source from counts
    union
    select school_id, year, 'social_passport' as source from social_passport
    union
    select school_id, year, 'resource_survey' as source from resource_survey
),

delivered as (
    select school_id, year, source from delivered_own
    union
    select reorganised.school_id, delivered_own.year, delivered_own.source
    from delivered_own
    inner join reorganised on delivered_own.school_id = reorganised.partner_id
),

expected as (
    select
        registry.school_id,
        registry.year,
        registry.municipality_code,
        registry.municipality_name,
        sources.source,
        sources.source_ru
    from registry
    cross join sources
    where
        sources.source in ('results', 'vpr', 'social_passport', 'resource_survey')
        or (sources.source = 'oge' and coalesce(registry.has_grade_9, false))
        or (sources.source = 'ege' and coalesce(registry.has_grade_11, false))
),

municipalities as (
    select distinct registry.year, registry.municipality_code, sources.source, sources.source_ru
    from registry
    cross join sources
),

per_school as (
    select
        expected.*,
        delivered.school_id is not null as has_delivered
    from expected
    left join delivered
        on expected.school_id = delivered.school_id
        and expected.year = delivered.year
        and expected.source = delivered.source
),

grouped as (
    select
        municipalities.year,
        municipalities.municipality_code,
        municipalities.source,
        municipalities.source_ru,
        any_value(per_school.municipality_name) as municipality_name,
        count(per_school.school_id) as n_expected_schools,
        count(per_school.school_id) filter (where per_school.has_delivered) as n_delivered_schools,
        string_agg(per_school.school_id, ', ' order by per_school.school_id)
            filter (where not per_school.has_delivered) as missing_school_ids
    from municipalities
    left join per_school
        on municipalities.year = per_school.year
        and municipalities.municipality_code = per_school.municipality_code
        and municipalities.source = per_school.source
    group by all
),

names as (
    select year, municipality_code, any_value(municipality_name) as municipality_name
    from registry
    group by all
),

final as (
    select
        grouped.year,
        grouped.municipality_code,
        names.municipality_name,
        grouped.source,
        grouped.source_ru,
        grouped.n_expected_schools,
        grouped.n_delivered_schools,
        grouped.n_expected_schools - grouped.n_delivered_schools as n_missing_schools,
        grouped.missing_school_ids,
        grouped.n_delivered_schools > 0 as is_municipality_delivered,
        case
            when grouped.source in ('oge', 'ege')
                then grouped.n_expected_schools = 0 or grouped.n_delivered_schools > 0
            else grouped.n_delivered_schools = grouped.n_expected_schools
        end as is_complete
    from grouped
    inner join names
        on grouped.year = names.year
        and grouped.municipality_code = names.municipality_code
)

select * from final
