{#- The latest delivery wins: of all loaded rows of a source, keep those of the latest file
    (highest _file_id) for each partition, e.g. (year, school_id) for school-level sources and
    (year, school_id, exam, subject, grade) for results, so that a file of one subject never
    erases another subject's results of the same schools. Raw keeps every version. -#}
{% macro latest_delivery(partition_by, file_id='_file_id') -%}
    qualify {{ file_id }} = max({{ file_id }}) over (partition by {{ partition_by | join(', ') }})
{%- endmacro %}

{#- The same rule for the student-level results (tens of millions of rows a year), without a
    window over every row: the latest file is chosen among each file's distinct partitions as
    delivered (a few per school and file), and the rows of the relation `source` are kept by a
    join on the file and those columns (one match at most: the partitions are distinct). `columns`
    with the delivered subject make the partition (the subject through its key, result_subject_key:
    aliases of one subject are one partition); the model has the seed subject_aliases as
    `subjects`. Joined on `year` by equality, so that a year's filter reaches both sides (a night
    that counts one year reads that year's partitions only): the contracts require a year, the
    loader quarantines a row without one, and int_result_key_checks fails a NULL in a key column. -#}
{% macro latest_result_rows(source, columns) -%}
    {%- set partition_by = [] -%}
    {%- for column in columns -%}{%- do partition_by.append('delivered.' ~ column) -%}{%- endfor -%}
    {%- do partition_by.append(result_subject_key('delivered.subject')) -%}
    select delivered_rows.*
    from {{ source }} as delivered_rows
    inner join (
        select delivered.*
        from (select distinct _file_id, {{ columns | join(', ') }}, subject from {{ source }}) as delivered
        left join subjects on lower(trim(delivered.subject)) = subjects.subject_alias
        {{ latest_delivery(partition_by, file_id='delivered._file_id') }}
    ) as latest
        on delivered_rows._file_id = latest._file_id
        {%- for column in columns + ['subject'] %}
        and delivered_rows.{{ column }} {{ '=' if column == 'year' else 'is not distinct from' }} latest.{{ column }}
        {%- endfor %}
{%- endmacro %}
