{#- N and F per school, procedure and year from the ВПР school statistics (stg_vpr__school_stats),
    with the files they came from: int_procedure_counts counts them where no per-student results
    of the school, procedure and year exist, and the warn-level test
    assert_school_statistics_agree_with_student_results compares them where both do.
    `year_filter` narrows the years (« and year in (…)»). -#}
{% macro vpr_school_statistics_counts(year_filter='') -%}
    select
        codes.school_id,
        procedures.procedure_code,
        stats.year,
        cast(sum(stats.mark_2 + stats.mark_3 + stats.mark_4 + stats.mark_5) as bigint) as participants,
        cast(sum(stats.mark_2) as bigint) as failing,
        string_agg(distinct stats.source_file, ', ' order by stats.source_file) as source_files
    from {{ ref('stg_vpr__school_stats') }} as stats
    inner join {{ ref('stg_registry__school_code_map') }} as codes on stats.school_code = codes.code
    inner join {{ ref('subject_aliases') }} as subjects on stats.subject_alias = subjects.subject_alias
    inner join {{ ref('procedures') }} as procedures
        on stats.exam = procedures.exam
        and subjects.subject_code = procedures.subject_code
        and stats.grade = procedures.grade
    where true{{ year_filter }}
    group by codes.school_id, procedures.procedure_code, stats.year
{%- endmacro %}
