-- The floor: what the whole computation costs when written by hand in one DuckDB script.
--
-- From the files of a generated set (eduq generate --scale ..., CSV) straight to
--   fct_procedure_results  N (participants), F (failing) and the fail share per school × procedure × year
--   shnor_list             the default ШНОР list (profile fioko_2025) with its FIOKO cluster
-- with the methodology's rules (docs/methodology.md §1-2): per-participant results, valid results
-- only (status «явка» with a result), ОГЭ/ЕГЭ current-year graduates in the main period (early,
-- main or reserve day), the first attempt actually sat; failing = below `fail_below` of
-- seeds/procedure_thresholds.csv for the year (mark < 3, or the test score below 24 / 27 for ЕГЭ
-- русский and профильная математика); flag = N ≥ 5 and F/N ≥ 0.30 in a procedure that counts
-- (seeds/methodology_profile_procedures.csv); listed = ≥ 2 flagged procedures and one procedure
-- flagged in both the previous and the results year (the previous year pools the schools a
-- school continues, seed school_successors, each hop from its own date); list_year =
-- results_year + 1, only for results years whose previous year has results; cluster by the
-- pooled share over the flagged procedures: basic < 0.40 ≤ moderate ≤ 0.50 < severe.
--
-- Variables (set by bench/floor.py): input_dir (the generated set), seeds_dir (the project's
-- seeds), successors_files (the sets' successor files), results_latin1 (true: the Windows-1251 result files are read as latin-1, because
-- DuckDB has no cp1251 reader without the `encodings` extension, which needs the internet; the
-- Russian labels are then compared in that spelling, see the macro `label`).
-- Not covered because the generator never writes them: ВПР school statistics (XLSX), several
-- deliveries of one school's results (the latest-delivery rule), codes missing from the crosswalk.

set enable_progress_bar = false;

-- a Russian label as it reads from a cp1251 file opened as latin-1: А..я are the bytes C0..FF,
-- Ё and ё A8 and B8 (constant-folded: applied to literals only)
create or replace macro label(s) as
    case
        when getvariable('results_latin1')
            then translate(
                s,
                'АБВГДЕЖЗИЙКЛМНОПРСТУФХЦЧШЩЪЫЬЭЮЯабвгдежзийклмнопрстуфхцчшщъыьэюяЁё',
                'ÀÁÂÃÄÅÆÇÈÉÊËÌÍÎÏÐÑÒÓÔÕÖ×ØÙÚÛÜÝÞßàáâãäåæçèéêëìíîïðñòóôõö÷øùúûüýþÿ¨¸'
            )
        else s
    end;

create or replace temp table thresholds as
select year, procedure_code, result_measure, fail_below
from read_csv(getvariable('seeds_dir') || '/procedure_thresholds.csv', header = true);

create or replace temp table counted_procedures as
select procedure_code
from read_csv(getvariable('seeds_dir') || '/methodology_profile_procedures.csv', header = true)
where profile_name = 'fioko_2025' and counts_for_list;

create or replace temp table codes as
select code, school_id
from read_csv(
    getvariable('input_dir') || '/*/school_codes.csv',
    delim = ';', header = true, columns = {'system': 'VARCHAR', 'code': 'VARCHAR', 'school_id': 'VARCHAR'}
);

create or replace temp table successors as
select old_school_id, new_school_id, effective_date
from read_csv(
    getvariable('successors_files'),
    delim = ';', header = true, dateformat = '%d.%m.%Y',
    columns = {'old_school_id': 'VARCHAR', 'new_school_id': 'VARCHAR', 'effective_date': 'DATE'}
);

-- ВПР: count marks per school, procedure and year first (a few hundred thousand groups), then
-- apply the year's threshold to the counts
create or replace temp table vpr_counts as
with

marks as (
    select year, school_id, grade, subject, mark, count(*) as n
    from read_csv(
        getvariable('input_dir') || '/*/vpr/vpr_results_*.csv',
        delim = ';', header = true, encoding = 'latin-1',
        columns = {
            'year': 'INTEGER', 'school_id': 'VARCHAR', 'grade': 'INTEGER', 'subject': 'VARCHAR',
            'participant_code': 'VARCHAR', 'primary_score': 'INTEGER', 'mark': 'INTEGER', 'status': 'VARCHAR'
        }
    )
    where status = label('явка') and mark is not null
    group by all
),

procedures as (
    select * from (values
        (label('Русский язык'), 'RU'), (label('Математика'), 'MA'), (label('Окружающий мир'), 'OM')
    ) as t (subject, subject_code)
),

final as (
    select
        marks.school_id,
        'VPR_' || procedures.subject_code || '_' || marks.grade as procedure_code,
        marks.year,
        sum(marks.n) as participants,
        coalesce(sum(marks.n) filter (where marks.mark < thresholds.fail_below), 0) as failing
    from marks
    inner join procedures on marks.subject = procedures.subject
    inner join thresholds
        on thresholds.procedure_code = 'VPR_' || procedures.subject_code || '_' || marks.grade
        and thresholds.year = marks.year
    group by all
)

select * from final;

-- ОГЭ/ЕГЭ: the counted attempt of each participant (main period, current-year graduates): the
-- valid result of the earliest day
create or replace temp table gia_counts as
with

