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
        cast(max(value) filter (where parameter = 'fail_share_threshold') as double) as fail_share_threshold,
        cast(max(value) filter (where parameter = 'threshold_inclusive') as boolean) as threshold_inclusive,
        cast(max(value) filter (where parameter = 'min_participants') as integer) as min_participants,
        cast(max(value) filter (where parameter = 'min_flagged_procedures') as integer) as min_flagged_procedures,
        cast(max(value) filter (where parameter = 'require_persistence') as boolean) as require_persistence,
        max(value) filter (where parameter = 'rule_combination') as rule_combination,
        cast(max(value) filter (where parameter = 'list_year_offset') as integer) as list_year_offset,
        max(value) filter (where parameter = 'cluster_measure') as cluster_measure,
        cast(max(value) filter (where parameter = 'cluster_moderate_from') as double) as cluster_moderate_from,
        cast(max(value) filter (where parameter = 'cluster_moderate_inclusive') as boolean)
            as cluster_moderate_inclusive,
        cast(max(value) filter (where parameter = 'cluster_severe_above') as double) as cluster_severe_above,
        cast(max(value) filter (where parameter = 'cluster_severe_inclusive') as boolean) as cluster_severe_inclusive,
        max(value) filter (where parameter = 'isbsh_input_set') as isbsh_input_set,
        cast(max(value) filter (where parameter = 'isbsh_min_inputs') as integer) as isbsh_min_inputs,
        cast(max(value) filter (where parameter = 'isbsh_scale_centre') as double) as isbsh_scale_centre,
        cast(max(value) filter (where parameter = 'isbsh_scale_sd') as double) as isbsh_scale_sd,
        cast(max(value) filter (where parameter = 'isbsh_decimals') as integer) as isbsh_decimals,
        max(value) filter (where parameter = 'isbsh_quartile_scope') as isbsh_quartile_scope,
        max(value) filter (where parameter = 'isbsh_quartile_ties') as isbsh_quartile_ties,
        cast(max(value) filter (where parameter = 'isbsh_risk_zone_max_quartile') as integer)
            as isbsh_risk_zone_max_quartile,
        max(value) filter (where parameter = 'isbsh_position_set') as isbsh_position_set,
        cast(max(value) filter (where parameter = 'isbsh_lowest_min_schools') as integer) as isbsh_lowest_min_schools,
        max(value) filter (where parameter = 'deficit_rule_set') as deficit_rule_set,
        max(value) filter (where parameter = 'risk_item_set') as risk_item_set,
        cast(max(value) filter (where parameter = 'risk_score_decimals') as integer) as risk_score_decimals,
        cast(max(value) filter (where parameter = 'risk_high_from') as double) as risk_high_from,
        cast(max(value) filter (where parameter = 'risk_medium_from') as double) as risk_medium_from,
        cast(max(value) filter (where parameter = 'risk_min_items') as integer) as risk_min_items,
        cast(max(value) filter (where parameter = 'dynamics_min_participants') as integer) as dynamics_min_participants,
        cast(max(value) filter (where parameter = 'dynamics_tolerance') as double) as dynamics_tolerance,
        cast(max(value) filter (where parameter = 'dynamics_magnitude_pp') as double) as dynamics_magnitude_pp,
        cast(max(value) filter (where parameter = 'dynamics_magnitude_inclusive') as boolean)
            as dynamics_magnitude_inclusive,
        max(value) filter (where parameter = 'transition_not_listed_direction') as transition_not_listed_direction
    from parameters
    group by profile_name, profile_version
)

select * from final
