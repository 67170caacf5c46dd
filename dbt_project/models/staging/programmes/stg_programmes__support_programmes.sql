with

source as (
    {{ with_registry_school_ids(source('raw', 'support_programmes')) }}
),

final as (
    select
        year,
        school_id,
        programme,
        _file_id as file_id,
        _source_file as source_file,
        _row_number as source_row_number
    from source
    {{ latest_delivery(['year', 'school_id']) }}
)

select * from final
