-- The methodology profile this warehouse was built with, one row: every parameter typed, so that a
-- reader (the report's footnotes, an analyst, a BI tool) finds the rule behind every figure.
with

profile as (
    select * from {{ ref('int_methodology_profile') }}
),

final as (
    select * from profile
)

-- every parameter of the profile, as int_methodology_profile types them
select * from final  -- noqa: AM04
