-- One row per school, procedure and results year: participants, failing, fail share, and
-- whether the procedure is informative and flagged under the selected methodology profile.
with

counts as (
    select * from {{ ref('int_procedure_counts') }}
),

prior as (
    select * from {{ ref('int_procedure_results_prior') }}
),

profile as (
    select * from {{ ref('int_methodology_profile') }}
),

counted_procedures as (
    select procedure_code
    from {{ ref('methodology_profile_procedures') }}
    where profile_name = '{{ methodology_profile() }}'
),

procedures as (
    select procedure_code, procedure_name_ru from {{ ref('procedures') }}
),

flags as (
    select
        counts.school_id,
        counts.procedure_code,
        counts.year,
        counts.participants,
        counts.failing,
        counts.failing / counts.participants as fail_share,
        counts.result_source,
        counts.participants >= profile.min_participants as is_informative,
        counts.participants >= profile.min_participants
            and case
                when profile.threshold_inclusive then counts.failing / counts.participants >= profile.fail_share_threshold
                else counts.failing / counts.participants > profile.fail_share_threshold
            end as is_flagged,
        prior.prior_participants,
        prior.prior_failing,
        prior.prior_failing / nullif(prior.prior_participants, 0) as prior_fail_share,
        coalesce(prior.prior_participants >= profile.min_participants
            and case
                when profile.threshold_inclusive then prior.prior_failing / prior.prior_participants >= profile.fail_share_threshold
                else prior.prior_failing / prior.prior_participants > profile.fail_share_threshold
            end, false) as is_prior_flagged,
        prior.prior_school_ids,
        counts.procedure_code in (select procedure_code from counted_procedures) as counts_for_list,
        profile.profile_name,
        profile.profile_version
    from counts
    cross join profile
    left join prior
        on counts.school_id = prior.school_id
        and counts.procedure_code = prior.procedure_code
        and counts.year = prior.year
),

final as (
    select
        flags.school_id,
        flags.procedure_code,
        procedures.procedure_name_ru,
        flags.year,
        flags.participants,
        flags.failing,
        flags.fail_share,
        flags.is_informative,
        flags.is_flagged,
        flags.counts_for_list,
        flags.prior_participants,
        flags.prior_failing,
        flags.prior_fail_share,
        flags.is_prior_flagged,
        flags.prior_school_ids,
        flags.result_source,
        flags.profile_name,
        flags.profile_version
    from flags
    left join procedures on flags.procedure_code = procedures.procedure_code
)

select * from final
