-- The list years the results allow, and whether each can be computed under the selected profile:
-- one row per results year with results of a procedure that counts for the list. The list of year
-- Y is built on results of Y - list_year_offset; under a profile that requires persistence («в
-- одной и той же процедуре в предыдущем и текущем году») it needs results of the year before
-- too: the first year of data, or the year after a gap, cannot have a list (no list, not an
-- empty list).
with

procedure_results as (
    select year, counts_for_list from {{ ref('fct_procedure_results') }}
),

profile as (
    select * from {{ ref('int_methodology_profile') }}
),

results_years as (
    select distinct year from procedure_results
    where counts_for_list
),

final as (
    select
        results_years.year + profile.list_year_offset as list_year,
        results_years.year as results_year,
        results_years.year - 1 as prior_results_year,
        results_years.year - 1 in (select earlier.year from results_years as earlier) as prior_results_available,
        profile.require_persistence,
        not profile.require_persistence
            or results_years.year - 1 in (select earlier.year from results_years as earlier) as is_computable,
        profile.profile_name,
        profile.profile_version
    from results_years
    cross join profile
)

select * from final
