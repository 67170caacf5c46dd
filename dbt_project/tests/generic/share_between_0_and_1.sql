{#- A share stored as a fraction lies in [0, 1] (NULL allowed where not computable). -#}
{% test share_between_0_and_1(model, column_name) %}
select {{ column_name }} from {{ model }}
where {{ column_name }} < 0 or {{ column_name }} > 1
{% endtest %}
