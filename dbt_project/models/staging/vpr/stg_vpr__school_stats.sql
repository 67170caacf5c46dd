with

subjects as (
    select subject_alias, subject_code from {{ ref('subject_aliases') }}
),

source as (
    {{ with_registry_school_ids(source('raw', 'vpr_school_stats')) }}
),

final as (
    select
        source.year,
        source.school_id as school_code,
        'VPR' as exam,
        source.grade,
        lower(trim(source.subject)) as subject_alias,
        source.subject,
        coalesce(subjects.subject_code, lower(trim(source.subject))) as subject_key,
        source.participants,
        source.mark_2,
        source.mark_3,
        source.mark_4,
        source.mark_5,
        source._file_id as file_id,
        source._source_file as source_file,
        source._row_number as source_row_number
    from source
    left join subjects on lower(trim(source.subject)) = subjects.subject_alias
    {{ latest_delivery(
        ['source.year', 'source.school_id', 'source.grade', 'coalesce(subjects.subject_code, lower(trim(source.subject)))'],
        file_id=delivery_order('source')
    ) }}
)

select * from final
