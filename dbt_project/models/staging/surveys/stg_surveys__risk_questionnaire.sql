with

source as (
    {{ with_registry_school_ids(source('raw', 'risk_questionnaire')) }}
),

final as (
    select
        year,
        school_id,
        upper(item_code) as item_code,
        answer,
        _file_id as file_id,
        _source_file as source_file,
        _row_number as source_row_number
    from source
    {{ latest_delivery(['year', 'school_id']) }}
)

select * from final
