{%- set types = ['positive', 'zero_both', 'negative', 'neutral', 'no_participants'] -%}
-- Dynamics of results by report group (seed 003, «Результаты анализа динамики
-- образовательных результатов»), one row per group, procedure and pair of years: how many
-- schools of the group show each type of dynamics, and the share of the group; «показывают
-- положительный результат» = положительная + 0% за 2 года. The denominator is every school
-- of the group, schools without participants included.
with

dynamics as (
    select * from {{ ref('fct_procedure_dynamics') }}
),

school_groups as (
    select school_id, year, group_code, group_name_ru, group_kind from {{ ref('dim_school_group') }}
),

profile as (
    select profile_name, profile_version from {{ ref('int_methodology_profile') }}
),

grouped as (
    select
        school_groups.group_code,
        school_groups.group_name_ru,
        school_groups.group_kind,
        dynamics.procedure_code,
        dynamics.procedure_name_ru,
        dynamics.year_from,
        dynamics.year_to,
        count(*) as n_schools,
        {%- for type in types %}
        count(*) filter (where dynamics.dynamics_type = '{{ type }}') as n_{{ type }},
        {%- endfor %}
        count(*) filter (where dynamics.is_positive_result) as n_positive_result,
        count(*) filter (where dynamics.magnitude_dynamics_type = 'negative') as n_magnitude_negative,
        count(*) filter (where dynamics.is_magnitude_positive_result) as n_magnitude_positive_result
    from dynamics
    inner join school_groups
        on dynamics.school_id = school_groups.school_id
        and dynamics.year_to = school_groups.year
    group by all
),

final as (
    select
        grouped.group_code,
        grouped.group_name_ru,
        grouped.group_kind,
        grouped.procedure_code,
        grouped.procedure_name_ru,
        grouped.year_from,
        grouped.year_to,
        grouped.n_schools,
        {%- for type in types %}
        grouped.n_{{ type }},
        grouped.n_{{ type }} / grouped.n_schools as {{ type }}_share,
        {%- endfor %}
        grouped.n_positive_result,
        grouped.n_positive_result / grouped.n_schools as positive_result_share,
        grouped.n_magnitude_negative,
        grouped.n_magnitude_negative / grouped.n_schools as magnitude_negative_share,
        grouped.n_magnitude_positive_result,
        grouped.n_magnitude_positive_result / grouped.n_schools as magnitude_positive_result_share,
        profile.profile_name,
        profile.profile_version
    from grouped
    cross join profile
)

select * from final
