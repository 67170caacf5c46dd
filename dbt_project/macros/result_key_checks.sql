{#- The columns int_result_key_checks needs of a delivered result row, from the expressions of its
    key and of its required columns (name -> expression; a name is the staging view's column):
    key_hash (one 8-byte hash of the key, grouped instead of the key's strings), has_null_key
    (a required column is NULL) and null_columns (which ones, comma-separated; computed only for
    the rows that are read again, the few of suspect keys). -#}
{% macro result_key_check_columns(key, required) -%}
    hash({{ key | join(', ') }}) as key_hash,
    {% for expression in required.values() | unique -%}
        {{ expression }} is null{% if not loop.last %} or {% endif %}
    {%- endfor %} as has_null_key,
    nullif(concat_ws(
        ', '
        {%- for name, expression in required.items() %},
        case when {{ expression }} is null then '{{ name }}' end
        {%- endfor %}
    ), '') as null_columns
{%- endmacro %}
