{#-
  Sums, means and spreads of floating-point columns that do not depend on the order the rows arrive
  in. DuckDB adds doubles in whatever order its threads meet them, and the last bits of a float sum
  move with that order: the same deliveries, split into files differently, would then give an index
  that differs in the 16th digit and a school on the other side of a tie. These macros add the
  values as decimals (12 decimal places; exact, so the order cannot matter) and turn the sum back
  into a double once.
-#}

{% macro exact(expr, width=18) -%}
    cast({{ expr }} as decimal({{ width }}, 12))
{%- endmacro %}

{# the sum as a double; ``filter`` a condition, ``over`` a window specification #}
{% macro exact_sum(expr, filter=none, over=none) -%}
    cast(sum({{ exact(expr, 38) }}){% if filter %} filter (where {{ filter }}){% endif %}{% if over %} over ({{ over }}){% endif %} as double)
{%- endmacro %}

{# the mean as a decimal(18, 12), for the deviations of exact_stddev_pop #}
{% macro exact_mean(expr) -%}
    cast(sum({{ exact(expr, 38) }}) / count({{ expr }}) as decimal(18, 12))
{%- endmacro %}

{# the population standard deviation around ``mean`` (an exact_mean of the same rows, joined in):
   the squared deviations are exact, so equal values give exactly 0 #}
{% macro exact_stddev_pop(expr, mean) -%}
    sqrt(
        cast(sum(({{ exact(expr) }} - {{ mean }}) * ({{ exact(expr) }} - {{ mean }})) as double)
        / count({{ expr }})
    )
{%- endmacro %}
