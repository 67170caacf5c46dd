-- Reorganisations as chains of hops: one row per school and every school that continues it
-- (its successor, the successor's successor ...). Each hop takes effect from its own date: a
-- reorganisation effective from July to December takes effect from the next (spring) results year,
-- and a school reached through several hops continues the first one only from the latest hop's
-- year. A -> B (2022) -> C (2024): A's results continue under B from 2022 and under C from 2024;
-- B's own years keep A's history. The school that continues X in results year T is the row of X
-- with the greatest depth among those with first_results_year_under_successor <= T.
with recursive

successors as (
    select old_school_id, new_school_id, effective_date
    from {{ ref('stg_registry__school_successors') }}
),

hops as (
    select
        old_school_id,
        new_school_id,
        effective_date,
        (
            extract(year from effective_date)
            + case when extract(month from effective_date) >= 7 then 1 else 0 end
        )::integer as first_results_year
    from successors
),

chain as (
    select
        old_school_id,
        new_school_id as successor_school_id,
        effective_date,
        first_results_year,
        1 as depth
    from hops
    union all
    select
        chain.old_school_id,
        hops.new_school_id as successor_school_id,
        hops.effective_date,
        greatest(chain.first_results_year, hops.first_results_year) as first_results_year,
        chain.depth + 1 as depth
    from chain
    inner join hops on chain.successor_school_id = hops.old_school_id
    where chain.depth < 20 and hops.new_school_id <> chain.old_school_id
),

final as (
    select
        old_school_id,
        successor_school_id,
        depth,
        effective_date,
        first_results_year as first_results_year_under_successor
    from chain
    qualify row_number() over (partition by old_school_id, successor_school_id order by depth) = 1
)

select * from final
