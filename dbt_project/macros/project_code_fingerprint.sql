{#- The project's code as one MD5: the checksums of its models and seeds (with the seeds'
    column types) and the text of its own macros. What a result computed from raw rows depends on
    besides the rows: a change of the code computes such results again (int_result_inputs_by_year,
    int_result_key_checks). Empty at parse time (execute is false), where nothing is computed. -#}
{% macro project_code_fingerprint() -%}
    {#- computed once per dbt invocation: kept in the invocation's graph (the same for every node;
        the walk over every macro of the compile context cost ~0.1 s per call) -#}
    {%- if execute and graph.get('eduq_project_code_fingerprint') -%}
        {{- return(graph['eduq_project_code_fingerprint']) -}}
    {%- endif -%}
    {%- set code = [] -%}
    {%- if execute -%}
        {%- for node in graph.nodes.values() | sort(attribute='unique_id') -%}
            {%- if node.resource_type == 'model' -%}
                {%- do code.append(node.unique_id ~ '=' ~ node.checksum.checksum) -%}
            {%- elif node.resource_type == 'seed' -%}
                {#- a seed's checksum is its file's; the types its columns are read as are set in
                    dbt_project.yml or seeds/_seeds.yml (1 and 1.0 are one value to hash(): a type
                    change alone would not change the input fingerprints of the years) -#}
                {%- do code.append(node.unique_id ~ '=' ~ node.checksum.checksum ~ ':'
                    ~ tojson(node.config.column_types or {}, sort_keys=true)) -%}
            {%- endif -%}
        {%- endfor -%}
        {#- the project's own macros; dbt's graph does not list macros, the compile context does -#}
        {%- for name in context.keys() | sort -%}
            {%- set candidate = context[name] -%}
            {%- if candidate.macro is defined and candidate.macro.package_name == project_name -%}
                {%- do code.append(candidate.macro.unique_id ~ '=' ~ local_md5(candidate.macro.macro_sql)) -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endif -%}
    {%- set fingerprint = local_md5(code | join(',')) -%}
    {%- if execute -%}
        {%- do graph.update({'eduq_project_code_fingerprint': fingerprint}) -%}
    {%- endif -%}
    {{- fingerprint -}}
{%- endmacro %}

{#- The subject key of a delivered result row: the subject code of seed subject_aliases, or the
    subject as delivered, lower-case, when the alias is unknown. `subjects` is the seed joined on
    lower(trim(subject)) = subject_alias. With year, school and grade (ВПР) or exam (ГИА) it is the
    partition in which the latest delivery wins. -#}
{% macro result_subject_key(subject, subjects='subjects') -%}
    coalesce({{ subjects }}.subject_code, lower(trim({{ subject }})))
{%- endmacro %}
