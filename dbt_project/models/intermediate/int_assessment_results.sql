-- Student-level results of every procedure (VPR and state exams), one row per result row
-- delivered, with the school resolved through the code crosswalk, the procedure recognised
-- and the failing rule of that year applied.
with

vpr as (
    select
        'vpr_results' as source_table, year, school_code, exam, grade, subject_alias,
        participant_code, 'current_year_graduate' as category, 'main' as wave,
        primary_score, cast(null as double) as test_score, mark, status,
        file_id, source_file, source_row_number
    from {{ ref('stg_vpr__results') }}
),

gia as (
    select
        'gia_results' as source_table, year, school_code, exam, grade, subject_alias,
        participant_code, category, wave,
        primary_score, test_score, mark, status,
        file_id, source_file, source_row_number
    from {{ ref('stg_gia__results') }}
),

results as (
    select * from vpr
    union all
    select * from gia
),

codes as (
    select code, school_id from {{ ref('stg_registry__school_code_map') }}
),

subjects as (
    select subject_alias, subject_code from {{ ref('subject_aliases') }}
),

procedures as (
    select procedure_code, exam, subject_code, grade from {{ ref('procedures') }}
),

thresholds as (
    select year, procedure_code, result_measure, fail_below from {{ ref('procedure_thresholds') }}
),

resolved as (
    select
        results.*,
        codes.school_id,
        procedures.procedure_code,
        thresholds.result_measure,
        thresholds.fail_below,
        case thresholds.result_measure
            when 'mark' then cast(results.mark as double)
            when 'test_score' then results.test_score
            when 'primary_score' then results.primary_score
        end as result_value,
        case results.wave when 'early' then 1 when 'main' then 2 when 'reserve' then 3 else 9 end as wave_order
    from results
    left join codes on results.school_code = codes.code
    left join subjects on results.subject_alias = subjects.subject_alias
    left join procedures
        on results.exam = procedures.exam
        and subjects.subject_code = procedures.subject_code
        and results.grade = procedures.grade
    left join thresholds
        on procedures.procedure_code = thresholds.procedure_code
        and results.year = thresholds.year
),

final as (
    select
        source_table,
        year,
        school_id,
        school_code,
        procedure_code,
        participant_code,
        category,
        wave,
        status,
        result_measure,
        result_value,
        fail_below,
        -- an attempt that can count: a current-year graduate in the main period (early, main or
        -- reserve day); of a participant's attempts at a procedure in a year, the counted one is
        -- the first actually sat (an absence on the main day followed by a reserve day counts the
        -- reserve-day result): ordered by a valid result first, then the day, then the row.
        -- int_procedure_counts counts the same attempt (the macro counted_attempt_order).
        {{ is_main_period('category', 'wave') }} as is_main_period,
        wave_order,
        {{ is_main_period('category', 'wave') }}
            and row_number() over (
                partition by year, school_id, procedure_code, participant_code, {{ is_main_period('category', 'wave') }}
                order by {{ counted_attempt_order(
                    "status = 'present' and result_value is not null", 'wave_order', 'file_id', 'source_row_number'
                ) }}
            ) = 1 as is_counted_attempt,
        status = 'present' and result_value is not null as is_participant,
        status = 'present' and result_value is not null and result_value < fail_below as is_failing,
        file_id,
        source_file,
        source_row_number
    from resolved
)

select * from final
