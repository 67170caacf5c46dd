-- Cluster transitions by report group (seed 003, «Динамика образовательных результатов на
-- основе кластеризации по степени неосвоения образовательной программы»), one row per group
-- and pair of list years: schools that improved a cluster or left the list (positive), kept
-- their cluster (neutral), worsened or were newly listed (negative). Group membership is taken
-- in the earlier list year; the group «ШНОР» is the schools on the earlier list, a school counting
-- when it or a school reorganised into it was listed. A listed school that closed without a
-- successor counts as having left the list («вышли из списка ШНОР»: it is no longer on it) and is
-- shown again apart in n_closed («из них закрыты»), so the table accounts for every school of the
-- earlier list.
with

transitions as (
    select * from {{ ref('fct_cluster_transitions') }}
),

school_groups as (
    select school_id, year, group_code, group_name_ru, group_kind from {{ ref('dim_school_group') }}
),

profile as (
    select profile_name, profile_version from {{ ref('int_methodology_profile') }}
),

shnor_group as (
    select distinct group_code, group_name_ru, group_kind from school_groups
    where group_kind = 'shnor_list'
),

memberships as (
    select transitions.*, school_groups.group_code, school_groups.group_name_ru, school_groups.group_kind
    from transitions
    inner join school_groups
        on transitions.school_id = school_groups.school_id
        and transitions.list_year_from = school_groups.year
    where school_groups.group_kind <> 'shnor_list'
    union all
    select transitions.*, shnor_group.group_code, shnor_group.group_name_ru, shnor_group.group_kind
    from transitions
    cross join shnor_group
    where transitions.cluster_rank_from > 0
),

grouped as (
    select
        group_code,
        group_name_ru,
        group_kind,
        list_year_from,
        list_year_to,
        count(*) as n_schools,
        count(*) filter (where transition_type = 'improved_cluster') as n_improved_cluster,
        count(*) filter (where transition_type = 'left_list') as n_left_list,
        count(*) filter (where transition_type = 'left_list' and is_closed) as n_closed,
        count(*) filter (where transition_type = 'unchanged') as n_unchanged,
        count(*) filter (where transition_type = 'not_listed') as n_not_listed,
        count(*) filter (where transition_type = 'worsened_cluster') as n_worsened_cluster,
        count(*) filter (where transition_type = 'newly_listed') as n_newly_listed,
        count(*) filter (where transition_direction = 'positive') as n_positive,
        count(*) filter (where transition_direction = 'neutral') as n_neutral,
        count(*) filter (where transition_direction = 'negative') as n_negative
    from memberships
    group by all
),

final as (
    select
        grouped.group_code,
        grouped.group_name_ru,
        grouped.group_kind,
        grouped.list_year_from,
        grouped.list_year_to,
        grouped.n_schools,
        grouped.n_improved_cluster,
        grouped.n_left_list,
        grouped.n_closed,
        grouped.n_positive,
        grouped.n_positive / grouped.n_schools as positive_share,
        grouped.n_unchanged,
        grouped.n_not_listed,
        grouped.n_neutral,
        grouped.n_neutral / grouped.n_schools as neutral_share,
        grouped.n_worsened_cluster,
        grouped.n_newly_listed,
        grouped.n_negative,
        grouped.n_negative / grouped.n_schools as negative_share,
        profile.profile_name,
        profile.profile_version
    from grouped
    cross join profile
)

select * from final
