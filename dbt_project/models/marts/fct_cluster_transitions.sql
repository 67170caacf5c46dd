-- Transitions between consecutive ШНОР lists (динамика на основе кластеризации ФИОКО), one row
-- per school of the later list and pair of list years: the FIOKO cluster in each list (none <
-- basic < moderate < severe; schools reorganised into this one count with their worst cluster)
-- and the transition type and direction of seed 003. Only pairs of lists that both had a
-- previous results year to check persistence against are compared.
with

shnor_list as (
    select * from {{ ref('fct_shnor_list') }}
),

successors as (
    select * from {{ ref('int_school_successors') }}
),

clusters as (
    select fioko_cluster, cluster_rank, cluster_name_ru from {{ ref('fioko_clusters') }}
),

transition_types as (
    select * from {{ ref('cluster_transition_types') }}
),

profile as (
    select * from {{ ref('int_methodology_profile') }}
),

ranked as (
    select
        school_id,
        list_year,
        results_year,
        case when is_shnor then fioko_cluster_rank else 0 end as cluster_rank
    from shnor_list
),

comparable_lists as (
    select list_year from shnor_list
    group by list_year
    having bool_and(prior_results_available)
),

list_pairs as (
    select list_year as list_year_to
    from comparable_lists
    where list_year - 1 in (select earlier_lists.list_year from comparable_lists as earlier_lists)
),

-- the earlier list, carried to the school that continues each school by the later list
earlier as (
    select
        coalesce(successors.successor_school_id, ranked.school_id) as school_id,
        ranked.list_year + 1 as list_year_to,
        max(ranked.cluster_rank) as cluster_rank_from,
        string_agg(ranked.school_id, ', ' order by ranked.school_id) as from_school_ids
    from ranked
    left join successors
        on ranked.school_id = successors.old_school_id
        and successors.first_results_year_under_successor <= ranked.results_year + 1
    group by all
),

later as (
    select ranked.*
    from ranked
    inner join list_pairs on ranked.list_year = list_pairs.list_year_to
),

compared as (
    select
        later.school_id,
        later.list_year - 1 as list_year_from,
        later.list_year as list_year_to,
        coalesce(earlier.cluster_rank_from, 0) as cluster_rank_from,
        later.cluster_rank as cluster_rank_to,
        earlier.from_school_ids
    from later
    left join earlier
        on later.school_id = earlier.school_id
        and later.list_year = earlier.list_year_to
),

typed as (
    select
        compared.*,
        case
            when compared.cluster_rank_from = 0 and compared.cluster_rank_to = 0 then 'not_listed'
            when compared.cluster_rank_from = 0 then 'newly_listed'
            when compared.cluster_rank_to = 0 then 'left_list'
            when compared.cluster_rank_to < compared.cluster_rank_from then 'improved_cluster'
            when compared.cluster_rank_to > compared.cluster_rank_from then 'worsened_cluster'
            else 'unchanged'
        end as transition_type
    from compared
),

final as (
    select
        typed.school_id,
        typed.list_year_from,
        typed.list_year_to,
        coalesce(from_cluster.fioko_cluster, 'none') as cluster_from,
        from_cluster.cluster_name_ru as cluster_from_ru,
        coalesce(to_cluster.fioko_cluster, 'none') as cluster_to,
        to_cluster.cluster_name_ru as cluster_to_ru,
        typed.cluster_rank_from,
        typed.cluster_rank_to,
        typed.transition_type,
        transition_types.transition_type_ru,
        case
            when typed.transition_type = 'not_listed' then profile.transition_not_listed_direction
            else transition_types.direction
        end as transition_direction,
        typed.from_school_ids,
        profile.profile_name,
        profile.profile_version
    from typed
    cross join profile
    left join clusters as from_cluster on typed.cluster_rank_from = from_cluster.cluster_rank
    left join clusters as to_cluster on typed.cluster_rank_to = to_cluster.cluster_rank
    left join transition_types on typed.transition_type = transition_types.transition_type
)

select * from final
