-- Academic debt monitoring (академическая задолженность, track 3 of seed 003), one row per
-- school, academic year and monitoring period: the shares of methodology §7. Not shaped by the
-- methodology profile.
with

debt as (
    select * from {{ ref('stg_surveys__academic_debt') }}
),

final as (
    select
        school_id,
        academic_year,
        year,
        period,
        case period when 'year_end' then 'на конец учебного года' when 'february' then 'на февраль' end as period_ru,
        students_total,
        with_debt,
        attending_extra,
        with_iom,
        debt_closed,
        with_debt / nullif(students_total, 0) as debt_share,
        attending_extra / nullif(with_debt, 0) as attending_extra_share,
        with_iom / nullif(with_debt, 0) as iom_share,
        debt_closed / nullif(with_debt, 0) as debt_closed_share,
        (with_debt - debt_closed) / nullif(with_debt, 0) as debt_not_closed_share
    from debt
)

select * from final
