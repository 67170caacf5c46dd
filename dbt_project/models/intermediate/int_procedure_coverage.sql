{#- incremental by year: only the years whose counts (this year's and last year's), code or delivery
    thresholds changed are computed again (macros/year_local.sql) -#}
{%- set years = year_local(
    [
        {'ref': 'int_procedure_counts', 'known_by': 'input_fingerprint'},
        {'ref': 'int_procedure_counts', 'year': 'year + 1', 'known_by': 'input_fingerprint'},
    ],
    ['int_school_successors'],
    salt=var('vanished_min_schools') ~ '|' ~ var('vanished_max_continuing_share'),
    contract=false
) %}
-- a table, not a view: read by several models, tests and checks, computed once per build

-- Which procedures vanished from a results year (a lost subject file): one row per procedure and
-- results year after the first, region-wide. A procedure that at least vanished_min_schools schools
-- had in the previous year and that fewer than half of them have this year, in a year that has
-- results at all, vanished, unless seed procedures_not_held says it was not held that year.
-- Thresholds are those of the delivery check, not of the methodology (vars in dbt_project.yml).
with

counts as (
    select school_id, procedure_code, year from {{ ref('int_procedure_counts') }}
    where {{ year_local_filter(years, lookback=1) }}
),

successors as (
    select * from {{ ref('int_school_successors') }}
),

not_held as (
    select year, procedure_code, note_ru from {{ ref('procedures_not_held') }}
),

results_years as (
    select distinct year from counts
),

-- last year's schools carried to the school that continues them this year
-- the school that continues each reorganised school in year t (macros/successor_in_effect.sql)
hop_in_effect as (
    {{ successor_in_effect('successors', 'results_years') }}
),

previous as (
    select
        coalesce(hop_in_effect.successor_school_id, counts.school_id) as school_id,
        counts.procedure_code,
        counts.year + 1 as year
    from counts
    left join hop_in_effect
        on counts.school_id = hop_in_effect.old_school_id
        and counts.year = hop_in_effect.year
),

compared as (
    select
        previous.procedure_code,
        previous.year,
        count(distinct previous.school_id) as n_schools_previous_year,
        count(distinct counts.school_id) as n_schools_continuing
    from previous
    inner join results_years on previous.year = results_years.year
    left join counts
        on previous.school_id = counts.school_id
        and previous.procedure_code = counts.procedure_code
        and previous.year = counts.year
    -- (the counts of the year before each computed year are read; only those years are built)
    where {{ year_local_filter(years, 'previous.year') }}
    group by previous.procedure_code, previous.year
),

this_year as (
    select procedure_code, year, count(distinct school_id) as n_schools
    from counts
    group by procedure_code, year
),

final as (
    select
        compared.procedure_code,
        compared.year,
        compared.n_schools_previous_year,
        compared.n_schools_continuing,
        coalesce(this_year.n_schools, 0) as n_schools,
        not_held.procedure_code is not null as is_not_held,
        not_held.note_ru as not_held_note_ru,
        compared.n_schools_previous_year >= {{ var('vanished_min_schools') }}
            and compared.n_schools_continuing
            < {{ var('vanished_max_continuing_share') }} * compared.n_schools_previous_year
            and not_held.procedure_code is null as is_vanished
    from compared
    left join this_year
        on compared.procedure_code = this_year.procedure_code
        and compared.year = this_year.year
    left join not_held
        on compared.procedure_code = not_held.procedure_code
        and compared.year = not_held.year
)

select * from final
