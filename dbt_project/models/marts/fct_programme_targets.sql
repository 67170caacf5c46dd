-- Target indicators of the schools' programmes against the actual value where the warehouse
-- computes it (seed 001: «Целевые индикаторы и показатели»: current value, target value), one row
-- per school, programme year and indicator. The indicator is recognised by its code or by its
-- wording (seeds programme_indicators, programme_indicator_aliases). The actual value is the one
-- of the target year, or of the latest earlier year the warehouse has; a share is given in the unit
-- of the target (percent when the target is in percent), with the number of pupils it is computed
-- over (actual_base_n: small-number protection, seed small_number_protection). Not shaped by the
-- methodology profile.
with

targets as (
    select * from {{ ref('stg_programmes__programme_targets') }}
),

indicators as (
    select * from {{ ref('programme_indicators') }}
),

aliases as (
    select indicator_key, indicator_code from {{ ref('programme_indicator_aliases') }}
),

procedure_results as (
    select school_id, procedure_code, year, participants, failing from {{ ref('fct_procedure_results') }}
),

procedures as (
    select procedure_code, exam from {{ ref('procedures') }}
),

debt as (
    select
        school_id, year, students_total, with_debt,
        debt_share, attending_extra_share, iom_share, debt_closed_share
    from {{ ref('fct_academic_debt') }}
    where period = 'year_end'
),

exam_success as (
    select
        procedure_results.school_id,
        procedure_results.year,
        sum(procedure_results.participants) filter (where procedures.exam = 'VPR') as vpr_success_share_n,
        sum(procedure_results.participants) filter (where procedures.exam = 'OGE') as oge_success_share_n,
        sum(procedure_results.participants) filter (where procedures.exam = 'EGE') as ege_success_share_n,
        1 - sum(procedure_results.failing) filter (where procedures.exam = 'VPR')
        / nullif(sum(procedure_results.participants) filter (where procedures.exam = 'VPR'), 0)
            as vpr_success_share,
        1 - sum(procedure_results.failing) filter (where procedures.exam = 'OGE')
        / nullif(sum(procedure_results.participants) filter (where procedures.exam = 'OGE'), 0)
            as oge_success_share,
        1 - sum(procedure_results.failing) filter (where procedures.exam = 'EGE')
        / nullif(sum(procedure_results.participants) filter (where procedures.exam = 'EGE'), 0)
            as ege_success_share
    from procedure_results
    inner join procedures on procedure_results.procedure_code = procedures.procedure_code
    group by procedure_results.school_id, procedure_results.year
),

-- every measure of every school and year, long
measures as (
    {%- for measure in ['vpr_success_share', 'oge_success_share', 'ege_success_share'] %}
    select
        school_id, year, '{{ measure }}' as measure, {{ measure }} as measure_value,
        {{ measure }}_n as measure_base_n
    from exam_success
    where {{ measure }} is not null
    union all
    {%- endfor %}
    {%- for measure in ['debt_share', 'attending_extra_share', 'iom_share', 'debt_closed_share'] %}
    select
        school_id, year, '{{ measure }}' as measure, {{ measure }} as measure_value,
        {{ 'students_total' if measure == 'debt_share' else 'with_debt' }} as measure_base_n
    from debt
    where {{ measure }} is not null
    {{- ' union all' if not loop.last }}
    {%- endfor %}
),

recognised as (
    select
        targets.*,
        indicators.indicator_code as catalogue_code,
        indicators.indicator_name_ru,
        indicators.measure,
        indicators.higher_is_better,
        indicators.actual_source_ru
    from targets
    left join aliases on targets.indicator_key = aliases.indicator_key
    left join indicators on coalesce(targets.indicator_code, aliases.indicator_code) = indicators.indicator_code
),

-- the actual value of the target year, or of the latest earlier year with one
actuals as (
    select
        recognised.school_id,
        recognised.year,
        recognised.indicator,
        measures.year as actual_year,
        measures.measure_value as actual_share,
        measures.measure_base_n as actual_base_n
    from recognised
    inner join measures
        on recognised.school_id = measures.school_id
        and recognised.measure = measures.measure
        and recognised.target_year >= measures.year
    qualify row_number() over (
        partition by recognised.school_id, recognised.year, recognised.indicator order by measures.year desc
    ) = 1
),

joined as (
    select
        recognised.*,
        actuals.actual_year,
        actuals.actual_base_n,
        case when recognised.is_percent then actuals.actual_share * 100 else actuals.actual_share end
            as actual_value
    from recognised
    left join actuals
        on recognised.school_id = actuals.school_id
        and recognised.year = actuals.year
        and recognised.indicator = actuals.indicator
),

final as (
    select
        school_id,
        year,
        target_year,
        indicator,
        catalogue_code as indicator_code,
        indicator_name_ru,
        unit,
        is_percent,
        baseline_text,
        target_text,
        baseline_value,
        target_value,
        round(actual_value, 4) as actual_value,
        actual_year,
        cast(actual_base_n as bigint) as actual_base_n,
        actual_source_ru,
        higher_is_better,
        case
            when measure is null then 'not_computed'
            when actual_value is null then 'no_data'
            when target_value is null then 'no_target_value'
            when actual_year < target_year then 'in_progress'
            when (higher_is_better and actual_value >= target_value)
                or (not higher_is_better and actual_value <= target_value) then 'achieved'
            else 'not_achieved'
        end as target_status,
        case
            when measure is null then 'хранилище не рассчитывает'
            when actual_value is null then 'нет данных'
            when target_value is null then 'целевое значение не число'
            when actual_year < target_year then 'год достижения не наступил'
            when (higher_is_better and actual_value >= target_value)
                or (not higher_is_better and actual_value <= target_value) then 'достигнуто'
            else 'не достигнуто'
        end as target_status_ru
    from joined
)

select * from final
