{{ config(severity='error', meta={'dagster': {'ref': {'name': 'rpt_dynamics_by_group'}}}) }}
-- a Dagster asset check of rpt_dynamics_by_group (it reads several report marts; Dagster needs one asset)
-- returns one row per report row whose parts do not add up to its total
with

dynamics_by_group as (
    select 'rpt_dynamics_by_group' as report, group_code || ' ' || procedure_code || ' ' || year_to as report_row
    from {{ ref('rpt_dynamics_by_group') }}
    where n_positive + n_zero_both + n_negative + n_neutral + n_no_participants <> n_schools
        or n_positive_result <> n_positive + n_zero_both
),

urban_rural as (
    select 'rpt_dynamics_urban_rural' as report, group_code || ' ' || locality || ' ' || year_to as report_row
    from {{ ref('rpt_dynamics_urban_rural') }}
    where n_positive + n_zero_both + n_negative + n_neutral + n_no_participants <> n_school_procedures
),

transitions as (
    select 'rpt_cluster_transitions_by_group' as report, group_code || ' ' || list_year_to as report_row
    from {{ ref('rpt_cluster_transitions_by_group') }}
    where n_positive + n_neutral + n_negative <> n_schools
        or n_improved_cluster + n_left_list + n_unchanged + n_not_listed + n_worsened_cluster + n_newly_listed
        <> n_schools
),

not_conducted as (
    select 'rpt_procedures_not_conducted' as report, group_code || ' ' || procedure_code || ' ' || year as report_row
    from {{ ref('rpt_procedures_not_conducted') }}
    where n_conducted + n_not_conducted <> n_schools or n_not_conducted_without_grade > n_not_conducted
),

by_cluster as (
    select 'rpt_shnor_by_cluster' as report, cast(list_year as varchar) as report_row
    from {{ ref('rpt_shnor_by_cluster') }}
    group by list_year
    having sum(n_listed) filter (where fioko_cluster <> 'total') <> sum(n_listed) filter (where fioko_cluster = 'total')
),

municipal_totals as (
    select 'rpt_resource_deficits_by_municipality' as report, cast(year as varchar) as report_row
    from {{ ref('rpt_resource_deficits_by_municipality') }}
    group by year
    having sum(n_schools) filter (where not is_region_total) <> sum(n_schools) filter (where is_region_total)
        or sum(n_shnor) filter (where not is_region_total) <> sum(n_shnor) filter (where is_region_total)
    union all
    select 'rpt_risk_zone_by_municipality' as report, cast(year as varchar) as report_row
    from {{ ref('rpt_risk_zone_by_municipality') }}
    group by year
    having sum(n_risk_zone) filter (where not is_region_total) <> sum(n_risk_zone) filter (where is_region_total)
),

final as (
    select * from dynamics_by_group
    union all
    select * from urban_rural
    union all
    select * from transitions
    union all
    select * from not_conducted
    union all
    select * from by_cluster
    union all
    select * from municipal_totals
)

select * from final
