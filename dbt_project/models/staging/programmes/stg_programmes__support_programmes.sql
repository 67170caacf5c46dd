-- Support-programme membership, one row per school, year and programme. The latest delivery wins per
-- year, school and programme: one file per programme («500+» from the federal list, the regional
-- programme from the region) adds up. A programme is named as seed support_programme_groups spells it
-- when it matches whatever the case and spaces («Региональная  программа» is «региональная
-- программа»); one the seed does not know keeps one spelling (the first in order) for all its spellings.
with

source as (
    {{ with_registry_school_ids(source('raw', 'support_programmes')) }}
),

known as (
    select distinct programme, {{ programme_key('programme') }} as programme_key
    from {{ ref('support_programme_groups') }}
),

delivered as (
    select
        year,
        school_id,
        trim(regexp_replace(programme, '\s+', ' ', 'g')) as programme_as_delivered,
        {{ programme_key('programme') }} as programme_key,
        _file_id as file_id,
        _source_file as source_file,
        _row_number as source_row_number
    from source
    {{ latest_delivery(['year', 'school_id', programme_key('programme')]) }}
),

final as (
    select
        delivered.year,
        delivered.school_id,
        coalesce(
            known.programme,
            min(delivered.programme_as_delivered) over (partition by delivered.programme_key)
        ) as programme,
        delivered.file_id,
        delivered.source_file,
        delivered.source_row_number
    from delivered
    left join known on delivered.programme_key = known.programme_key
    -- one membership however often a file names it (in two spellings, say)
    qualify row_number() over (
        partition by delivered.year, delivered.school_id, delivered.programme_key
        order by delivered.file_id, delivered.source_row_number
    ) = 1
)

select * from final
