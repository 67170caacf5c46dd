-- For each school, procedure and year t: the results of year t-1 of the same school, pooled
-- with those of schools that are continued by it in year t (successor map, each hop of a chain of
-- reorganisations from its own year), so that persistence and dynamics follow a school across a
-- reorganisation.
with

counts as (
    select * from {{ ref('int_procedure_counts') }}
),

successors as (
    select * from {{ ref('int_school_successors') }}
),

-- the school that continues each school in year t: the furthest hop already in effect
continued as (
    select
        coalesce(successors.successor_school_id, counts.school_id) as school_id,
        counts.school_id as prior_school_id,
        counts.procedure_code,
        counts.year + 1 as year,
        counts.participants,
        counts.failing
    from counts
    left join successors
        on counts.school_id = successors.old_school_id
        and successors.first_results_year_under_successor <= counts.year + 1
    qualify row_number() over (
        partition by counts.school_id, counts.procedure_code, counts.year
        order by successors.depth desc nulls last
    ) = 1
),

final as (
    select
        school_id,
        procedure_code,
        year,
        cast(sum(participants) as bigint) as prior_participants,
        cast(sum(failing) as bigint) as prior_failing,
        string_agg(distinct prior_school_id, ', ' order by prior_school_id) as prior_school_ids
    from continued
    group by school_id, procedure_code, year
)

select * from final
