{#- Year-local models, incremental by year (fct_risk_profile, fct_isbsh, fct_resource_deficits,
    fct_procedure_results, int_procedure_results_prior, fct_procedure_dynamics,
    int_procedure_coverage).

    A row of year Y of such a model is computed from the rows of year Y of its year-keyed inputs
    (`by_year`: relations with a `year` column, or a relation with the expression that gives the
    year its rows serve, e.g. `year + 1` for last year's results) and from inputs that hold no year
    (`whole`: the methodology profile, the successor map; the seeds are in the project's code
    fingerprint). A model that reads the year before (lookback) builds only the years it computes.

    Every build fingerprints each year: the count and two sums of row hashes of every year-keyed
    input's rows of that year (without the columns that only say when a row was written), the
    whole of the other inputs, the project's code (models, seeds, macros), the model's contract
    (its columns and their types) and a `salt` for what else it reads (project vars). Only the
    years whose fingerprint differs from the one the table was built from are computed again and
    replace that year's rows (delete+insert by year); a year no input holds any more is deleted. A
    first build, `--full-refresh`, or a table without its record computes every year.

    The fingerprints a table was built from are kept beside it, in
    intermediate.<model>__built_from (year, input_fingerprint, computed_at): written by the model's
    post-hook in the same build, so a build that fails leaves the old record and the next build
    computes the years again. They are computed once per build, before it (to find the years to
    compute: intermediate.<model>__fingerprints, which the post-hook reads and drops). A night
    that brings one region's new year computes that year only: at a whole country's size the
    rebuild of every year of these models was ~8 s of the ~25 s of node time of such a night's
    dbt build. -#}

{% macro year_local_record_relation() -%}
    {{- return(api.Relation.create(
        database=this.database, schema='intermediate', identifier=this.identifier ~ '__built_from')) -}}
{%- endmacro %}

{#- The fingerprints of this build's inputs, as computed before the build to find the years to
    compute: the post-hook writes the record from them instead of computing them again (the same
    inputs: upstream models this build has finished). Dropped by the post-hook. -#}
{% macro year_local_fingerprints_relation() -%}
    {{- return(api.Relation.create(
        database=this.database, schema='intermediate', identifier=this.identifier ~ '__fingerprints')) -}}
{%- endmacro %}

{#- The rows of an input as the fingerprints read them, aliased t: without the columns that say when
    or by which dbt run a row was written (counted_at, checked_by_invocation), the build's clock,
    not the row's content. -#}
{% macro year_local_rows(relation) -%}
    (select columns(lambda c: not regexp_matches(c, '_at$|_invocation$')) from {{ relation }}) as t
{%- endmacro %}

{#- The rows of t in a few words: a label, their count and two sums of row hashes (0 for none). -#}
{% macro year_local_digest(label) -%}
    '{{ label }}:' || count(*) || ':' || coalesce(sum(hash(t)::hugeint), 0)
    || ':' || coalesce(sum(hash(t, 1)::hugeint), 0)
{%- endmacro %}

{#- The rows of t of a year known by a column: an input whose rows of a year are all computed at
    once from inputs its column fingerprints (int_procedure_counts: input_fingerprint, of
    int_result_inputs_by_year, with the project's code) holds the same rows while that column
    holds the same value. Hashing every row of a country's 1.1 million counts was most of the
    fingerprints of the four models that read them (~0.65 s of a night). -#}
{% macro year_local_known_digest(label, column) -%}
    '{{ label }}:' || count(*) || ':' || coalesce(min(t.{{ column }}), '') || ':'
    || coalesce(max(t.{{ column }}), '')
{%- endmacro %}

{% macro year_local_fingerprints(by_year, whole, salt='') -%}
    {#- one row per year any year-keyed input holds: (year, input_fingerprint). An input is a
        relation with a column `year`, or {'relation': …, 'year': 'year + 1'}: the rows of the
        year of that expression (a year computed from the year before it). -#}
    with year_parts as (
        {%- for item in by_year %}
        {%- set shifted = item is mapping and item.relation is defined %}
        {%- set relation = item.relation if shifted else item %}
        {%- set year = item.get('year') or 'year' if shifted else 'year' %}
        {%- set known_by = item.get('known_by') if shifted else none %}
        {%- if known_by %}
        select {{ year }} as year, {{ year_local_known_digest(loop.index, known_by) }} as part
        from {{ relation }} as t
        {%- else %}
        select {{ year }} as year, {{ year_local_digest(loop.index) }} as part
        from {{ year_local_rows(relation) }}
        {%- endif %}
        where {{ year }} is not null
        group by 1
        {%- if not loop.last %}
        union all
        {%- endif %}
        {%- endfor %}
    ),

    whole_parts as (
        select coalesce(string_agg(part, '|' order by part), '') as parts
        from (
            {%- for relation in whole %}
            select {{ year_local_digest('w' ~ loop.index) }} as part
            from {{ year_local_rows(relation) }}
            {%- if not loop.last %}
            union all
            {%- endif %}
            {%- endfor %}
            {%- if not whole %}
            select null as part where false
            {%- endif %}
        )
    )

    select
        year_parts.year,
        md5(
            string_agg(year_parts.part, '|' order by year_parts.part)
            || '#' || any_value(whole_parts.parts) || '#{{ project_code_fingerprint() }}'
            || '#{{ local_md5(year_local_contract() | join(",")) }}#{{ salt }}'
        ) as input_fingerprint
    from year_parts
    cross join whole_parts
    group by year_parts.year
{%- endmacro %}

{#- The model's contract: its columns' names and types, in order. -#}
{% macro year_local_contract() -%}
    {%- set wanted = [] -%}
    {%- for name, column in model.columns.items() -%}
        {%- do wanted.append(name | lower ~ ' ' ~ (column.data_type or '') | upper) -%}
    {%- endfor -%}
    {{- return(wanted) -}}
{%- endmacro %}

{#- The table's columns are the contract's (names, order, types)? (A model without an enforced
    contract has its columns synced by dbt: on_schema_change='sync_all_columns'.) -#}
{% macro year_local_columns_match() -%}
    {%- if not model.config.contract.enforced -%}
        {{- return(true) -}}
    {%- endif -%}
    {%- set wanted = year_local_contract() -%}
    {%- set have = [] -%}
    {%- for column in adapter.get_columns_in_relation(this) -%}
        {%- do have.append(column.name | lower ~ ' ' ~ column.dtype | upper) -%}
    {%- endfor -%}
    {{- return(wanted == have) -}}
{%- endmacro %}

{#- The years this build computes: none = every year. A table without its record, or whose columns
    are not the contract's (the model changed), is dropped here, before the build: the build then
    creates it anew, as a first build does. -#}
{% macro year_local_years(by_year, whole, salt='') -%}
    {#- only a build or run computes years (and may drop a table): `dbt docs generate`, `compile`
        or `show` render the model without side effects (the docs' copy of the serving file holds
        no record); a dbt unit test renders it without a relation of its own -#}
    {%- if execute -%}
        {#- nothing to clear unless this build computes some years, no fingerprints to reuse unless it
            computed them (a graph outlives an invocation) -#}
        {%- do graph.setdefault('eduq_year_local_years', {}).update({model.unique_id: none}) -%}
        {%- do graph.setdefault('eduq_year_local_fingerprints', {}).update({model.unique_id: none}) -%}
    {%- endif -%}
    {%- if not execute or this is none or flags.WHICH not in ('build', 'run') or not is_incremental() -%}
        {{- return(none) -}}
    {%- endif -%}
    {%- set record = year_local_record_relation() -%}
    {%- if load_relation(record) is none or not year_local_columns_match() -%}
        {%- do log(this.identifier ~ ": built anew (no record of its years, or other columns)", info=true) -%}
        {%- do adapter.drop_relation(load_relation(this)) -%}
        {{- return(none) -}}
    {%- endif -%}
    {%- set fingerprints = year_local_fingerprints_relation() -%}
    {%- do run_query('create or replace table ' ~ fingerprints ~ ' as '
        ~ year_local_fingerprints(by_year, whole, salt)) -%}
    {%- do graph['eduq_year_local_fingerprints'].update({model.unique_id: fingerprints | string}) -%}
    {%- set years = years_not_built(fingerprints, record) -%}
    {%- do log(this.identifier ~ ": computing years " ~ (years | join(", ") or "none"), info=true) -%}
    {#- for the pre-hook, which empties these years first (the same invocation's graph) -#}
    {%- do graph.setdefault('eduq_year_local_years', {}).update({model.unique_id: years}) -%}
    {{- return(years) -}}
{%- endmacro %}

{#- A predicate keeping the rows of the years this build computes (with `lookback` = 1, also the
    year before each: what a year computed from the year before it reads). -#}
{% macro year_local_filter(years, column='year', lookback=0) -%}
    {%- if years is none -%}
        true
    {%- elif years | length == 0 -%}
        false
    {%- else -%}
        {%- set wanted = [] -%}
        {%- for year in years -%}
            {%- for back in range(lookback + 1) -%}
                {%- if (year - back) not in wanted -%}{%- do wanted.append(year - back) -%}{%- endif -%}
            {%- endfor -%}
        {%- endfor -%}
        {{ year_in(column, wanted) }}
    {%- endif -%}
{%- endmacro %}

{#- ``column`` is one of ``years`` (a non-empty list), said so that DuckDB applies it below joins
    and latest-delivery windows: a range it carries to every column the query equates with
    ``column`` (the year of a staging view's latest-delivery partitions, say), an IN list it
    keeps where it was written. A night counting one year of a country's results read every
    year's partitions without the range (int_procedure_counts 0.73 → 0.30 s, the same rows). -#}
{% macro year_in(column, years) -%}
    ({{ column }} >= {{ years | min }} and {{ column }} <= {{ years | max }} and {{ column }} in ({{ years | sort | join(', ') }}))
{%- endmacro %}

{#- Post-hook (``column``: the model's year column, its unique_key): the record says what the table
    is built from now (computed_at: when that year's inputs last changed), and the years no input
    holds any more go. -#}
{% macro year_local_record(by_year, whole, column='year', salt='') -%}
    {%- set record = year_local_record_relation() -%}
    {%- set had_record = load_relation(record) is not none and is_incremental() -%}
    {%- set computed = (graph.get('eduq_year_local_fingerprints') or {}).get(model.unique_id) -%}
    create or replace table {{ record }} as
    with now as (
        {%- if computed %}
        select year, input_fingerprint from {{ computed }}
        {%- else %}
        {{ year_local_fingerprints(by_year, whole, salt) }}
        {%- endif %}
    )
    select
        now.year,
        now.input_fingerprint,
        {%- if had_record %}
        coalesce(built.computed_at, current_timestamp::timestamp) as computed_at
        {%- else %}
        current_timestamp::timestamp as computed_at
        {%- endif %}
    from now
    {%- if had_record %}
    left join {{ record }} as built
        on built.year = now.year and built.input_fingerprint = now.input_fingerprint
    {%- endif %}
    order by now.year;
    drop table if exists {{ year_local_fingerprints_relation() }};
    delete from {{ this }} as t
    where t.{{ column }} is not null
        and not exists (select 1 from {{ record }} as built where built.year = t.{{ column }})
{%- endmacro %}

{#- A year-local model in one call, at the top of its SQL: its configuration (incremental by
    ``column``, the record written by its post-hook) and the years this build computes.
    ``by_year``: model or seed names, or {'ref': name, 'year': 'year + 1', 'known_by': column} (both
    keys optional; ``known_by``: year_local_known_digest); ``whole``: names of the
    inputs without a year; ``salt``: what else the model reads (project vars); ``contract``: the
    model's contract is enforced (a changed schema then builds it anew; else dbt syncs columns).
    The model's meta says it is year-local, by which column (``eduq_year_local``): the audit judges
    such a mart's rows in the years a build computed (gate.baseline.GxCarrier.narrowing), and only
    while the current code builds it so (a record left by a model that no longer is says nothing). -#}
{% macro year_local(by_year, whole=[], column='year', salt='', contract=true) -%}
    {%- set hook = "{{ year_local_record(year_local_inputs(" ~ tojson(by_year) ~ "), year_local_inputs("
        ~ tojson(whole) ~ "), " ~ tojson(column) ~ ", " ~ tojson(salt) ~ ") }}" -%}
    {%- do config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=column,
        on_schema_change='fail' if contract else 'sync_all_columns',
        pre_hook="{{ year_local_clear(" ~ tojson(column) ~ ") }}",
        post_hook=hook,
        meta={'eduq_year_local': column}
    ) -%}
    {%- set years = year_local_years(year_local_inputs(by_year), year_local_inputs(whole), salt) -%}
    {%- do note_years_computed(column, years) -%}
    {{- return(years) -}}
{%- endmacro %}

{#- What this invocation computed of an incremental-by-year table (``years``: none = every year),
    for the data tests that run after it in the same build (years_judged). -#}
{% macro note_years_computed(column, years) -%}
    {%- if execute and this is not none -%}
        {%- do graph.setdefault('eduq_years_computed', {}).update({this | string: {
            'invocation_id': invocation_id, 'column': column, 'years': years}}) -%}
    {%- endif -%}
{%- endmacro %}

{#- The years a data test of ``model`` has to judge: none = every row. A key test (``key``: its
    columns) of a table incremental by year judges, in a build made by its plan (gate.baseline: the
    var ``eduq_judged_up_to_file`` is set, and the candidate was, table for table, what the audited
    build's audit judged and passed), the years this build computed and the rows without a year:
    a key that holds the year is repeated only within a year, and the other years' rows are the
    ones that audit judged. Only a test of severity error (a warning the audit carried would
    vanish), of a table computed by this invocation (``note_years_computed``). A run makes one dbt
    build by its plan: a step run again is another build, without a plan. -#}
{% macro years_judged(model, key) -%}
    {%- if not execute or var('eduq_judged_up_to_file', none) is none
            or (config.get('severity') or 'error') | lower != 'error' -%}
        {{- return(none) -}}
    {%- endif -%}
    {%- set computed = (graph.get('eduq_years_computed') or {}).get(model | string) -%}
    {%- if computed is none or computed.invocation_id != invocation_id or computed.years is none
            or computed.column not in key -%}
        {{- return(none) -}}
    {%- endif -%}
    {{- return(computed) -}}
{%- endmacro %}

{#- The relations of names (and of {'ref': name, 'year': …}: {'relation': …, 'year': …}). -#}
{% macro year_local_inputs(items) -%}
    {%- set relations = [] -%}
    {%- for item in items -%}
        {%- if item is mapping -%}
            {%- do relations.append(
                {'relation': ref(item.ref), 'year': item.get('year'), 'known_by': item.get('known_by')}) -%}
        {%- else -%}
            {%- do relations.append(ref(item)) -%}
        {%- endif -%}
    {%- endfor -%}
    {{- return(relations) -}}
{%- endmacro %}

{#- Pre-hook: the rows of the years this build computes go first. delete+insert replaces only the
    years its new rows hold: a year that now gives no row (its counts gone, say) kept its old rows. -#}
{% macro year_local_clear(column='year') -%}
    {%- set years = (graph.get('eduq_year_local_years') or {}).get(model.unique_id) -%}
    {%- if execute and years is not none and is_incremental() -%}
        delete from {{ this }} where {{ year_local_filter(years, column) }}
    {%- else -%}
        select 1 as nothing_to_clear
    {%- endif -%}
{%- endmacro %}

{#- The years of ``now`` (year, input_fingerprint) that ``built`` (rows with year and
    input_fingerprint: a record, or a table that keeps the fingerprint of every row) does not hold
    with the same fingerprint: what an incremental model computes again. Shared by the year-local
    models and int_procedure_counts. -#}
{% macro years_not_built(now, built) -%}
    {%- set stale -%}
        select now.year
        from {{ now }} as now
        where not exists (
            select 1 from {{ built }} as built
            where built.year = now.year and built.input_fingerprint = now.input_fingerprint
        )
        order by now.year
    {%- endset -%}
    {{- return(run_query(stale).columns[0].values() | list) -}}
{%- endmacro %}

{#- on-run-end (dbt_project.yml): the records no year-local model of this code writes go. A model
    that is no longer year-local (a plain table now, under the same name) left its record as it was:
    unchanged from night to night, it would say that none of the table's years changed while the
    table is rebuilt whole — to the serving export, which keeps the rows of unchanged years from the
    last export (gate.serving_export), and to the audit. -#}
{% macro drop_orphan_year_records() -%}
    {%- if execute -%}
        {%- set owned = [] -%}
        {%- for node in graph.nodes.values() -%}
            {%- if node.resource_type == 'model' and (node.config.meta or {}).get('eduq_year_local') -%}
                {%- do owned.append((node.alias or node.name) ~ '__built_from') -%}
            {%- endif -%}
        {%- endfor -%}
        {%- set found = run_query(
            "select table_name from duckdb_tables() where database_name = current_database() "
            ~ "and schema_name = 'intermediate' and ends_with(table_name, '__built_from')") -%}
        {%- set orphans = found.columns[0].values() | reject('in', owned) | list -%}
        {%- for table in orphans %}
        drop table if exists intermediate."{{ table }}";
        {%- endfor %}
        {%- if not orphans %}select 1 as no_orphan_year_record{% endif -%}
    {%- else -%}
        select 1 as no_orphan_year_record
    {%- endif -%}
{%- endmacro %}
