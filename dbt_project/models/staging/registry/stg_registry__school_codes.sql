with

source as (
    select * from {{ source('raw', 'school_codes') }}
),

final as (
    select
        lower(system) as code_system,
        external_code,
        school_id,
        _file_id as file_id,
        _source_file as source_file,
        _row_number as source_row_number
    from source
    {{ latest_delivery(['lower(system)', 'external_code']) }}
)

select * from final
