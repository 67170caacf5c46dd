with

source as (
    select * from {{ source('raw', 'school_successors') }}
),

final as (
    select
        old_school_id,
        new_school_id,
        effective_date,
        _file_id as file_id,
        _source_file as source_file,
        _row_number as source_row_number
    from source
    {{ latest_delivery(['old_school_id']) }}
)

select * from final
