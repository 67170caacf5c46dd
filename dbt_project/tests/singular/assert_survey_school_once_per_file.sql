{#- A school has one row per year in each delivered file of the social passport and the resource
    survey. The loader finds a code delivered twice in one file; this finds one school delivered
    under two of its codes (the registry's and another system's) in one file: the staging models
    (macro latest_delivery_by_column) would take the later row's values and the earlier row's would
    not count. -#}
with

delivered as (
    select 'social_passport' as source, year, school_id, _file_id, _source_file, _row_number
    from ({{ with_registry_school_ids(source('raw', 'social_passport')) }})
    union all
    select 'resource_survey' as source, year, school_id, _file_id, _source_file, _row_number
    from ({{ with_registry_school_ids(source('raw', 'resource_survey')) }})
)

select
    source,
    year,
    school_id,
    _source_file as source_file,
    _file_id as file_id,
    count(*) as n_rows,
    string_agg(_row_number::varchar, ', ' order by _row_number) as row_numbers
from delivered
group by source, year, school_id, _source_file, _file_id
having count(*) > 1
