{#- None of the given columns is NULL, checked in one scan of the model (one test node per model
    instead of one per column: each node costs dbt's overhead and, on a view, a re-read of its
    input). One row per column that has NULLs; the failures counted are the NULL cells. -#}
{% test not_null_columns(model, column_names) %}
{{ config(fail_calc='coalesce(sum(null_rows), 0)') }}
with counts as (
    select
    {%- for column in column_names %}
        count(*) filter (where {{ adapter.quote(column) }} is null) as {{ adapter.quote('n_' ~ loop.index) }}{{ ',' if not loop.last }}
    {%- endfor %}
    from {{ model }}
),

per_column as (
    {%- for column in column_names %}
    select '{{ column }}' as column_name, {{ adapter.quote('n_' ~ loop.index) }} as null_rows from counts
    {{ 'union all' if not loop.last }}
    {%- endfor %}
)

select column_name, null_rows from per_column where null_rows > 0
{% endtest %}
