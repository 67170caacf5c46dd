-- Transitions between consecutive ШНОР lists (динамика на основе кластеризации ФИОКО), one row
-- per school of the later list and pair of list years: the FIOKO cluster in each list (none <
-- basic < moderate < severe; schools reorganised into this one count with their worst cluster)
-- and the transition type and direction of seed 003. Only consecutive lists that could both be
-- computed are compared. A school of the earlier list that closed without a successor carrying it
-- on is in the later pair too: it left the list (is_closed).
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

-- fct_shnor_list holds only the list years that could be computed; consecutive ones are compared
list_pairs as (
    select distinct list_year as list_year_to
    from shnor_list
    where list_year - 1 in (select earlier_lists.list_year from shnor_list as earlier_lists)
),

-- each school of the earlier list, carried to the school that continues it by the later list's
-- results year (the furthest hop of its reorganisations already in effect)
earlier_continued as (
    select
        coalesce(successors.successor_school_id, ranked.school_id) as school_id,
        ranked.school_id as from_school_id,
        ranked.list_year + 1 as list_year_to,
        ranked.cluster_rank
    from ranked
    left join successors
        on ranked.school_id = successors.old_school_id
        and successors.first_results_year_under_successor <= ranked.results_year + 1
    qualify row_number() over (
        partition by ranked.school_id, ranked.list_year
        order by successors.depth desc nulls last
    ) = 1
),

earlier as (
    select
        school_id,
        list_year_to,
        max(cluster_rank) as cluster_rank_from,
        string_agg(from_school_id, ', ' order by from_school_id) as from_school_ids
    from earlier_continued
    group by school_id, list_year_to
),

later as (
    select ranked.*
    from ranked
    inner join list_pairs on ranked.list_year = list_pairs.list_year_to
),

-- every school of the later list, and every school of the earlier list that is not in the later
-- one at all (closed without a successor that carries it on): it left the list
compared as (
    select
        coalesce(later.school_id, earlier.school_id) as school_id,
        coalesce(later.list_year, earlier.list_year_to) - 1 as list_year_from,
        coalesce(later.list_year, earlier.list_year_to) as list_year_to,
        coalesce(earlier.cluster_rank_from, 0) as cluster_rank_from,
        coalesce(later.cluster_rank, 0) as cluster_rank_to,
        later.school_id is null as is_closed,
        earlier.from_school_ids
    from later
    full outer join earlier
        on later.school_id = earlier.school_id
        and later.list_year = earlier.list_year_to
    where
        later.school_id is not null
        or (
            earlier.cluster_rank_from > 0
            and earlier.list_year_to in (select list_pairs.list_year_to from list_pairs)
        )
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
        typed.is_closed,
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
