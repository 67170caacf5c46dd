with

source as (
    select * from {{ source('raw', 'gia_results') }}
),

final as (
    select
        year,
        school_id as school_code,
        exam,
        case when exam = 'OGE' then 9 else 11 end as grade,
        lower(trim(subject)) as subject_alias,
        subject,
        participant_code,
        category,
        wave,
        primary_score,
        test_score,
        mark,
        status,
        _file_id as file_id,
        _source_file as source_file,
        _row_number as source_row_number
    from source
    {{ latest_delivery(['year', 'school_id']) }}
)

select * from final
