{{ config(severity='warn') }}
{#- Every municipality is delivered under one spelling of its Код МО. A registry whose code column
    was a spreadsheet number delivers «3» for «03»: stg_registry__schools counts both as «03» (the
    longest spelling), and this warning names the files and rows of the other spelling so that the
    registry can be mended. -#}
select
    delivered_municipality_code,
    municipality_code as counted_as,
    source_file,
    file_id,
    min(registry_year) as first_year,
    max(registry_year) as last_year,
    count(*) as n_schools,
    min(source_row_number) as first_row_number
from {{ ref('stg_registry__schools') }}
where delivered_municipality_code <> municipality_code
group by delivered_municipality_code, municipality_code, source_file, file_id