rows as (
    select *
    from read_csv(
        getvariable('input_dir') || '/*/gia/gia_results_*.csv',
        delim = ';', header = true, encoding = 'latin-1',
        columns = {
            'year': 'INTEGER', 'school_code': 'VARCHAR', 'exam': 'VARCHAR', 'subject': 'VARCHAR',
            'participant_code': 'VARCHAR', 'category': 'VARCHAR', 'wave': 'VARCHAR',
            'primary_score': 'DOUBLE', 'test_score': 'DOUBLE', 'mark': 'INTEGER', 'status': 'VARCHAR'
        }
    )
    where category = label('выпускник текущего года')
        and wave in (label('досрочный'), label('основной'), label('резервный'))
),

procedures as (
    select * from (values
        (label('ОГЭ'), label('Русский язык'), 'OGE_RU'),
        (label('ОГЭ'), label('Математика'), 'OGE_MA'),
        (label('ЕГЭ'), label('Русский язык'), 'EGE_RU'),
        (label('ЕГЭ'), label('Математика (профильная)'), 'EGE_MA_PROF'),
        (label('ЕГЭ'), label('Математика (базовая)'), 'EGE_MA_BASE')
    ) as t (exam, subject, procedure_code)
),

attempts as (
    select
        rows.year,
        rows.school_code,
        procedures.procedure_code,
        rows.participant_code,
        case thresholds.result_measure
            when 'mark' then rows.mark
            when 'test_score' then rows.test_score
            when 'primary_score' then rows.primary_score
        end as value,
        thresholds.fail_below,
        case rows.wave when label('досрочный') then 1 when label('основной') then 2 else 3 end as wave_order
    from rows
    inner join procedures on rows.exam = procedures.exam and rows.subject = procedures.subject
    inner join thresholds
        on procedures.procedure_code = thresholds.procedure_code and rows.year = thresholds.year
    where rows.status = label('явка')
),

counted as (
    select
        year, school_code, procedure_code, participant_code,
        arg_min(value, wave_order) filter (where value is not null) as value,
        any_value(fail_below) as fail_below
    from attempts
    group by all
),

final as (
    select
        codes.school_id,
        counted.procedure_code,
        counted.year,
        count(counted.value) as participants,
        count(counted.value) filter (where counted.value < counted.fail_below) as failing
    from counted
    inner join codes on counted.school_code = codes.code
    group by all
)

select * from final;

create or replace table fct_procedure_results as
with

counts as (
    select * from vpr_counts
    union all
    select * from gia_counts
)

select
    school_id,
    procedure_code,
    year,
    cast(participants as bigint) as participants,
    cast(failing as bigint) as failing,
    failing / participants as fail_share,
    procedure_code in (select procedure_code from counted_procedures) as counts_for_list
from counts
where participants > 0;

create or replace table shnor_list as
with recursive

hops as (
    select
        old_school_id,
        new_school_id,
        (extract(year from effective_date) + case when extract(month from effective_date) >= 7 then 1 else 0 end)::integer
            as first_results_year
    from successors
),

chain as (
    select old_school_id, new_school_id as successor_id, first_results_year, 1 as depth
    from hops
    union all
    select chain.old_school_id, hops.new_school_id, greatest(chain.first_results_year, hops.first_results_year), chain.depth + 1
    from chain
    inner join hops on chain.successor_id = hops.old_school_id
    where chain.depth < 20
),

counted as (
    select * from fct_procedure_results
    where counts_for_list
),

-- the previous year, pooled under the school that continues each school in year t
prior as (
    select school_id, procedure_code, year, sum(participants) as participants, sum(failing) as failing
    from (
        select
            coalesce(chain.successor_id, counted.school_id) as school_id,
            counted.procedure_code,
            counted.year + 1 as year,
            counted.participants,
            counted.failing
        from counted
        left join chain
            on counted.school_id = chain.old_school_id and chain.first_results_year <= counted.year + 1
        qualify row_number() over (
            partition by counted.school_id, counted.procedure_code, counted.year order by chain.depth desc nulls last
        ) = 1
    )
    group by all
),

flags as (
    select
        counted.*,
        counted.participants >= 5 and counted.fail_share >= 0.30 as is_flagged,
        coalesce(prior.participants >= 5 and prior.failing / prior.participants >= 0.30, false) as is_prior_flagged
    from counted
    left join prior
        on counted.school_id = prior.school_id
        and counted.procedure_code = prior.procedure_code
        and counted.year = prior.year
),

results_years as (
    select distinct year from counted
),

per_school as (
    select
        school_id,
        year as results_year,
        count(*) filter (where is_flagged) as n_flagged_procedures,
        count(*) filter (where is_flagged and is_prior_flagged) as n_persistent_procedures,
        round(sum(failing) filter (where is_flagged) / sum(participants) filter (where is_flagged), 12)
            as cluster_measure_value
    from flags
    where year - 1 in (select year from results_years)
    group by all
),

final as (
    select
        school_id,
        results_year + 1 as list_year,
        results_year,
        n_flagged_procedures,
        n_persistent_procedures,
        cluster_measure_value,
        case
            when cluster_measure_value > 0.50 then 'severe'
            when cluster_measure_value >= 0.40 then 'moderate'
            else 'basic'
        end as fioko_cluster
    from per_school
    where n_flagged_procedures >= 2 and n_persistent_procedures >= 1
)

select * from final;
