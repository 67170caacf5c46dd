{#- The latest delivery wins: of all loaded rows of a source, keep those of the latest file
    (highest _file_id) for each partition, e.g. (year, school_id). Raw keeps every version. -#}
{% macro latest_delivery(partition_by) -%}
    qualify _file_id = max(_file_id) over (partition by {{ partition_by | join(', ') }})
{%- endmacro %}
