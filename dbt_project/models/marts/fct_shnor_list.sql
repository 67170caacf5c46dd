-- One row per school and list year: is the school a low-result school (ШНОР) under the
-- selected methodology profile, why, and its FIOKO severity cluster. Every school of the
-- registry in a results year gets a row (schools without results are not listed). Only list years
-- that can be computed have rows (int_list_years: under a persistence profile the first year of
-- data and the year after a gap have no list; dim_list_year says why). is_results_complete flags
-- rows whose municipality's results (of the results year and, for persistence, the year before)
-- are not all delivered yet: such a list is not published (dim_list_year.is_publishable).
with

procedure_results as (
    select * from {{ ref('fct_procedure_results') }}
),

schools as (
    select school_id, year, municipality_code from {{ ref('dim_school') }}
),

list_years as (
    select * from {{ ref('int_list_years') }}
    where is_computable
),

completeness as (
    select year, municipality_code, is_complete from {{ ref('int_results_completeness') }}
),

region_completeness as (
    select year, bool_and(is_complete) as is_complete
    from completeness
    group by year
),

profile as (
    select * from {{ ref('int_methodology_profile') }}
),

clusters as (
    select * from {{ ref('fioko_clusters') }}
),

counted_results as (
    select * from procedure_results
    where counts_for_list
),

results_years as (
    select distinct year from procedure_results
),

spine as (
    select schools.school_id, schools.year
    from schools
    inner join results_years on schools.year = results_years.year
    union
    select school_id, year from counted_results
),

per_school as (
    select
        spine.school_id,
        spine.year as results_year,
        count(counted_results.procedure_code) as n_counted_procedures,
        count(*) filter (where counted_results.is_informative) as n_informative_procedures,
        count(*) filter (where counted_results.is_flagged) as n_flagged_procedures,
        count(*) filter (where counted_results.is_flagged and counted_results.is_prior_flagged)
            as n_persistent_procedures,
        sum(counted_results.failing) filter (where counted_results.is_flagged)
            / nullif(sum(counted_results.participants) filter (where counted_results.is_flagged), 0)
            as flagged_pooled_share,
        sum(counted_results.failing) filter (where counted_results.is_informative)
            / nullif(sum(counted_results.participants) filter (where counted_results.is_informative), 0)
            as all_pooled_share,
        avg(counted_results.fail_share) filter (where counted_results.is_flagged) as flagged_mean_share,
        max(counted_results.fail_share) filter (where counted_results.is_flagged) as flagged_max_share,
        -- filtered, not a CASE that leaves NULLs to skip: an ordered aggregate sorts every row it
        -- is given (the whole country's counted results: 0.55 → 0.2 s for the model)
        string_agg(
            counted_results.procedure_name_ru || ' (' || round(counted_results.fail_share * 100, 1) || '%)',
            '; ' order by counted_results.procedure_code
        ) filter (where counted_results.is_flagged) as flagged_procedures,
        string_agg(counted_results.procedure_name_ru, '; ' order by counted_results.procedure_code)
            filter (where counted_results.is_flagged and counted_results.is_prior_flagged)
            as persistent_procedures
    from spine
    left join counted_results
        on spine.school_id = counted_results.school_id
        and spine.year = counted_results.year
    group by spine.school_id, spine.year
),

listed as (
    select
        per_school.*,
        per_school.results_year - 1 in (select results_years.year from results_years) as prior_results_available,
        per_school.results_year + profile.list_year_offset as list_year,
        case profile.rule_combination
            when 'or' then per_school.n_flagged_procedures >= profile.min_flagged_procedures
                or (profile.require_persistence and per_school.n_persistent_procedures > 0)
            else per_school.n_flagged_procedures >= profile.min_flagged_procedures
                and (not profile.require_persistence or per_school.n_persistent_procedures > 0)
        end as is_shnor,
        -- rounded to 12 decimals so that a mean of shares lands exactly on a bound (0.4, 0.5)
        round(case profile.cluster_measure
            when 'all_pooled' then per_school.all_pooled_share
            when 'flagged_mean' then per_school.flagged_mean_share
            when 'flagged_max' then per_school.flagged_max_share
            else per_school.flagged_pooled_share
        end, 12) as cluster_measure_value,
        profile.cluster_measure,
        profile.cluster_moderate_from,
        profile.cluster_moderate_inclusive,
        profile.cluster_severe_above,
        profile.cluster_severe_inclusive,
        profile.profile_name,
        profile.profile_version
    from per_school
    cross join profile
    inner join list_years on per_school.results_year + profile.list_year_offset = list_years.list_year
),

flagged as (
    select
        listed.*,
        coalesce(current_municipality.is_complete, current_region.is_complete, false)
        and (
            not profile.require_persistence
            or coalesce(prior_municipality.is_complete, prior_region.is_complete, false)
        ) as is_results_complete
    from listed
    cross join profile
    left join schools on listed.school_id = schools.school_id and listed.results_year = schools.year
    left join completeness as current_municipality
        on listed.results_year = current_municipality.year
        and schools.municipality_code = current_municipality.municipality_code
    left join region_completeness as current_region on listed.results_year = current_region.year
    left join completeness as prior_municipality
        on listed.results_year - 1 = prior_municipality.year
        and schools.municipality_code = prior_municipality.municipality_code
    left join region_completeness as prior_region on listed.results_year - 1 = prior_region.year
),

binned as (
    select
        flagged.*,
        case
            when not flagged.is_shnor then null
            when flagged.cluster_severe_inclusive and flagged.cluster_measure_value >= flagged.cluster_severe_above
                then 'severe'
            when not flagged.cluster_severe_inclusive and flagged.cluster_measure_value > flagged.cluster_severe_above
                then 'severe'
            when flagged.cluster_moderate_inclusive and flagged.cluster_measure_value >= flagged.cluster_moderate_from
                then 'moderate'
            when
                not flagged.cluster_moderate_inclusive
                and flagged.cluster_measure_value > flagged.cluster_moderate_from
                then 'moderate'
            else 'basic'
        end as fioko_cluster
    from flagged
),

final as (
    select
        binned.school_id,
        binned.list_year,
        binned.results_year,
        binned.is_shnor,
        binned.prior_results_available,
        binned.is_results_complete,
        binned.n_counted_procedures,
        binned.n_informative_procedures,
        binned.n_flagged_procedures,
        binned.n_persistent_procedures,
        binned.flagged_procedures,
        binned.persistent_procedures,
        binned.cluster_measure,
        binned.cluster_measure_value,
        binned.fioko_cluster,
        clusters.cluster_name_ru as fioko_cluster_ru,
        clusters.cluster_rank as fioko_cluster_rank,
        binned.profile_name,
        binned.profile_version
    from binned
    left join clusters on binned.fioko_cluster = clusters.fioko_cluster
)

select * from final
