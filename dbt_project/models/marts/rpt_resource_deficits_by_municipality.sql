-- Resource deficits by municipality (seed 003, «Ресурсные дефициты школ»), one row per
-- municipality and year plus a region total row: schools with staffing, infrastructure and
-- both deficits, all schools of the municipality, and the ШНОР of the list in force that year
-- (list_year = year; NULL, «нет списка», when that year has no computed list); counts and shares
-- of all schools of the municipality. A surveyed school whose deficit could not be determined (an
-- input missing, fct_resource_deficits) is not counted as one, nor as none: n_*_deficit_unknown.
with

deficits as (
    select school_id, year, has_resource_survey, has_staffing_deficit, has_infrastructure_deficit, has_both_deficits
    from {{ ref('fct_resource_deficits') }}
),

schools as (
    select school_id, year, municipality_code, municipality_name from {{ ref('dim_school') }}
),

shnor_list as (
    select school_id, list_year, is_shnor from {{ ref('fct_shnor_list') }}
),

list_years as (
    select list_year from {{ ref('dim_list_year') }}
    where is_computable
),

profile as (
    select profile_name, profile_version from {{ ref('int_methodology_profile') }}
),

joined as (
    select
        schools.school_id,
        schools.year,
        schools.municipality_code,
        schools.municipality_name,
        coalesce(deficits.has_resource_survey, false) as has_resource_survey,
        coalesce(deficits.has_staffing_deficit, false) as has_staffing_deficit,
        coalesce(deficits.has_infrastructure_deficit, false) as has_infrastructure_deficit,
        coalesce(deficits.has_both_deficits, false) as has_both_deficits,
        coalesce(deficits.has_resource_survey, false) and deficits.has_staffing_deficit is null
            as is_staffing_unknown,
        coalesce(deficits.has_resource_survey, false) and deficits.has_infrastructure_deficit is null
            as is_infrastructure_unknown,
        coalesce(shnor_list.is_shnor, false) as is_shnor,
        schools.year in (select list_years.list_year from list_years) as has_shnor_list
    from schools
    left join deficits on schools.school_id = deficits.school_id and schools.year = deficits.year
    left join shnor_list on schools.school_id = shnor_list.school_id and schools.year = shnor_list.list_year
),

grouped as (
    select
        year,
        grouping(municipality_code) = 1 as is_region_total,
        coalesce(municipality_code, 'region') as municipality_code,
        case when grouping(municipality_code) = 1 then 'Всего по региону' else any_value(municipality_name) end
            as municipality_name,
        count(*) as n_schools,
        count(*) filter (where has_resource_survey) as n_surveyed,
        count(*) filter (where has_staffing_deficit) as n_staffing_deficit,
        count(*) filter (where has_infrastructure_deficit) as n_infrastructure_deficit,
        count(*) filter (where has_both_deficits) as n_both_deficits,
        count(*) filter (where is_staffing_unknown) as n_staffing_deficit_unknown,
        count(*) filter (where is_infrastructure_unknown) as n_infrastructure_deficit_unknown,
        count(*) filter (where is_shnor) as n_shnor,
        bool_and(has_shnor_list) as has_shnor_list
    from joined
    group by grouping sets ((year, municipality_code), (year))
),

final as (
    select
        grouped.municipality_code,
        grouped.municipality_name,
        grouped.year,
        grouped.is_region_total,
        grouped.n_schools,
        grouped.n_surveyed,
        grouped.n_staffing_deficit,
        grouped.n_staffing_deficit / grouped.n_schools as staffing_deficit_share,
        grouped.n_infrastructure_deficit,
        grouped.n_infrastructure_deficit / grouped.n_schools as infrastructure_deficit_share,
        grouped.n_both_deficits,
        grouped.n_both_deficits / grouped.n_schools as both_deficits_share,
        grouped.n_staffing_deficit_unknown,
        grouped.n_infrastructure_deficit_unknown,
        grouped.has_shnor_list,
        case when grouped.has_shnor_list then grouped.n_shnor end as n_shnor,
        case when grouped.has_shnor_list then grouped.n_shnor / grouped.n_schools end as shnor_share,
        profile.profile_name,
        profile.profile_version
    from grouped
    cross join profile
)

select * from final
