-- One row per school and year. The latest delivery wins per year and school column by column
-- (macro latest_delivery_by_column): a correction that re-sends some columns of a few schools
-- replaces those and leaves the others as delivered before.
with

source as (
    {{ with_registry_school_ids(source('raw', 'social_passport')) }}
),

latest as (
    {{ latest_delivery_by_column('source', ['year', 'school_id'], [
        'students_total',
        'both_parents_higher_ed',
        'single_parent',
        'low_income',
        'prevention_register',
        'non_native_russian',
        'disabilities',
        'large_family',
        'unemployed_parents'
    ]) }}
),

final as (
    select
        year,
        school_id,
        students_total,
        both_parents_higher_ed,
        single_parent,
        low_income,
        prevention_register,
        non_native_russian,
        disabilities,
        large_family,
        unemployed_parents,
        _file_id as file_id,
        _source_file as source_file,
        _row_number as source_row_number,
        _rows_in_latest_file as rows_in_latest_file
    from latest
)

select * from final
