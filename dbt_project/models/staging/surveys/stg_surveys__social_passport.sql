with

source as (
    {{ with_registry_school_ids(source('raw', 'social_passport')) }}
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
        _row_number as source_row_number
    from source
    {{ latest_delivery(['year', 'school_id']) }}
)

select * from final
