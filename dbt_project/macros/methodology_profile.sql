{#- The methodology profile this build uses: dbt var `methodology_profile`, else the
    EDUQ_METHODOLOGY_PROFILE environment variable, else the default profile. -#}
{% macro methodology_profile() -%}
    {{- var('methodology_profile', env_var('EDUQ_METHODOLOGY_PROFILE', 'fioko_2025')) -}}
{%- endmacro %}
