{#- What makes two spellings of Код МО one municipality: a code of digits alone without its
    leading zeros («03», «3» and «003» are one; «0» stays «0»), any other code as delivered. -#}
{% macro municipality_key(code) -%}
    case
        when regexp_full_match({{ code }}, '[0-9]+') then coalesce(nullif(ltrim({{ code }}, '0'), ''), '0')
        else {{ code }}
    end
{%- endmacro %}
