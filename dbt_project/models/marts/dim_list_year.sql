-- One row per list year the results allow: whether its ШНОР list can be computed under the selected
-- profile (and why not), whether the results it depends on are complete (and what is missing), and
-- whether it may be published. A list year that cannot be computed has no list: its counts are
-- NULL («нет списка»), never 0 listed schools.
with

list_years as (
    select * from {{ ref('int_list_years') }}
),

completeness as (
    select * from {{ ref('int_results_completeness') }}
),

shnor_list as (
    select list_year, is_shnor, fioko_cluster from {{ ref('fct_shnor_list') }}
),

-- the results years each list depends on: its results year, and the year before for persistence
dependencies as (
    select list_year, results_year as year from list_years
    union all
    select list_year, prior_results_year as year from list_years
    where require_persistence and prior_results_available
),

missing as (
    select
        dependencies.list_year,
        bool_and(completeness.is_complete) as is_results_complete,
        string_agg(
            case
                when completeness.missing_ru is not null
                    then completeness.year || ', '
                    || coalesce(completeness.municipality_name, completeness.municipality_code)
                    || ': ' || completeness.missing_ru
            end,
            '; ' order by completeness.year desc, completeness.municipality_code asc
        ) as missing_ru,
        string_agg(
            distinct nullif(concat_ws('; ', completeness.vanished_ru, completeness.absent_ru), ''), '; '
            order by nullif(concat_ws('; ', completeness.vanished_ru, completeness.absent_ru), '')
        ) as vanished_ru
    from dependencies
    inner join completeness on dependencies.year = completeness.year
    group by dependencies.list_year
),

counted as (
    select
        list_year,
        count(*) as n_schools,
        count(*) filter (where is_shnor) as n_listed,
        count(*) filter (where fioko_cluster = 'basic') as n_basic,
        count(*) filter (where fioko_cluster = 'moderate') as n_moderate,
        count(*) filter (where fioko_cluster = 'severe') as n_severe
    from shnor_list
    group by list_year
),

joined as (
    select
        list_years.*,
        coalesce(missing.is_results_complete, false) as is_results_complete,
        case
            when missing.list_year is null then 'нет реестра ОО за год результатов'
            else nullif(concat_ws('; ', missing.missing_ru, missing.vanished_ru), '')
        end as incomplete_reason_ru,
        counted.n_schools,
        counted.n_listed,
        counted.n_basic,
        counted.n_moderate,
        counted.n_severe
    from list_years
    left join missing on list_years.list_year = missing.list_year
    left join counted on list_years.list_year = counted.list_year
),

final as (
    select
        list_year,
        results_year,
        prior_results_year,
        is_computable,
        case when not is_computable then prior_results_year end as missing_results_year,
        case
            when not is_computable
                then 'Список не составляется: нет результатов ' || prior_results_year || ' года, а правило '
                || 'требует превышения порога в одной и той же процедуре в предыдущем и текущем году'
        end as not_computable_reason_ru,
        is_results_complete,
        case when not is_results_complete then incomplete_reason_ru end as incomplete_reason_ru,
        is_computable and is_results_complete as is_publishable,
        case
            when not is_computable then 'not_computable'
            when not is_results_complete then 'incomplete'
            else 'publishable'
        end as list_status,
        case
            when not is_computable then 'нет списка'
            when not is_results_complete then 'данные неполные'
            else 'список составлен'
        end as list_status_ru,
        case when is_computable then n_schools end as n_schools,
        case when is_computable then n_listed end as n_listed,
        case when is_computable then n_basic end as n_basic,
        case when is_computable then n_moderate end as n_moderate,
        case when is_computable then n_severe end as n_severe,
        profile_name,
        profile_version
    from joined
)

select * from final
