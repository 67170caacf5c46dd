with

source as (
    select * from {{ source('raw', 'vpr_school_stats') }}
),

final as (
    select
        year,
        school_id as school_code,
        'VPR' as exam,
        grade,
        lower(trim(subject)) as subject_alias,
        subject,
        participants,
        mark_2,
        mark_3,
        mark_4,
        mark_5,
        _file_id as file_id,
        _source_file as source_file,
        _row_number as source_row_number
    from source
    {{ latest_delivery(['year', 'school_id']) }}
)

select * from final
