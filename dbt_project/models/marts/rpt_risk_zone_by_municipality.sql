-- Schools in the risk zone by municipality (seed 003, «Школы, функционирующие в условиях
-- риска снижения образовательных результатов»), one row per municipality and year plus a region
-- total row: risk-zone schools (bottom ИСБШ quartile), their share of the schools with an index
-- (seed 003 counts 330 schools with an index of 335 and divides by the schools with an index), and
-- how many of them are on the ШНОР list in force that year (NULL, «нет списка», when that year has
-- no computed list) or have been in a support programme.
with

isbsh as (
    select school_id, year, isbsh, is_risk_zone from {{ ref('fct_isbsh') }}
),

schools as (
    select school_id, year, municipality_code, municipality_name, support_programmes_to_date
    from {{ ref('dim_school') }}
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
        isbsh.isbsh is not null as has_isbsh,
        coalesce(isbsh.is_risk_zone, false) as is_risk_zone,
        coalesce(shnor_list.is_shnor, false) as is_shnor,
        schools.support_programmes_to_date is not null as is_supported,
        schools.year in (select list_years.list_year from list_years) as has_shnor_list
    from schools
    left join isbsh on schools.school_id = isbsh.school_id and schools.year = isbsh.year
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
        count(*) filter (where has_isbsh) as n_with_isbsh,
        count(*) filter (where is_risk_zone) as n_risk_zone,
        count(*) filter (where is_risk_zone and is_shnor) as n_risk_zone_shnor,
        count(*) filter (where is_risk_zone and is_supported) as n_risk_zone_supported,
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
        grouped.n_with_isbsh,
        grouped.n_risk_zone,
        grouped.n_risk_zone / nullif(grouped.n_with_isbsh, 0) as risk_zone_share,
        grouped.has_shnor_list,
        case when grouped.has_shnor_list then grouped.n_risk_zone_shnor end as n_risk_zone_shnor,
        grouped.n_risk_zone_supported,
        profile.profile_name,
        profile.profile_version
    from grouped
    cross join profile
)

select * from final
