{#- The latest delivery wins: of all loaded rows of a source, keep those of the latest file
    (highest _file_id) for each partition, e.g. (year, school_id) for school-level sources and
    (year, school_id, exam, subject, grade) for results, so that a file of one subject never
    erases another subject's results of the same schools. Raw keeps every version. -#}
{% macro latest_delivery(partition_by, file_id='_file_id') -%}
    qualify {{ file_id }} = max({{ file_id }}) over (partition by {{ partition_by | join(', ') }})
{%- endmacro %}
