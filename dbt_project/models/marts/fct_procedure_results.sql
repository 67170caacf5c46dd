{#- incremental by year: only the years whose inputs (or code, or profile) changed are computed
    again (macros/year_local.sql) -#}
{%- set years = year_local(
    [{'ref': 'int_procedure_counts', 'known_by': 'input_fingerprint'}, 'int_procedure_results_prior'],
    ['int_methodology_profile']
) %}
-- One row per school, procedure and results year: participants, failing, fail share, and
-- whether the procedure is informative and flagged under the selected methodology profile.
with

counts as (
    select * from {{ ref('int_procedure_counts') }}
    where {{ year_local_filter(years) }}
),

previous as (
    select * from {{ ref('int_procedure_results_prior') }}
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

counted_procedures as (
    select profile_procedures.procedure_code
    from profile_procedures
    inner join profile on profile_procedures.profile_name = profile.profile_name
    where profile_procedures.counts_for_list
),

shares as (
    select
        counts.school_id,
        counts.procedure_code,
        counts.year,
        counts.participants,
        counts.failing,
        counts.result_source,
        counts.failing / counts.participants as fail_share,
        previous.prior_participants,
        previous.prior_failing,
        previous.prior_failing / nullif(previous.prior_participants, 0) as prior_fail_share,
        previous.prior_school_ids
    from counts
    left join previous
        on counts.school_id = previous.school_id
        and counts.procedure_code = previous.procedure_code
        and counts.year = previous.year
),

flags as (
    select
        shares.*,
        shares.participants >= profile.min_participants as is_informative,
        shares.participants >= profile.min_participants
            and case
                when profile.threshold_inclusive then shares.fail_share >= profile.fail_share_threshold
                else shares.fail_share > profile.fail_share_threshold
            end as is_flagged,
        coalesce(
            shares.prior_participants >= profile.min_participants
            and case
                when profile.threshold_inclusive then shares.prior_fail_share >= profile.fail_share_threshold
                else shares.prior_fail_share > profile.fail_share_threshold
            end,
            false
        ) as is_prior_flagged,
        shares.procedure_code in (select counted_procedures.procedure_code from counted_procedures) as counts_for_list,
        profile.profile_name,
        profile.profile_version
    from shares
    cross join profile
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
