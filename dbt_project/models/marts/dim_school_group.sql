-- One row per school, report group and year: which groups of the regional centre's reports a
-- school belongs to. Static groups (the region, each support programme, the tracks, all
-- supported schools) hold from the year the school entered the programme on; the group
-- «ШНОР» of a year holds the schools on the list of that list year.
with

schools as (
    select school_id, year from {{ ref('dim_school') }}
),

memberships as (
    select school_id, year, programme from {{ ref('stg_programmes__support_programmes') }}
),

programme_groups as (
    select programme, group_code, group_name_ru from {{ ref('support_programme_groups') }}
),

shnor_list as (
    select school_id, list_year, is_shnor, profile_name, profile_version from {{ ref('fct_shnor_list') }}
),

profile as (
    select profile_name, profile_version from {{ ref('int_methodology_profile') }}
),

entered as (
    select school_id, programme, min(year) as entry_year
    from memberships
    group by school_id, programme
),

region_group as (
    select
        school_id,
        year,
        'region' as group_code,
        'Все школы региона' as group_name_ru,
        'region' as group_kind
    from schools
),

programme_members as (
    select
        schools.school_id,
        schools.year,
        'programme: ' || entered.programme as group_code,
        'Участники: ' || entered.programme as group_name_ru,
        'programme' as group_kind
    from schools
    inner join entered
        on schools.school_id = entered.school_id
        and schools.year >= entered.entry_year
),

programme_group_members as (
    select distinct
        schools.school_id,
        schools.year,
        programme_groups.group_code,
        programme_groups.group_name_ru,
        'programme_group' as group_kind
    from schools
    inner join entered
        on schools.school_id = entered.school_id
        and schools.year >= entered.entry_year
    inner join programme_groups on entered.programme = programme_groups.programme
),

supported as (
    select distinct
        schools.school_id,
        schools.year,
        'supported' as group_code,
        'Были охвачены сопровождением (все программы поддержки)' as group_name_ru,
        'supported' as group_kind
    from schools
    inner join entered
        on schools.school_id = entered.school_id
        and schools.year >= entered.entry_year
),

listed as (
    select
        school_id,
        list_year as year,
        'shnor' as group_code,
        'ШНОР (в списке этого года)' as group_name_ru,
        'shnor_list' as group_kind
    from shnor_list
    where is_shnor
),

groups as (
    select * from region_group
    union all
    select * from programme_members
    union all
    select * from programme_group_members
    union all
    select * from supported
    union all
    select * from listed
),

final as (
    select
        groups.school_id,
        groups.year,
        groups.group_code,
        groups.group_name_ru,
        groups.group_kind,
        profile.profile_name,
        profile.profile_version
    from groups
    cross join profile
)

select * from final
