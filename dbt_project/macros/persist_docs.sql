{#- The comments of a relation and of its columns, written by one statement after one look at the
    relation's columns (none for a model whose contract is enforced: its columns are the
    contract's). dbt-duckdb's persist_docs describes the relation twice and writes the relation's
    and the columns' comments by two statements: four statements through dbt, each with its events
    and, for the two that fetch, a typed result table — ~50 ms of a worker's time for every model
    of a build, most of it dbt's Python. The same comments, but for an unquoted documented column
    whose case differs from the relation's (`N` documented, `n` built): dbt's check of the
    documented columns matches it, as DuckDB does names, and it gets its comment where dbt-duckdb's
    second look, by exact case, left it without. A seed has no contract. -#}
{% macro duckdb__persist_docs(relation, model, for_relation, for_columns) -%}
    {%- set statements = [] -%}
    {%- if for_relation and config.persist_relation_docs() and model.description -%}
        {%- do statements.append(alter_relation_comment(relation, model.description)) -%}
    {%- endif -%}
    {%- if for_columns and config.persist_column_docs() and model.columns -%}
        {%- if (model.get('contract') or {}).get('enforced') -%}
            {#- the contract's check at the create has made its columns the relation's -#}
            {%- set existing = model.columns.keys() | list -%}
        {%- else -%}
            {%- set existing = adapter.get_columns_in_relation(relation) | map(attribute="name") | list -%}
        {%- endif -%}
        {%- set documented = validate_doc_columns(relation, model.columns, existing) -%}
        {%- for name, column in documented.items() -%}
            {%- do statements.append(
                "comment on column " ~ relation ~ "."
                ~ (adapter.quote(name) if column['quote'] else name)
                ~ " is " ~ duckdb_escape_comment(column['description']) ~ ";"
            ) -%}
        {%- endfor -%}
    {%- endif -%}
    {%- if statements -%}
        {%- do run_query(statements | join("\n")) -%}
    {%- endif -%}
{%- endmacro %}
