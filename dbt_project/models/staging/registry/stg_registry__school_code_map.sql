-- Every code a school is known by (its FIS OKO login, exam-system and other codes) -> school_id.
with

registry as (
    select distinct school_id from {{ ref('stg_registry__schools') }}
),

crosswalk as (
    select external_code, code_system, school_id from {{ ref('stg_registry__school_codes') }}
),

successors as (
    select old_school_id as school_id from {{ ref('stg_registry__school_successors') }}
    union
    select new_school_id from {{ ref('stg_registry__school_successors') }}
),

all_codes as (
    select school_id as code, 'фис око' as code_system, school_id from registry
    union
    select school_id as code, 'фис око' as code_system, school_id from successors
    union
    select external_code as code, code_system, school_id from crosswalk
    union
    select school_id as code, 'фис око' as code_system, school_id from crosswalk
),

final as (
    select
        code,
        min(school_id) as school_id,
        count(distinct school_id) as n_school_ids,
        string_agg(distinct code_system, ', ' order by code_system) as code_systems
    from all_codes
    group by code
)

select * from final
