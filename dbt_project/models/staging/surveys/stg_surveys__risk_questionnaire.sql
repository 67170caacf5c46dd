-- Risk-questionnaire answers, one row per school, year and item. The latest delivery wins per year,
-- school and item: a questionnaire sent in sections (one file per factor) adds up, and a correction
-- of some items replaces those.
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
    {{ latest_delivery(['year', 'school_id', 'upper(item_code)']) }}
)

select * from final
