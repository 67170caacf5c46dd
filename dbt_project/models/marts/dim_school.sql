-- One row per school and registry year: where the school is, what it is, and who continues it.
with

registry as (
    select * from {{ ref('stg_registry__schools') }}
),

successors as (
    select * from {{ ref('int_school_successors') }}
),

programmes as (
    select school_id, year, string_agg(distinct programme, '; ' order by programme) as support_programmes
    from {{ ref('stg_programmes__support_programmes') }}
    group by school_id, year
),

final as (
    select
        registry.school_id,
        registry.registry_year as year,
        registry.school_name,
        registry.municipality_code,
        registry.municipality_name,
        registry.locality,
        registry.is_small,
        registry.has_grade_9,
        registry.has_grade_11,
        registry.enrolment,
        programmes.support_programmes,
        programmes.support_programmes is not null as is_in_support_programme,
        successors.successor_school_id,
        successors.effective_date as reorganisation_date,
        successors.successor_school_id is not null as is_reorganised
    from registry
    left join successors on registry.school_id = successors.old_school_id
    left join programmes on registry.school_id = programmes.school_id and registry.registry_year = programmes.year
)

select * from final
