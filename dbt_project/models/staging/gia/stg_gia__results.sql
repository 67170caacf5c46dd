with

subjects as (
    select subject_alias, subject_code from {{ ref('subject_aliases') }}
),

-- the latest delivery wins per year, school, exam and subject
source as (
    {{ latest_result_rows(source('raw', 'gia_results'), ['year', 'school_id', 'exam']) }}
),

final as (
    select
        source.year,
        source.school_id as school_code,
        source.exam,
        case when source.exam = 'OGE' then 9 else 11 end as grade,
        lower(trim(source.subject)) as subject_alias,
        source.subject,
        {{ result_subject_key('source.subject') }} as subject_key,
        source.participant_code,
        source.category,
        source.wave,
        source.primary_score,
        source.test_score,
        source.mark,
        source.status,
        source._file_id as file_id,
        source._source_file as source_file,
        source._row_number as source_row_number
    from source
    left join subjects on lower(trim(source.subject)) = subjects.subject_alias
)

select * from final
