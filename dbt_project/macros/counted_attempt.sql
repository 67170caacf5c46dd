{#- The counted attempt of the methodology (docs/methodology.md): of a participant's attempts at
    a procedure in a results year, only a current-year graduate's attempt in the main period
    (early, main or reserve day) can count, and the one counted is the first actually sat. Both
    int_assessment_results (is_counted_attempt, per row) and int_procedure_counts (N and F) use
    these two macros, so that they cannot disagree. -#}
{% macro is_main_period(category, wave) -%}
    ({{ category }} = 'current_year_graduate' and {{ wave }} in ('early', 'main', 'reserve'))
{%- endmacro %}

{#- The order of a participant's attempts, the counted one first: a valid result first, then
    the earliest day (wave_order: early 1, main 2, reserve 3), then the earliest delivery and its
    row (two files can hold one participant when a school's results come under two codes of the
    crosswalk: the order never leaves the choice to chance). -#}
{% macro counted_attempt_order(is_participant, wave_order, file_id, source_row_number) -%}
    ({{ is_participant }}) desc, {{ wave_order }} asc, {{ file_id }} asc, {{ source_row_number }} asc
{%- endmacro %}
