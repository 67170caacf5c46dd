with

source as (
    select * from {{ source('raw', 'vpr_results') }}
),

final as (
    select
        year,
        school_id as school_code,
        'VPR' as exam,
        grade,
        lower(trim(subject)) as subject_alias,
        subject,
        participant_code,
        primary_score,
        mark,
        status,
        _file_id as file_id,
        _source_file as source_file,
        _row_number as source_row_number
    from source
    {{ latest_delivery(['year', 'school_id']) }}
)

select * from final
