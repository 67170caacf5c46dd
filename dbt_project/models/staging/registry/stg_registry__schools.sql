with

source as (
    select * from {{ source('raw', 'schools') }}
),

latest as (
    select *
    from source
    {{ latest_delivery(['year', 'school_id']) }}
),

-- Код МО is a text code («03»), but a registry saved from a spreadsheet where the column was a
-- number delivers «3»: one municipality under two codes would split its ИСБШ quartiles and its
-- risk-zone lists. A code of digits alone is one municipality whatever its leading zeros, and is
-- spelt as its longest delivered spelling (the zeros kept) in every year; the warn-level test
-- assert_municipality_codes_one_spelling names the files of the other spellings.
municipality_spellings as (
    select
        municipality_code as delivered_municipality_code,
        {{ municipality_key('municipality_code') }} as municipality_key
    from latest
    where municipality_code is not null
    group by municipality_code
),

-- one spelling per key: the longest (of digits alone, the same key and length is the same code)
canonical_codes as (
    select
        municipality_key,
        arg_max(delivered_municipality_code, length(delivered_municipality_code)) as municipality_code
    from municipality_spellings
    group by municipality_key
),

municipality_codes as (
    select
        spellings.delivered_municipality_code,
        canonical_codes.municipality_code
    from municipality_spellings as spellings
    inner join canonical_codes on spellings.municipality_key = canonical_codes.municipality_key
),

final as (
    select
        latest.year as registry_year,
        latest.school_id,
        latest.school_name,
        municipality_codes.municipality_code,
        latest.municipality_code as delivered_municipality_code,
        latest.municipality_name,
        latest.locality,
        coalesce(latest.is_small, false) as is_small,
        latest.has_grade_9,
        latest.has_grade_11,
        latest.enrolment,
        latest._file_id as file_id,
        latest._source_file as source_file,
        latest._row_number as source_row_number
    from latest
    left join municipality_codes on latest.municipality_code = municipality_codes.delivered_municipality_code
)

select * from final
