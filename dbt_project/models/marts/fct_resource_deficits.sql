{#- incremental by year: only the years whose inputs (or code, or profile) changed are computed
    again (macros/year_local.sql) -#}
{%- set years = year_local(
    ['stg_surveys__resource_survey', 'stg_surveys__social_passport', 'dim_school'], ['int_methodology_profile']
) %}
{#- rule_code: (deficit type, condition on the survey row; THRESHOLD is the rule's threshold) -#}
{%- set rules = {
    'teacher_vacancies': ('staffing', 'survey.teacher_vacancies > THRESHOLD'),
    'teacher_overload': ('staffing', 'survey.avg_teacher_load > THRESHOLD'),
    'ageing_staff': ('staffing', 'survey.retirement_age_share >= THRESHOLD'),
    'nonspecialist_teaching': ('staffing', 'survey.nonspecialist_ru_ma'),
    'ovz_specialist_gap': ('staffing', 'survey.disabilities > THRESHOLD and (not survey.has_psychologist or not survey.has_speech_therapist)'),
    'broadband_gap': ('infrastructure', 'not survey.broadband_ok'),
    'building_capital_repair': ('infrastructure', "survey.building_condition = 'needs_capital_repair'"),
    'building_emergency': ('infrastructure', "survey.building_condition = 'emergency'"),
    'utilities_gap': ('infrastructure', 'not survey.has_utilities'),
    'gym_gap': ('infrastructure', 'not survey.has_gym'),
    'computer_gap': ('infrastructure', 'survey.computers_per_student < THRESHOLD * survey.regional_median_computers_per_student'),
    'science_lab_gap': ('infrastructure', 'not survey.has_science_lab'),
} -%}
-- Resource deficits (кадровые и инфраструктурные дефициты), one row per school and year: the
-- result of each rule of the profile's rule set (seed deficit_rules; NULL when the rule is
-- switched off or its input is missing) and whether the school has a staffing, an
-- infrastructure or both deficits (a deficit = at least one rule of its type holds).
with

resource_survey as (
    select * from {{ ref('stg_surveys__resource_survey') }}
    where {{ year_local_filter(years) }}
),

passport as (
    select school_id, year, students_total, disabilities from {{ ref('stg_surveys__social_passport') }}
    where {{ year_local_filter(years) }}
),

schools as (
    select school_id, year, municipality_code, municipality_name, enrolment from {{ ref('dim_school') }}
    where {{ year_local_filter(years) }}
),

profile as (
    select * from {{ ref('int_methodology_profile') }}
),

rule_set as (
    select deficit_rules.rule_code, deficit_rules.threshold, deficit_rules.is_enabled
    from {{ ref('deficit_rules') }} as deficit_rules
    inner join profile on deficit_rules.rule_set = profile.deficit_rule_set
),

rule_config as (
    select
        {%- for rule in rules %}
        coalesce(bool_or(is_enabled) filter (where rule_code = '{{ rule }}'), false) as {{ rule }}_enabled,
        max(threshold) filter (where rule_code = '{{ rule }}') as {{ rule }}_threshold{{ ',' if not loop.last }}
        {%- endfor %}
    from rule_set
),

surveyed as (
    select
        resource_survey.*,
        passport.disabilities,
        coalesce(passport.students_total, schools.enrolment) as students_total,
        resource_survey.teachers_retirement_age / nullif(resource_survey.teachers_total, 0) as retirement_age_share,
        resource_survey.computers / nullif(coalesce(passport.students_total, schools.enrolment), 0)
            as computers_per_student
    from resource_survey
    left join passport on resource_survey.school_id = passport.school_id and resource_survey.year = passport.year
    left join schools on resource_survey.school_id = schools.school_id and resource_survey.year = schools.year
),

survey as (
    select
        surveyed.*,
        median(surveyed.computers_per_student) over (partition by surveyed.year)
            as regional_median_computers_per_student
    from surveyed
),

evaluated as (
    select
        survey.school_id,
        survey.year,
        survey.teachers_total,
        survey.teacher_vacancies,
        survey.avg_teacher_load,
        survey.retirement_age_share,
        survey.disabilities,
        survey.students_total,
        survey.computers,
        survey.computers_per_student,
        survey.regional_median_computers_per_student,
        {%- for rule, spec in rules.items() %}
        case
            when rule_config.{{ rule }}_enabled
                then {{ spec[1] | replace('THRESHOLD', 'rule_config.' ~ rule ~ '_threshold') }}
        end as has_{{ rule }}{{ ',' if not loop.last }}
        {%- endfor %}
    from survey
    cross join rule_config
),

counted as (
    select
        evaluated.*,
        {%- for type in ['staffing', 'infrastructure'] %}
        {%- set type_rules = [] %}
        {%- for rule, spec in rules.items() if spec[0] == type %}{% do type_rules.append(rule) %}{% endfor %}
        (
            {%- for rule in type_rules %}
            cast(coalesce(has_{{ rule }}, false) as integer){{ ' +' if not loop.last }}
            {%- endfor %}
        ) as n_{{ type }}_rules_met,
        (
            {%- for rule in type_rules %}
            cast(rule_config.{{ rule }}_enabled and has_{{ rule }} is null as integer){{ ' +' if not loop.last }}
            {%- endfor %}
        ) as n_{{ type }}_rules_not_evaluated{{ ',' if not loop.last }}
        {%- endfor %}
    from evaluated
    cross join rule_config
),

spine as (
    select school_id, year from schools
    union
    select school_id, year from resource_survey
),

final as (
    select
        spine.school_id,
        spine.year,
        schools.municipality_code,
        schools.municipality_name,
        counted.school_id is not null as has_resource_survey,
        counted.teachers_total,
        counted.teacher_vacancies,
        counted.avg_teacher_load,
        counted.retirement_age_share,
        counted.disabilities as students_with_disabilities,
        counted.students_total,
        counted.computers,
        counted.computers_per_student,
        counted.regional_median_computers_per_student,
        {%- for rule in rules %}
        counted.has_{{ rule }},
        {%- endfor %}
        counted.n_staffing_rules_met,
        counted.n_infrastructure_rules_met,
        -- every rule is of one of the two types
        counted.n_staffing_rules_not_evaluated + counted.n_infrastructure_rules_not_evaluated
            as n_rules_not_evaluated,
        counted.n_staffing_rules_not_evaluated,
        counted.n_infrastructure_rules_not_evaluated,
        -- a deficit when a rule of its type holds; none when every enabled rule was evaluated and
        -- none holds; unknown (NULL) when none holds but some could not be evaluated (an input
        -- missing: a survey column, the social passport): not published as «no deficit»
        {%- set deficit = {} %}
        {%- for type in ['staffing', 'infrastructure'] %}
        {%- do deficit.update({type: 'case when counted.n_' ~ type ~ '_rules_met > 0 then true when counted.n_'
            ~ type ~ '_rules_not_evaluated > 0 then null else counted.n_' ~ type ~ '_rules_met > 0 end'}) %}
        {{ deficit[type] }} as has_{{ type }}_deficit,
        {%- endfor %}
        ({{ deficit['staffing'] }}) and ({{ deficit['infrastructure'] }}) as has_both_deficits,
        profile.profile_name,
        profile.profile_version
    from spine
    cross join profile
    left join schools on spine.school_id = schools.school_id and spine.year = schools.year
    left join counted on spine.school_id = counted.school_id and spine.year = counted.year
)

select * from final
