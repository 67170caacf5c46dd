with

source as (
    {{ with_registry_school_ids(source('raw', 'academic_debt')) }}
),

final as (
    select
        year,
        academic_year,
        period,
        school_id,
        students_total,
        with_debt,
        attending_extra,
        with_iom,
        debt_closed,
        _file_id as file_id,
        _source_file as source_file,
        _row_number as source_row_number
    from source
    {{ latest_delivery(['academic_year', 'period', 'school_id']) }}
)

select * from final
