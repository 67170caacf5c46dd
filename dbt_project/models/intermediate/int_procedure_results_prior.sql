-- For each school, procedure and year t: the results of year t-1 of the same school, pooled
-- with those of schools that were reorganised into it by year t (successor map), so that
-- persistence and dynamics follow a school across a reorganisation.
with

counts as (
    select * from {{ ref('int_procedure_counts') }}
),

successors as (
    select * from {{ ref('int_school_successors') }}
),

final as (
    select
        coalesce(successors.successor_school_id, counts.school_id) as school_id,
        counts.procedure_code,
        counts.year + 1 as year,
        cast(sum(counts.participants) as bigint) as prior_participants,
        cast(sum(counts.failing) as bigint) as prior_failing,
        string_agg(distinct counts.school_id, ', ' order by counts.school_id) as prior_school_ids
    from counts
    left join successors
        on counts.school_id = successors.old_school_id
        and successors.first_results_year_under_successor <= counts.year + 1
    group by all
)

select * from final
