-- Target indicators of the schools' programmes, one row per school, programme year and indicator
-- (the latest delivery wins per programme year, school and indicator — its code, or the catalogue's
-- code of its wording: one file per indicator adds up, a correction of one indicator replaces that
-- one, in any of its wordings). Values arrive as people type them
-- («15%», «0,85», «имеется»): the number is read where there is one, the text is kept beside it;
-- a value typed with «%» or a unit of percent is in percent (15 means 15%).
with

source as (
    {{ with_registry_school_ids(source('raw', 'programme_targets')) }}
),

aliases as (
    select indicator_key, indicator_code from {{ ref('programme_indicator_aliases') }}
),

-- which indicator a row is about: its code as delivered, else the catalogue's code of its wording,
-- else its wording (compared as macro indicator_key does), so that a correction in another
-- wording of the same indicator replaces it
identified as (
    select
        source.*,
        coalesce(
            nullif(upper(trim(source.indicator_code)), ''),
            aliases.indicator_code,
            {{ indicator_key('source.indicator') }}
        ) as indicator_identity
    from source
    left join aliases on {{ indicator_key('source.indicator') }} = aliases.indicator_key
),

cleaned as (
    select
        year,
        cast(coalesce(target_year, year) as integer) as target_year,
        school_id,
        trim(indicator) as indicator,
        nullif(upper(trim(indicator_code)), '') as indicator_code,
        nullif(trim(unit), '') as unit,
        nullif(trim(baseline), '') as baseline_text,
        nullif(trim(target), '') as target_text,
        _file_id as file_id,
        _source_file as source_file,
        _row_number as source_row_number
    from identified
    {{ latest_delivery(['year', 'school_id', 'indicator_identity']) }}
),

final as (
    select
        year,
        target_year,
        school_id,
        indicator,
        -- the indicator as compared with the catalogue (macro indicator_key)
        {{ indicator_key('indicator') }} as indicator_key,
        indicator_code,
        coalesce(
            unit,
            case when ends_with(baseline_text, '%') or ends_with(target_text, '%') then '%' end
        ) as unit,
        coalesce(unit in ('%', 'процент', 'проценты', '% обучающихся'), false)
            or ends_with(coalesce(baseline_text, ''), '%')
            or ends_with(coalesce(target_text, ''), '%') as is_percent,
        baseline_text,
        target_text,
        try_cast(replace(replace(rtrim(baseline_text, '% '), ' ', ''), ',', '.') as double) as baseline_value,
        try_cast(replace(replace(rtrim(target_text, '% '), ' ', ''), ',', '.') as double) as target_value,
        file_id,
        source_file,
        source_row_number
    from cleaned
)

select * from final
