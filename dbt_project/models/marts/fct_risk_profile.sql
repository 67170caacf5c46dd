{#- incremental by year: only the years whose answers (or code, or profile) changed are computed
    again (macros/year_local.sql) -#}
{%- set years = year_local(['stg_surveys__risk_questionnaire'], ['int_methodology_profile']) %}
-- Risk profile (рисковый профиль школы, 10 factors of the «500+» project), one row per school,
-- year and factor: the factor score (weighted mean of the 0..1 scores of its questionnaire
-- items), its significance (высокая / средняя / низкая) and, repeated on every row of the
-- school and year, the number of factors of each significance.
with

answers as (
    select school_id, year, item_code, answer from {{ ref('stg_surveys__risk_questionnaire') }}
    where {{ year_local_filter(years) }}
),

profile as (
    select * from {{ ref('int_methodology_profile') }}
),

items as (
    select risk_items.*
    from {{ ref('risk_items') }} as risk_items
    inner join profile on risk_items.item_set = profile.risk_item_set
),

factors as (
    select factor_number, factor_name_ru from {{ ref('risk_factors') }}
),

levels as (
    select significance, significance_ru, action_ru from {{ ref('risk_significance_levels') }}
),

item_scores as (
    select
        answers.school_id,
        answers.year,
        items.factor_number,
        items.weight,
        -- an answer outside the item's scale is not an answer
        case
            when answers.answer between items.answer_min and items.answer_max
                then case
                    when items.higher_is_risk
                        then (answers.answer - items.answer_min) / (items.answer_max - items.answer_min)
                    else (items.answer_max - answers.answer) / (items.answer_max - items.answer_min)
                end
        end as item_score
    from answers
    inner join items on answers.item_code = items.item_code
),

school_years as (
    select distinct school_id, year from answers
),

items_per_factor as (
    select factor_number, count(*) as n_items_in_factor from items
    group by factor_number
),

factor_scores as (
    select
        school_years.school_id,
        school_years.year,
        factors.factor_number,
        factors.factor_name_ru,
        count(item_scores.item_score) as n_items_answered,
        -- exact sums (macros/exact_aggregates.sql): the same answers give the same score to the bit
        {{ exact_sum('item_scores.weight * item_scores.item_score', filter='item_scores.item_score is not null') }}
            / nullif({{ exact_sum('item_scores.weight', filter='item_scores.item_score is not null') }}, 0)
            as mean_item_score
    from school_years
    cross join factors
    left join item_scores
        on school_years.school_id = item_scores.school_id
        and school_years.year = item_scores.year
        and factors.factor_number = item_scores.factor_number
    group by school_years.school_id, school_years.year, factors.factor_number, factors.factor_name_ru
),

classified as (
    select
        factor_scores.*,
        case
            when factor_scores.n_items_answered >= profile.risk_min_items
                then round(factor_scores.mean_item_score, profile.risk_score_decimals)
        end as factor_score,
        profile.risk_high_from,
        profile.risk_medium_from
    from factor_scores
    cross join profile
),

significance as (
    select
        classified.*,
        case
            when classified.factor_score >= classified.risk_high_from then 'high'
            when classified.factor_score >= classified.risk_medium_from then 'medium'
            when classified.factor_score is not null then 'low'
        end as significance
    from classified
),

final as (
    select
        significance.school_id,
        significance.year,
        significance.factor_number,
        significance.factor_name_ru,
        coalesce(items_per_factor.n_items_in_factor, 0) as n_items_in_factor,
        significance.n_items_answered,
        significance.factor_score,
        significance.significance,
        levels.significance_ru,
        levels.action_ru,
        count(*) filter (where significance.significance = 'high')
            over (partition by significance.school_id, significance.year) as n_high_factors,
        count(*) filter (where significance.significance = 'medium')
            over (partition by significance.school_id, significance.year) as n_medium_factors,
        count(*) filter (where significance.significance = 'low')
            over (partition by significance.school_id, significance.year) as n_low_factors,
        profile.profile_name,
        profile.profile_version
    from significance
    cross join profile
    left join levels on significance.significance = levels.significance
    left join items_per_factor on significance.factor_number = items_per_factor.factor_number
)

select * from final
