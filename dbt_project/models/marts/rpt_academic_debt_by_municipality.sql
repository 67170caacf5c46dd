-- Academic-debt monitoring by municipality (seed 003, track 3: «Мониторинг по показателям учебной
-- неуспешности»), one row per municipality, academic year and monitoring period plus a region
-- total row: how many schools reported, their students, and the pooled shares of students with
-- academic debt, attending extra classes, with an individual route (ИОМ) and who closed the debt
-- (counts summed over the reporting schools, then divided), with the mean of the schools' own
-- shares of students with debt («средние доли»). Schools belong to the municipality of the
-- registry of the year the academic year ends in. Not shaped by the methodology profile.
with

debt as (
    select * from {{ ref('fct_academic_debt') }}
),

schools as (
    select school_id, year, municipality_code, municipality_name from {{ ref('dim_school') }}
),

joined as (
    select
        debt.*,
        coalesce(schools.municipality_code, '?') as municipality_code,
        coalesce(schools.municipality_name, 'МО не указано в реестре') as municipality_name
    from debt
    left join schools on debt.school_id = schools.school_id and debt.year = schools.year
),

grouped as (
    select
        academic_year,
        year,
        period,
        any_value(period_ru) as period_ru,
        grouping(municipality_code) = 1 as is_region_total,
        coalesce(municipality_code, 'region') as municipality_code,
        case when grouping(municipality_code) = 1 then 'Всего по региону' else any_value(municipality_name) end
            as municipality_name,
        count(*) as n_schools_reporting,
        count(*) filter (where with_debt > 0) as n_schools_with_debt,
        sum(students_total) as students_total,
        sum(with_debt) as with_debt,
        sum(attending_extra) as attending_extra,
        sum(with_iom) as with_iom,
        sum(debt_closed) as debt_closed,
        -- exact sums (macros/exact_aggregates.sql): a float sum's last bits follow the row order
        {{ exact_sum('debt_share') }} / count(debt_share) as mean_school_debt_share,
        {{ exact_sum('debt_not_closed_share') }} / count(debt_not_closed_share) as mean_school_debt_not_closed_share
    from joined
    group by grouping sets ((academic_year, year, period, municipality_code), (academic_year, year, period))
),

final as (
    select
        municipality_code,
        municipality_name,
        academic_year,
        year,
        period,
        period_ru,
        is_region_total,
        n_schools_reporting,
        n_schools_with_debt,
        students_total,
        with_debt,
        attending_extra,
        with_iom,
        debt_closed,
        with_debt / nullif(students_total, 0) as debt_share,
        attending_extra / nullif(with_debt, 0) as attending_extra_share,
        with_iom / nullif(with_debt, 0) as iom_share,
        debt_closed / nullif(with_debt, 0) as debt_closed_share,
        (with_debt - debt_closed) / nullif(with_debt, 0) as debt_not_closed_share,
        mean_school_debt_share,
        mean_school_debt_not_closed_share
    from grouped
)

select * from final
