-- ИСБШ before scaling, one row per school and year of the social passport: each input as a
-- share of enrolled students, oriented so that higher = better, z-standardised across all
-- schools of the region in that year, and the weighted mean of the available z-scores
-- (NULL when fewer inputs than the profile's minimum are available).
with

passport as (
    select * from {{ ref('stg_surveys__social_passport') }}
),

profile as (
    select * from {{ ref('int_methodology_profile') }}
),

input_set as (
    select isbsh_inputs.input_code, isbsh_inputs.direction, isbsh_inputs.weight
    from {{ ref('isbsh_inputs') }} as isbsh_inputs
    inner join profile on isbsh_inputs.input_set = profile.isbsh_input_set
    where isbsh_inputs.weight > 0
),

shares as (
    select
        year,
        school_id,
        students_total,
        both_parents_higher_ed / nullif(students_total, 0) as both_parents_higher_ed_share,
        single_parent / nullif(students_total, 0) as single_parent_share,
        low_income / nullif(students_total, 0) as low_income_share,
        prevention_register / nullif(students_total, 0) as prevention_register_share,
        non_native_russian / nullif(students_total, 0) as non_native_russian_share,
        disabilities / nullif(students_total, 0) as disabilities_share,
        large_family / nullif(students_total, 0) as large_family_share,
        unemployed_parents / nullif(students_total, 0) as unemployed_parents_share
    from passport
),

long_shares as (
    select
        year,
        school_id,
        regexp_replace(share_column, '_share$', '') as input_code,
        input_share
    from shares
    unpivot (
        input_share for share_column in (
            both_parents_higher_ed_share,
            single_parent_share,
            low_income_share,
            prevention_register_share,
            non_native_russian_share,
            disabilities_share,
            large_family_share,
            unemployed_parents_share
        )
    )
),

oriented as (
    select
        long_shares.year,
        long_shares.school_id,
        long_shares.input_code,
        input_set.weight,
        input_set.direction * long_shares.input_share as oriented_share
    from long_shares
    inner join input_set on long_shares.input_code = input_set.input_code
    where long_shares.input_share is not null
),

moments as (
    -- each input's mean and spread across the year's schools, from exact sums (see
    -- macros/exact_aggregates.sql): the same deliveries give the same index to the bit
    select year, input_code, {{ exact_mean('oriented_share') }} as mean_share
    from oriented
    group by year, input_code
),

spread as (
    select
        oriented.year,
        oriented.input_code,
        moments.mean_share,
        {{ exact_stddev_pop('oriented.oriented_share', 'moments.mean_share') }} as sd_share
    from oriented
    inner join moments on oriented.year = moments.year and oriented.input_code = moments.input_code
    group by oriented.year, oriented.input_code, moments.mean_share
),

standardised as (
    select
        oriented.year,
        oriented.school_id,
        oriented.input_code,
        oriented.weight,
        (oriented.oriented_share - cast(spread.mean_share as double)) / nullif(spread.sd_share, 0) as z_score
    from oriented
    inner join spread on oriented.year = spread.year and oriented.input_code = spread.input_code
),

composite as (
    select
        year,
        school_id,
        count(z_score) as n_inputs_available,
        {{ exact_sum('weight * z_score', filter='z_score is not null') }}
        / nullif({{ exact_sum('weight', filter='z_score is not null') }}, 0) as mean_z_score
    from standardised
    group by year, school_id
),

final as (
    select
        shares.school_id,
        shares.year,
        shares.students_total,
        shares.both_parents_higher_ed_share,
        shares.single_parent_share,
        shares.low_income_share,
        shares.prevention_register_share,
        shares.non_native_russian_share,
        shares.disabilities_share,
        shares.large_family_share,
        shares.unemployed_parents_share,
        coalesce(composite.n_inputs_available, 0) as n_inputs_available,
        case
            when coalesce(composite.n_inputs_available, 0) >= profile.isbsh_min_inputs then composite.mean_z_score
        end as mean_z_score,
        profile.profile_name,
        profile.profile_version
    from shares
    cross join profile
    left join composite
        on shares.school_id = composite.school_id
        and shares.year = composite.year
)

select * from final
