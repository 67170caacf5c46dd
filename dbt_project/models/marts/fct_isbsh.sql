{#- incremental by year: only the years whose inputs (or code, or profile) changed are computed
    again (macros/year_local.sql) -#}
{%- set years = year_local(['int_isbsh_scores', 'dim_school'], ['int_methodology_profile']) %}
-- ИСБШ (индекс социального благополучия школы), one row per school and year: the input shares,
-- the index on the 50 + 10·z scale, the quartile (1 = lowest), the risk zone (школа «зоны
-- риска», ШНСУ) and the school's position inside its municipality (labels of seed 003).
with

scores as (
    select * from {{ ref('int_isbsh_scores') }}
    where {{ year_local_filter(years) }}
),

schools as (
    select school_id, year, municipality_code, municipality_name, locality from {{ ref('dim_school') }}
    where {{ year_local_filter(years) }}
),

profile as (
    select * from {{ ref('int_methodology_profile') }}
),

positions as (
    select isbsh_municipal_positions.*
    from {{ ref('isbsh_municipal_positions') }} as isbsh_municipal_positions
    inner join profile on isbsh_municipal_positions.position_set = profile.isbsh_position_set
),

spine as (
    select school_id, year from schools
    union
    select school_id, year from scores
),

joined as (
    select
        spine.school_id,
        spine.year,
        schools.municipality_code,
        schools.municipality_name,
        schools.locality,
        scores.students_total,
        scores.both_parents_higher_ed_share,
        scores.single_parent_share,
        scores.low_income_share,
        scores.prevention_register_share,
        scores.non_native_russian_share,
        scores.disabilities_share,
        scores.large_family_share,
        scores.unemployed_parents_share,
        coalesce(scores.n_inputs_available, 0) as n_inputs_available,
        scores.mean_z_score
    from spine
    left join schools on spine.school_id = schools.school_id and spine.year = schools.year
    left join scores on spine.school_id = scores.school_id and spine.year = scores.year
),

year_moments as (
    -- the year's mean and spread of the composite, from exact sums (macros/exact_aggregates.sql)
    select year, {{ exact_mean('mean_z_score') }} as mean_z
    from joined
    where mean_z_score is not null
    group by year
),

year_spread as (
    select
        joined.year,
        year_moments.mean_z,
        {{ exact_stddev_pop('joined.mean_z_score', 'year_moments.mean_z') }} as sd_z
    from joined
    inner join year_moments on joined.year = year_moments.year
    where joined.mean_z_score is not null
    group by joined.year, year_moments.mean_z
),

scaled as (
    select
        joined.*,
        -- to 9 decimals: schools are ranked on it, so that rounding for display never makes two
        -- different schools tie
        round(
            profile.isbsh_scale_centre + profile.isbsh_scale_sd
            * (joined.mean_z_score - cast(year_spread.mean_z as double))
            / nullif(year_spread.sd_z, 0),
            9
        ) as isbsh_exact,
        case profile.isbsh_quartile_scope
            when 'municipality' then coalesce(joined.municipality_code, '?')
            when 'locality' then coalesce(joined.locality, '?')
            else 'region'
        end as quartile_scope_value
    from joined
    left join year_spread on joined.year = year_spread.year
    cross join profile
),

scored as (
    select
        school_id,
        year,
        quartile_scope_value,
        isbsh_exact,
        count(*) over (partition by year, quartile_scope_value) as n_in_scope,
        -- position counting every tied school before it (ties -> lower quartile) ...
        rank() over (partition by year, quartile_scope_value order by isbsh_exact) as position_ties_low,
        -- ... or after it (ties -> upper quartile)
        count(*) over (partition by year, quartile_scope_value order by isbsh_exact) as position_ties_high,
        round(
            {{ exact_sum('isbsh_exact', over='partition by year, municipality_code') }}
            / count(isbsh_exact) over (partition by year, municipality_code),
            9
        ) as municipal_mean_isbsh,
        min(isbsh_exact) over (partition by year, municipality_code) as municipal_min_isbsh,
        max(isbsh_exact) over (partition by year, municipality_code) as municipal_max_isbsh,
        count(*) over (partition by year, municipality_code) as n_scored_in_municipality
    from scaled
    where isbsh_exact is not null
),

quartiles as (
    select
        scored.*,
        cast(least(4, 1 + floor(
            4.0 * (
                case profile.isbsh_quartile_ties
                    when 'upper' then scored.position_ties_high
                    else scored.position_ties_low
                end - 1
            ) / scored.n_in_scope
        )) as integer) as isbsh_quartile,
        round(scored.isbsh_exact - scored.municipal_mean_isbsh, 6) as municipal_deviation,
        -- «самый низкий в МР»: the municipality's minimum, when the municipality has enough scored
        -- schools and they do not all share one value
        scored.isbsh_exact = scored.municipal_min_isbsh
            and scored.municipal_min_isbsh < scored.municipal_max_isbsh
            and scored.n_scored_in_municipality >= profile.isbsh_lowest_min_schools as is_municipal_minimum
    from scored
    cross join profile
),

positioned as (
    select
        quartiles.school_id,
        quartiles.year,
        quartiles.isbsh_quartile,
        quartiles.municipal_mean_isbsh,
        quartiles.municipal_deviation,
        quartiles.n_scored_in_municipality,
        coalesce(lowest.position_code, banded.position_code) as municipal_position,
        coalesce(lowest.position_label_ru, banded.position_label_ru) as municipal_position_ru
    from quartiles
    left join positions as lowest
        on quartiles.is_municipal_minimum
        and lowest.position_rule = 'municipal_minimum'
    left join positions as banded
        on banded.position_rule = 'deviation'
        and quartiles.municipal_deviation >= coalesce(banded.deviation_from, cast('-infinity' as double))
        and quartiles.municipal_deviation < coalesce(banded.deviation_to, cast('infinity' as double))
),

final as (
    select
        scaled.school_id,
        scaled.year,
        scaled.municipality_code,
        scaled.municipality_name,
        scaled.locality,
        scaled.students_total,
        scaled.both_parents_higher_ed_share,
        scaled.single_parent_share,
        scaled.low_income_share,
        scaled.prevention_register_share,
        scaled.non_native_russian_share,
        scaled.disabilities_share,
        scaled.large_family_share,
        scaled.unemployed_parents_share,
        scaled.n_inputs_available,
        scaled.mean_z_score,
        scaled.isbsh_exact,
        round(scaled.isbsh_exact, profile.isbsh_decimals) as isbsh,
        positioned.isbsh_quartile,
        profile.isbsh_quartile_scope as quartile_scope,
        coalesce(positioned.isbsh_quartile <= profile.isbsh_risk_zone_max_quartile, false) as is_risk_zone,
        positioned.municipal_mean_isbsh,
        positioned.municipal_deviation,
        positioned.n_scored_in_municipality,
        positioned.municipal_position,
        positioned.municipal_position_ru,
        profile.profile_name,
        profile.profile_version
    from scaled
    cross join profile
    left join positioned on scaled.school_id = positioned.school_id and scaled.year = positioned.year
)

select * from final
