with

source as (
    select * from {{ source('raw', 'schools') }}
),

final as (
    select
        year as registry_year,
        school_id,
        school_name,
        municipality_code,
        municipality_name,
        locality,
        coalesce(is_small, false) as is_small,
        has_grade_9,
        has_grade_11,
        enrolment,
        _file_id as file_id,
        _source_file as source_file,
        _row_number as source_row_number
    from source
    {{ latest_delivery(['year', 'school_id']) }}
)

select * from final
