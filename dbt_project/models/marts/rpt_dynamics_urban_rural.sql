{%- set types = ['positive', 'zero_both', 'negative', 'neutral', 'no_participants'] -%}
-- Dynamics of results in urban and rural schools (seed 003, «Динамика образовательных
-- результатов в городских / сельских школах»), one row per report group, locality and pair of
-- years: the share of each type of dynamics over all (school, reported procedure) pairs of the
-- group's urban or rural schools.
with

dynamics as (
    select * from {{ ref('fct_procedure_dynamics') }}
),

school_groups as (
    select school_id, year, group_code, group_name_ru, group_kind from {{ ref('dim_school_group') }}
),

schools as (
    select school_id, year, locality, locality_ru from {{ ref('dim_school') }}
),

profile as (
    select profile_name, profile_version from {{ ref('int_methodology_profile') }}
),

grouped as (
    select
        school_groups.group_code,
        school_groups.group_name_ru,
        school_groups.group_kind,
        coalesce(schools.locality, 'unknown') as locality,
        coalesce(schools.locality_ru, 'не указано') as locality_ru,
        dynamics.year_from,
        dynamics.year_to,
        count(distinct dynamics.school_id) as n_schools,
        count(*) as n_school_procedures,
        {%- for type in types %}
        count(*) filter (where dynamics.dynamics_type = '{{ type }}') as n_{{ type }},
        {%- endfor %}
        count(*) filter (where dynamics.is_positive_result) as n_positive_result
    from dynamics
    inner join school_groups
        on dynamics.school_id = school_groups.school_id
        and dynamics.year_to = school_groups.year
    left join schools
        on dynamics.school_id = schools.school_id
        and dynamics.year_to = schools.year
    group by all
),

final as (
    select
        grouped.group_code,
        grouped.group_name_ru,
        grouped.group_kind,
        grouped.locality,
        grouped.locality_ru,
        grouped.year_from,
        grouped.year_to,
        grouped.n_schools,
        grouped.n_school_procedures,
        {%- for type in types %}
        grouped.n_{{ type }},
        grouped.n_{{ type }} / grouped.n_school_procedures as {{ type }}_share,
        {%- endfor %}
        grouped.n_positive_result,
        grouped.n_positive_result / grouped.n_school_procedures as positive_result_share,
        profile.profile_name,
        profile.profile_version
    from grouped
    cross join profile
)

select * from final
