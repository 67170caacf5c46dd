{{ config(severity='error') }}
-- returns a row when int_methodology_profile does not hold exactly one profile
select count(*) as n_profiles
from {{ ref('int_methodology_profile') }}
having count(*) <> 1
