-- One row per school and list year: is the school a low-result school (ШНОР) under the
-- selected methodology profile, why, and its FIOKO severity cluster.
with

results as (
    select * from {{ ref('fct_procedure_results') }}
    where counts_for_list
),

profile as (
    select * from {{ ref('int_methodology_profile') }}
),

clusters as (
    select * from {{ ref('fioko_clusters') }}
),

per_school as (
    select
        school_id,
        year as results_year,
        count(*) filter (where is_flagged) as n_flagged_procedures,
        count(*) filter (where is_flagged and is_prior_flagged) as n_persistent_procedures,
        count(*) filter (where is_informative) as n_informative_procedures,
        sum(failing) filter (where is_flagged) / nullif(sum(participants) filter (where is_flagged), 0)
            as flagged_pooled_share,
        sum(failing) filter (where is_informative) / nullif(sum(participants) filter (where is_informative), 0)
            as all_pooled_share,
        avg(fail_share) filter (where is_flagged) as flagged_mean_share,
        max(fail_share) filter (where is_flagged) as flagged_max_share,
        string_agg(
            case when is_flagged then procedure_name_ru || ' (' || round(fail_share * 100, 1) || '%)' end,
            '; ' order by procedure_code
        ) as flagged_procedures,
        string_agg(
            case when is_flagged and is_prior_flagged then procedure_name_ru end,
            '; ' order by procedure_code
        ) as persistent_procedures
    from results
    group by school_id, year
),

listed as (
    select
        per_school.*,
        profile.profile_name,
        profile.profile_version,
        per_school.results_year + profile.list_year_offset as list_year,
        case profile.rule_combination
            when 'or' then per_school.n_flagged_procedures >= profile.min_flagged_procedures
                or (profile.require_persistence and per_school.n_persistent_procedures > 0)
            else per_school.n_flagged_procedures >= profile.min_flagged_procedures
                and (not profile.require_persistence or per_school.n_persistent_procedures > 0)
        end as is_shnor,
        case profile.cluster_measure
            when 'all_pooled' then per_school.all_pooled_share
            when 'flagged_mean' then per_school.flagged_mean_share
            when 'flagged_max' then per_school.flagged_max_share
            else per_school.flagged_pooled_share
        end as cluster_measure_value,
        profile.cluster_measure,
        profile.cluster_moderate_from,
        profile.cluster_severe_above
    from per_school
    cross join profile
),

final as (
    select
        listed.school_id,
        listed.list_year,
        listed.results_year,
        listed.is_shnor,
        listed.n_flagged_procedures,
        listed.n_persistent_procedures,
        listed.n_informative_procedures,
        listed.flagged_procedures,
        listed.persistent_procedures,
        listed.cluster_measure,
        listed.cluster_measure_value,
        clusters.fioko_cluster,
        clusters.cluster_name_ru as fioko_cluster_ru,
        listed.profile_name,
        listed.profile_version
    from listed
    left join clusters
        on listed.is_shnor
        and clusters.fioko_cluster = case
            when listed.cluster_measure_value > listed.cluster_severe_above then 'severe'
            when listed.cluster_measure_value >= listed.cluster_moderate_from then 'moderate'
            else 'basic'
        end
)

select * from final
