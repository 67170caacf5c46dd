-- The selected methodology profile as one wide row (profile parameters are seed data).
with

parameters as (
    select * from {{ ref('methodology_profiles') }}
    where profile_name = '{{ methodology_profile() }}'
),

final as (
    select
        profile_name,
        profile_version,
        cast(max(case when parameter = 'fail_share_threshold' then value end) as double) as fail_share_threshold,
        cast(max(case when parameter = 'threshold_inclusive' then value end) as boolean) as threshold_inclusive,
        cast(max(case when parameter = 'min_participants' then value end) as integer) as min_participants,
        cast(max(case when parameter = 'min_flagged_procedures' then value end) as integer) as min_flagged_procedures,
        cast(max(case when parameter = 'require_persistence' then value end) as boolean) as require_persistence,
        max(case when parameter = 'rule_combination' then value end) as rule_combination,
        cast(max(case when parameter = 'list_year_offset' then value end) as integer) as list_year_offset,
        max(case when parameter = 'cluster_measure' then value end) as cluster_measure,
        cast(max(case when parameter = 'cluster_moderate_from' then value end) as double) as cluster_moderate_from,
        cast(max(case when parameter = 'cluster_severe_above' then value end) as double) as cluster_severe_above
    from parameters
    group by profile_name, profile_version
)

select * from final
