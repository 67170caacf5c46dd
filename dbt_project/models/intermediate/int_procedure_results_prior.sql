{#- incremental by year: only the years whose inputs (or code, or profile) changed are computed
    again (macros/year_local.sql) -#}
{%- set years = year_local(
    [{'ref': 'int_procedure_counts', 'year': 'year + 1', 'known_by': 'input_fingerprint'}],
    ['int_school_successors'],
    contract=false
) %}
-- a table, not a view: read by several models, tests and checks, computed once per build

-- For each school, procedure and year t: the results of year t-1 of the same school, pooled
-- with those of schools that are continued by it in year t (successor map, each hop of a chain of
-- reorganisations from its own year), so that persistence and dynamics follow a school across a
-- reorganisation.
with

counts as (
    select * from {{ ref('int_procedure_counts') }}
    where {{ year_local_filter(years, 'year + 1') }}
),

successors as (
    select * from {{ ref('int_school_successors') }}
),

results_years as (
    select distinct year from counts
),

-- the school that continues each reorganised school in year t (macros/successor_in_effect.sql)
hop_in_effect as (
    {{ successor_in_effect('successors', 'results_years') }}
),

continued as (
    select
        coalesce(hop_in_effect.successor_school_id, counts.school_id) as school_id,
        counts.school_id as prior_school_id,
        counts.procedure_code,
        counts.year + 1 as year,
        counts.participants,
        counts.failing
    from counts
    left join hop_in_effect
        on counts.school_id = hop_in_effect.old_school_id
        and counts.year = hop_in_effect.year
),

final as (
    select
        school_id,
        procedure_code,
        year,
        cast(sum(participants) as bigint) as prior_participants,
        cast(sum(failing) as bigint) as prior_failing,
        -- (a sorted list joined: string_agg(distinct … order by …) cost 4× the whole model)
        array_to_string(list_sort(list_distinct(list(prior_school_id))), ', ') as prior_school_ids
    from continued
    group by school_id, procedure_code, year
)

select * from final
