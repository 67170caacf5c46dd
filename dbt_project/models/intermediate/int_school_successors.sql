-- Reorganisations with chains resolved (A -> B -> C gives A -> C) and the first results year
-- in which the school's results continue under its successor: a reorganisation effective
-- from July to December takes effect from the next (spring) results year.
with recursive

successors as (
    select old_school_id, new_school_id, effective_date
    from {{ ref('stg_registry__school_successors') }}
),

chain as (
    select old_school_id, new_school_id, effective_date, 1 as depth
    from successors
    union all
    select chain.old_school_id, successors.new_school_id, chain.effective_date, chain.depth + 1 as depth
    from chain
    inner join successors on chain.new_school_id = successors.old_school_id
    where chain.depth < 20
),

final as (
    select
        old_school_id,
        arg_max(new_school_id, depth) as successor_school_id,
        min(effective_date) as effective_date,
        min(
            extract(year from effective_date)
            + case when extract(month from effective_date) >= 7 then 1 else 0 end
        )::integer as first_results_year_under_successor
    from chain
    group by old_school_id
)

select * from final
