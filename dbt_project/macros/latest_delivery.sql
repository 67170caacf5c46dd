{#- The latest delivery wins: of all loaded rows of a source, keep those of the latest file
    (highest delivery_order: the file id) for each partition, e.g. (year, school_id) for
    school-level sources and (year, school_id, exam, subject, grade) for results, so that a file of
    one subject never erases another subject's results of the same schools. Raw keeps every
    version. -#}
{% macro latest_delivery(partition_by, file_id=none) -%}
    {%- set order = file_id or delivery_order() -%}
    qualify {{ order }} = max({{ order }}) over (partition by {{ partition_by | join(', ') }})
{%- endmacro %}

{#- A row's place in the delivery order: its file id, or for rows released from quarantine once
    their school code was known (ingestion.release: loaded later under a file id of their own) the
    id of the file that delivered them, so that they and the rest of that file are one delivery and
    a file delivered since still replaces them. -#}
{% macro delivery_order(relation='') -%}
    {%- set prefix = relation ~ '.' if relation else '' -%}
    coalesce({{ prefix }}_released_from_file_id, {{ prefix }}_file_id)
{%- endmacro %}

{#- The same rule for the student-level results (tens of millions of rows a year), without a
    window over every row: the latest file is chosen among each file's distinct partitions as
    delivered (a few per school and file), and the rows of the relation `source` are kept by a
    join on the file and those columns (one match at most: the partitions are distinct). `columns`
    with the delivered subject make the partition (the subject through its key, result_subject_key:
    aliases of one subject are one partition); the model has the seed subject_aliases as
    `subjects`. The partition's school is the registry's code of the delivered one
    (stg_registry__school_code_map), as for the school-level sources. Joined on `year` by
    equality, so that a year's filter reaches both sides (a night that counts one year reads that
    year's partitions only): the contracts require a year, the loader quarantines a row without
    one, and int_result_key_checks fails a NULL in a key column. -#}
{% macro latest_result_rows(source, columns) -%}
    {%- set partition_by = [] -%}
    {%- for column in columns -%}
        {#- the school as the registry's code (a correction under the exam system's code replaces
            a delivery under the registry's, and the other way round: with_registry_school_ids) -#}
        {%- do partition_by.append(
            'coalesce(codes.school_id, delivered.school_id)' if column == 'school_id' else 'delivered.' ~ column
        ) -%}
    {%- endfor -%}
    {%- do partition_by.append(result_subject_key('delivered.subject')) -%}
    select delivered_rows.*
    from {{ source }} as delivered_rows
    inner join (
        select delivered.*
        from (
            select distinct _file_id, _released_from_file_id, {{ columns | join(', ') }}, subject
            from {{ source }}
        ) as delivered
        left join subjects on lower(trim(delivered.subject)) = subjects.subject_alias
        left join {{ ref('stg_registry__school_code_map') }} as codes on delivered.school_id = codes.code
        {{ latest_delivery(partition_by, file_id=delivery_order('delivered')) }}
    ) as latest
        on delivered_rows._file_id = latest._file_id
        {%- for column in columns + ['subject'] %}
        and delivered_rows.{{ column }} {{ '=' if column == 'year' else 'is not distinct from' }} latest.{{ column }}
        {%- endfor %}
{%- endmacro %}

{#- The rows of the raw relation `relation` with `school_id` as the registry's code (Код ОО) of the
    school the delivered code names: a region may send a school-level file under the exam system's
    or another system's code (the loader accepts every code of stg_registry__school_code_map), and a
    correction under one code must replace what a delivery under another code said. So the
    latest-delivery partition and everything after it see one school, one code. A code the map does
    not know (a source whose codes are not checked) stays as delivered. -#}
{% macro with_registry_school_ids(relation) -%}
    select delivered.* replace (coalesce(codes.school_id, delivered.school_id) as school_id)
    from {{ relation }} as delivered
    left join {{ ref('stg_registry__school_code_map') }} as codes on delivered.school_id = codes.code
{%- endmacro %}

{#- A support programme's name as compared: lower case, ё as е, single spaces, no spaces at the ends
    («Региональная  программа» and «региональная программа» are one programme). -#}
{% macro programme_key(column) -%}
    trim(regexp_replace(replace(lower({{ column }}), 'ё', 'е'), '\s+', ' ', 'g'))
{%- endmacro %}

{#- A programme indicator's wording as compared with the catalogue (seed programme_indicator_aliases):
    lower case, ё as е, single spaces, without a full stop or other punctuation at its end. -#}
{% macro indicator_key(column) -%}
    rtrim(trim(regexp_replace(replace(lower({{ column }}), 'ё', 'е'), '\s+', ' ', 'g')), '.;:, ')
{%- endmacro %}

{#- The latest delivery per partition, column by column, for the wide school-level surveys (one row
    per school and year, many columns): each column of a school's row takes the value of the latest
    delivery that gave it one, so a correction that re-sends two columns of a few schools leaves
    their other columns as delivered before. A blank cell says nothing (it does not erase a value
    delivered before; to take a file back whole: `eduq withdraw`). Within one delivery a later row
    wins; `_rows_in_latest_file` says how many rows named the school there (more than one: a school
    under two of its codes in one file, which the staging models' tests refuse).
    The provenance (file_id, source_file, source_row_number) is the latest row's that delivered the
    school; a column it left blank comes from an earlier one. `relation` is a relation or a CTE
    with the raw columns. -#}
{% macro latest_delivery_by_column(relation, partition_by, columns) -%}
    select
        {{ partition_by | join(', ') }},
        {%- for column in columns %}
        arg_max({{ column }}, _place) as {{ column }},
        {%- endfor %}
        arg_max(_file_id, _place) as _file_id,
        arg_max(_source_file, _place) as _source_file,
        arg_max(_row_number, _place) as _row_number,
        arg_max(_rows_in_file, _place) as _rows_in_latest_file
    from (
        -- the delivery, then the row in it (row numbers of a file stay far below 10^9)
        select
            *,
            cast({{ delivery_order() }} as bigint) * 1000000000 + _row_number as _place,
            count(*) over (partition by {{ partition_by | join(', ') }}, {{ delivery_order() }}) as _rows_in_file
        from {{ relation }}
    )
    group by {{ partition_by | join(', ') }}
{%- endmacro %}
