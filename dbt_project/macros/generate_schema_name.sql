{#- Layers go to schemas named after them (staging, intermediate, marts, reference),
    not to "<target>_<layer>", so that analysts find marts.fct_shnor_list. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}{{ target.schema }}{%- else -%}{{ custom_schema_name | trim }}{%- endif -%}
{%- endmacro %}
