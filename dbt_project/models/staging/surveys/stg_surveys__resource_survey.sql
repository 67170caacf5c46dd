-- One row per school and year. The latest delivery wins per year and school column by column
-- (macro latest_delivery_by_column): a correction that re-sends some columns of a few schools
-- replaces those and leaves the others as delivered before.
with

source as (
    {{ with_registry_school_ids(source('raw', 'resource_survey')) }}
),

latest as (
    {{ latest_delivery_by_column('source', ['year', 'school_id'], [
        'teachers_total',
        'teacher_vacancies',
        'teachers_retirement_age',
        'avg_teacher_load',
        'nonspecialist_ru_ma',
        'has_psychologist',
        'has_speech_therapist',
        'broadband_ok',
        'building_condition',
        'has_utilities',
        'has_gym',
        'computers',
        'has_science_lab',
        'has_tochka_rosta',
        'has_cos'
    ]) }}
),

final as (
    select
        year,
        school_id,
        teachers_total,
        teacher_vacancies,
        teachers_retirement_age,
        avg_teacher_load,
        nonspecialist_ru_ma,
        has_psychologist,
        has_speech_therapist,
        broadband_ok,
        building_condition,
        has_utilities,
        has_gym,
        computers,
        has_science_lab,
        has_tochka_rosta,
        has_cos,
        _file_id as file_id,
        _source_file as source_file,
        _row_number as source_row_number,
        _rows_in_latest_file as rows_in_latest_file
    from latest
)

select * from final
