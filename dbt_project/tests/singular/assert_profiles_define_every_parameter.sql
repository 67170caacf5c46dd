{{ config(severity='error') }}
-- returns one row per profile and parameter that is missing, or per profile with several versions
with

profiles as (
    select * from {{ ref('methodology_profiles') }}
),

default_parameters as (
    select distinct parameter from profiles
    where profile_name = 'fioko_2025'
),

profile_names as (
    select profile_name, count(distinct profile_version) as n_versions from profiles
    group by profile_name
),

missing as (
    select profile_names.profile_name, default_parameters.parameter, 'missing parameter' as problem
    from profile_names
    cross join default_parameters
    where not exists (
        select 1 from profiles
        where profiles.profile_name = profile_names.profile_name
            and profiles.parameter = default_parameters.parameter
    )
),

several_versions as (
    select profile_name, cast(null as varchar) as parameter, 'several versions in the seed' as problem
    from profile_names
    where n_versions > 1
),

final as (
    select * from missing
    union all
    select * from several_versions
)

select * from final
