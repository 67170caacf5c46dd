{#-
  The school that continues each reorganised school in results year t (t = year + 1 of the
  results carried forward): the furthest hop of int_school_successors already in effect, i.e. the
  greatest depth whose first_results_year_under_successor <= t. Found on the successor map and the
  few results years (``results_years``: a relation with a column ``year``), then joined to the
  counts on (school, year): a window over every count cost a second at a country's size.
-#}
{% macro successor_in_effect(successors, results_years) -%}
    select
        {{ successors }}.old_school_id,
        {{ results_years }}.year,
        arg_max({{ successors }}.successor_school_id, {{ successors }}.depth) as successor_school_id
    from {{ successors }}
    inner join {{ results_years }}
        on {{ successors }}.first_results_year_under_successor <= {{ results_years }}.year + 1
    group by {{ successors }}.old_school_id, {{ results_years }}.year
{%- endmacro %}
