{#- incremental by year: only the years whose inputs (or code, or profile) changed are computed
    again (macros/year_local.sql) -#}
{%- set years = year_local(
    [
        {'ref': 'int_procedure_counts', 'known_by': 'input_fingerprint'},
        {'ref': 'int_procedure_counts', 'year': 'year + 1', 'known_by': 'input_fingerprint'},
        'int_procedure_results_prior',
        'dim_school',
    ],
    ['int_methodology_profile'],
    column='year_to'
) %}
-- Dynamics of results (динамика образовательных результатов), one row per school, reported
-- procedure and pair of consecutive results years (year_from = year_to - 1): the fail shares of
-- both years (year_from pooled with schools reorganised into this one) and the type of
-- dynamics of seed 003, evaluated in order: no participants, 0% both years, positive,
-- negative, neutral; plus the type under FIOKO's magnitude rule.
with

counts as (
    select school_id, procedure_code, year, participants, failing from {{ ref('int_procedure_counts') }}
    where {{ year_local_filter(years, lookback=1) }}
),

previous as (
    select * from {{ ref('int_procedure_results_prior') }}
    where {{ year_local_filter(years) }}
),

schools as (
    select school_id, year from {{ ref('dim_school') }}
    where {{ year_local_filter(years) }}
),

profile as (
    select * from {{ ref('int_methodology_profile') }}
),

profile_procedures as (
    select * from {{ ref('methodology_profile_procedures') }}
),

procedures as (
    select procedure_code, procedure_name_ru from {{ ref('procedures') }}
),

types as (
    select dynamics_type, dynamics_type_ru, is_positive_result from {{ ref('dynamics_types') }}
),

reported_procedures as (
    select procedures.procedure_code, procedures.procedure_name_ru
    from profile_procedures
    inner join profile on profile_procedures.profile_name = profile.profile_name
    inner join procedures on profile_procedures.procedure_code = procedures.procedure_code
    where profile_procedures.in_reports
),

results_years as (
    select distinct year from counts
),

-- a pair (t-1, t) exists when the region has results in both years
year_pairs as (
    select year as year_to from results_years
    where year - 1 in (select earlier_years.year from results_years as earlier_years)
        -- (the counts of the year before each computed year are read; only those years are built)
        and {{ year_local_filter(years) }}
),

spine as (
    select schools.school_id, schools.year
    from schools
    inner join year_pairs on schools.year = year_pairs.year_to
    union
    select counts.school_id, counts.year
    from counts
    inner join year_pairs on counts.year = year_pairs.year_to
),

pairs as (
    select
        spine.school_id,
        reported_procedures.procedure_code,
        reported_procedures.procedure_name_ru,
        spine.year - 1 as year_from,
        spine.year as year_to,
        coalesce(previous.prior_participants, 0) as participants_from,
        coalesce(previous.prior_failing, 0) as failing_from,
        coalesce(counts.participants, 0) as participants_to,
        coalesce(counts.failing, 0) as failing_to,
        previous.prior_school_ids
    from spine
    cross join reported_procedures
    left join counts
        on spine.school_id = counts.school_id
        and reported_procedures.procedure_code = counts.procedure_code
        and spine.year = counts.year
    left join previous
        on spine.school_id = previous.school_id
        and reported_procedures.procedure_code = previous.procedure_code
        and spine.year = previous.year
),

shares as (
    select
        pairs.*,
        pairs.failing_from / nullif(pairs.participants_from, 0) as fail_share_from,
        pairs.failing_to / nullif(pairs.participants_to, 0) as fail_share_to,
        -- rounded to 12 decimals so that a change of exactly 10 points is 0.1, not 0.0999999...
        round(pairs.failing_to / nullif(pairs.participants_to, 0)
            - pairs.failing_from / nullif(pairs.participants_from, 0), 12) as fail_share_change
    from pairs
),

classified as (
    select
        shares.*,
        case
            when shares.participants_from < profile.dynamics_min_participants
                or shares.participants_to < profile.dynamics_min_participants then 'no_participants'
            when shares.failing_from = 0 and shares.failing_to = 0 then 'zero_both'
            when shares.fail_share_change < -profile.dynamics_tolerance then 'positive'
            when shares.fail_share_change > profile.dynamics_tolerance then 'negative'
            else 'neutral'
        end as dynamics_type,
        profile.dynamics_magnitude_pp,
        profile.dynamics_magnitude_inclusive,
        profile.dynamics_tolerance,
        profile.profile_name,
        profile.profile_version
    from shares
    cross join profile
),

magnitude as (
    select
        classified.*,
        case
            when classified.dynamics_type in ('no_participants', 'zero_both') then classified.dynamics_type
            when classified.dynamics_magnitude_inclusive
                and classified.fail_share_change >= classified.dynamics_magnitude_pp
                then 'negative'
            when not classified.dynamics_magnitude_inclusive
                and classified.fail_share_change > classified.dynamics_magnitude_pp
                then 'negative'
            when classified.fail_share_change < -classified.dynamics_tolerance then 'positive'
            else 'neutral'
        end as magnitude_dynamics_type
    from classified
),

final as (
    select
        magnitude.school_id,
        magnitude.procedure_code,
        magnitude.procedure_name_ru,
        magnitude.year_from,
        magnitude.year_to,
        magnitude.participants_from,
        magnitude.failing_from,
        magnitude.fail_share_from,
        magnitude.participants_to,
        magnitude.failing_to,
        magnitude.fail_share_to,
        magnitude.fail_share_change,
        magnitude.dynamics_type,
        types.dynamics_type_ru,
        types.is_positive_result,
        magnitude.magnitude_dynamics_type,
        magnitude_types.dynamics_type_ru as magnitude_dynamics_type_ru,
        magnitude_types.is_positive_result as is_magnitude_positive_result,
        magnitude.prior_school_ids,
        magnitude.profile_name,
        magnitude.profile_version
    from magnitude
    left join types on magnitude.dynamics_type = types.dynamics_type
    left join types as magnitude_types on magnitude.magnitude_dynamics_type = magnitude_types.dynamics_type
)

select * from final
