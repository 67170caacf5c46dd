{#- The project's table and view materializations: the relation is replaced in place, in one
    transaction — the old one dropped and the new one created (a table's contract enforced by
    create_table_as: its columns, types and NOT NULL constraints, then its rows), its comments
    written, then one commit. A failed statement rolls the transaction back: the old relation
    stays as it was, as with a swap.

    dbt-duckdb's own materializations build a relation beside the old one and swap them: a
    temporary name, a look for indexes, two renames, a drop of the backup after the commit, each a
    statement through dbt (with its events and relation cache). A country's night rebuilds ~20
    tables and views, a fresh build ~60: those statements were ~0.1 s per relation of a worker's
    time, half of it dbt's Python. This project has no foreign keys, indexes or grants (DuckDB
    has no grants), which a swap keeps and a drop would lose; a view on a relation DuckDB does not
    track, so dropping one drops nothing else. -#}

{#- The steps both materializations share; the caller's block is the statement that creates the
    relation (rendered after the drop: a contract's checks run in the transaction too). -#}
{% macro replace_in_place(target_relation) -%}
    {%- set existing_relation = load_cached_relation(this) -%}
    {{ run_hooks(pre_hooks, inside_transaction=False) }}
    {#- the transaction begins here -#}
    {{ run_hooks(pre_hooks, inside_transaction=True) }}
    {%- if existing_relation is not none -%}
        {#- the drop in the transaction too (dbt drops outside one) -#}
        {%- do adapter.ensure_transaction() -%}
        {%- do adapter.drop_relation(existing_relation) -%}
    {%- endif -%}
    {%- set create_sql = caller() -%}
    {% call statement('main') -%}
        {{ create_sql }}
    {%- endcall %}
    {{ run_hooks(post_hooks, inside_transaction=True) }}
    {%- do persist_docs(target_relation, model) -%}
    {{ adapter.commit() }}
    {{ run_hooks(post_hooks, inside_transaction=False) }}
{%- endmacro %}

{% materialization table, adapter='duckdb' %}
    {%- set target_relation = this.incorporate(type='table') -%}
    {% call replace_in_place(target_relation) -%}
        {{ create_table_as(False, target_relation, compiled_code) }}
    {%- endcall %}
    {{ return({'relations': [target_relation]}) }}
{% endmaterialization %}

{% materialization view, adapter='duckdb' %}
    {%- set target_relation = this.incorporate(type='view') -%}
    {% call replace_in_place(target_relation) -%}
        {{ get_create_view_as_sql(target_relation, compiled_code) }}
    {%- endcall %}
    {{ return({'relations': [target_relation]}) }}
{% endmaterialization %}
