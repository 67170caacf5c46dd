-- The ШНОР list by FIOKO cluster (seed 003, «Сильно / умеренно / базово неуспевающие»), one
-- row per list year and cluster plus a total row (fioko_cluster = 'total'): listed schools,
-- their share of the list and of all schools, how many were already on the previous list
-- (with reorganised predecessors) and how many have been in a support programme. Every list year
-- of dim_list_year has its rows; a list year without a list (not computable) carries NULL counts
-- and its status («нет списка»), never 0 listed schools.
with

shnor_list as (
    select * from {{ ref('fct_shnor_list') }}
),

transitions as (
    select school_id, list_year_to, cluster_rank_from from {{ ref('fct_cluster_transitions') }}
),

schools as (
    select school_id, year, support_programmes_to_date from {{ ref('dim_school') }}
),

clusters as (
    select fioko_cluster, cluster_rank, cluster_name_ru from {{ ref('fioko_clusters') }}
),

profile as (
    select profile_name, profile_version from {{ ref('int_methodology_profile') }}
),

list_years as (
    select
        list_year,
        results_year,
        n_schools,
        n_listed as n_listed_total,
        is_computable,
        list_status,
        list_status_ru
    from {{ ref('dim_list_year') }}
),

compared_years as (
    select distinct list_year_to from transitions
),

cluster_rows as (
    select fioko_cluster, cluster_rank, cluster_name_ru from clusters
    union all
    select 'total' as fioko_cluster, 0 as cluster_rank, 'Всего ШНОР' as cluster_name_ru
),

listed as (
    select
        shnor_list.list_year,
        shnor_list.fioko_cluster,
        transitions.cluster_rank_from > 0 as was_listed_before,
        schools.support_programmes_to_date is not null as is_supported
    from shnor_list
    left join transitions
        on shnor_list.school_id = transitions.school_id
        and shnor_list.list_year = transitions.list_year_to
    left join schools
        on shnor_list.school_id = schools.school_id
        and shnor_list.results_year = schools.year
    where shnor_list.is_shnor
),

grid as (
    select
        list_years.*,
        cluster_rows.fioko_cluster,
        cluster_rows.cluster_rank,
        cluster_rows.cluster_name_ru,
        list_years.list_year in (select compared_years.list_year_to from compared_years) as is_compared
    from list_years
    cross join cluster_rows
),

counted as (
    select
        grid.list_year,
        grid.results_year,
        grid.fioko_cluster,
        grid.cluster_name_ru,
        grid.cluster_rank,
        grid.n_schools,
        grid.n_listed_total,
        grid.is_computable,
        grid.list_status,
        grid.list_status_ru,
        grid.is_compared,
        count(listed.list_year) as n_listed,
        count(*) filter (where listed.was_listed_before) as n_listed_before,
        count(*) filter (where listed.is_supported) as n_supported
    from grid
    left join listed
        on grid.list_year = listed.list_year
        and (grid.fioko_cluster = 'total' or grid.fioko_cluster = listed.fioko_cluster)
    group by all
),

final as (
    select
        counted.list_year,
        counted.results_year,
        counted.fioko_cluster,
        counted.cluster_name_ru as fioko_cluster_ru,
        counted.cluster_rank as fioko_cluster_rank,
        case when counted.is_computable then counted.n_listed end as n_listed,
        case when counted.is_computable then counted.n_listed / nullif(counted.n_listed_total, 0) end as cluster_share,
        counted.n_schools,
        case when counted.is_computable then counted.n_listed / counted.n_schools end as listed_share,
        case when counted.is_compared then counted.n_listed_before end as n_listed_before,
        case when counted.is_compared then counted.n_listed - counted.n_listed_before end as n_newly_listed,
        case when counted.is_computable then counted.n_supported end as n_supported,
        counted.list_status,
        counted.list_status_ru,
        profile.profile_name,
        profile.profile_version
    from counted
    cross join profile
)

select * from final
