-- The selected methodology profile as one typed row (profile parameters are seed data).
with

parameters as (
    select profile_name, profile_version, parameter, value
    from {{ ref('methodology_profiles') }}
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
        cast(max(case when parameter = 'cluster_moderate_inclusive' then value end) as boolean) as cluster_moderate_inclusive,
        cast(max(case when parameter = 'cluster_severe_above' then value end) as double) as cluster_severe_above,
        cast(max(case when parameter = 'cluster_severe_inclusive' then value end) as boolean) as cluster_severe_inclusive,
        max(case when parameter = 'isbsh_input_set' then value end) as isbsh_input_set,
        cast(max(case when parameter = 'isbsh_min_inputs' then value end) as integer) as isbsh_min_inputs,
        cast(max(case when parameter = 'isbsh_scale_centre' then value end) as double) as isbsh_scale_centre,
        cast(max(case when parameter = 'isbsh_scale_sd' then value end) as double) as isbsh_scale_sd,
        cast(max(case when parameter = 'isbsh_decimals' then value end) as integer) as isbsh_decimals,
        max(case when parameter = 'isbsh_quartile_scope' then value end) as isbsh_quartile_scope,
        max(case when parameter = 'isbsh_quartile_ties' then value end) as isbsh_quartile_ties,
        cast(max(case when parameter = 'isbsh_risk_zone_max_quartile' then value end) as integer) as isbsh_risk_zone_max_quartile,
        max(case when parameter = 'isbsh_position_set' then value end) as isbsh_position_set,
        cast(max(case when parameter = 'isbsh_lowest_min_schools' then value end) as integer) as isbsh_lowest_min_schools,
        max(case when parameter = 'deficit_rule_set' then value end) as deficit_rule_set,
        max(case when parameter = 'risk_item_set' then value end) as risk_item_set,
        cast(max(case when parameter = 'risk_score_decimals' then value end) as integer) as risk_score_decimals,
        cast(max(case when parameter = 'risk_high_from' then value end) as double) as risk_high_from,
        cast(max(case when parameter = 'risk_medium_from' then value end) as double) as risk_medium_from,
        cast(max(case when parameter = 'risk_min_items' then value end) as integer) as risk_min_items,
        cast(max(case when parameter = 'dynamics_min_participants' then value end) as integer) as dynamics_min_participants,
        cast(max(case when parameter = 'dynamics_tolerance' then value end) as double) as dynamics_tolerance,
        cast(max(case when parameter = 'dynamics_magnitude_pp' then value end) as double) as dynamics_magnitude_pp,
        cast(max(case when parameter = 'dynamics_magnitude_inclusive' then value end) as boolean) as dynamics_magnitude_inclusive,
        max(case when parameter = 'transition_not_listed_direction' then value end) as transition_not_listed_direction
    from parameters
    group by profile_name, profile_version
)

select * from final
