-- One row per school and registry year: where the school is, what it is, which support
-- programmes it is in, and who continues it after a reorganisation.
with

registry as (
    select * from {{ ref('stg_registry__schools') }}
),

-- the school's own successor (the first hop of a chain of reorganisations)
successors as (
    select * from {{ ref('int_school_successors') }}
    where depth = 1
),

memberships as (
    select school_id, year, programme from {{ ref('stg_programmes__support_programmes') }}
),

programmes_that_year as (
    select
        school_id,
        year,
        string_agg(distinct programme, '; ' order by programme) as support_programmes
    from memberships
    group by school_id, year
),

programmes_to_date as (
    select
        registry.school_id,
        registry.registry_year as year,
        string_agg(distinct memberships.programme, '; ' order by memberships.programme) as support_programmes_to_date,
        min(memberships.year) as first_support_year
    from registry
    inner join memberships
        on registry.school_id = memberships.school_id
        and registry.registry_year >= memberships.year
    group by registry.school_id, registry.registry_year
),

final as (
    select
        registry.school_id,
        registry.registry_year as year,
        registry.school_name,
        registry.municipality_code,
        registry.municipality_name,
        registry.locality,
        case registry.locality when 'urban' then 'городская' when 'rural' then 'сельская' end as locality_ru,
        registry.is_small,
        registry.has_grade_9,
        registry.has_grade_11,
        registry.enrolment,
        programmes_that_year.support_programmes,
        programmes_that_year.support_programmes is not null as is_in_support_programme,
        programmes_to_date.support_programmes_to_date,
        programmes_to_date.first_support_year,
        successors.successor_school_id,
        successors.effective_date as reorganisation_date,
        successors.first_results_year_under_successor,
        successors.successor_school_id is not null as is_reorganised
    from registry
    left join successors on registry.school_id = successors.old_school_id
    left join programmes_that_year
        on registry.school_id = programmes_that_year.school_id
        and registry.registry_year = programmes_that_year.year
    left join programmes_to_date
        on registry.school_id = programmes_to_date.school_id
        and registry.registry_year = programmes_to_date.year
)

select * from final
