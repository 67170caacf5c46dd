"""Checks on the raw inputs (schema ``raw``), as loaded by ``ingestion/``.

Ingestion already quarantines row-level contract breaches of each file (ranges, totals,
duplicate keys within a file). These checks audit what ingestion cannot see file by file:
codes across deliveries, the years and schools that *should* be there, and they re-assert the
row rules on everything loaded so far (defence in depth before an official publication).

Big student-level tables are checked as aggregates per file, year and subject that carry the
source file and the first row number, so the saved failing rows point at what to fix.
"""

from __future__ import annotations

import os

from gate.expectations.check import Check, Level, expect

# Код ОО (логин ФИС ОКО): letters (Latin), digits, '_', '-', '.'; no spaces or Cyrillic look-alikes.
# A region with another code format sets EDUQ_SCHOOL_CODE_PATTERN (a regular expression).
DEFAULT_SCHOOL_CODE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$"


def school_code_pattern() -> str:
    return os.environ.get("EDUQ_SCHOOL_CODE_PATTERN") or DEFAULT_SCHOOL_CODE_PATTERN


# the registry as it stands: the latest delivery wins per year and school (as in dbt staging)
REGISTRY = """
registry as (
    select *
    from raw.schools
    qualify _file_id = max(_file_id) over (partition by year, school_id)
)"""

# (year, school_id, kind) for every school with results; exam-system codes mapped to Код ОО
RESULTS = """
crosswalk as (
    select external_code, min(school_id) as school_id from raw.school_codes group by external_code
),
results as (
    select distinct year, school_id, 'vpr' as kind from raw.vpr_results
    union
    select distinct year, school_id, 'vpr' as kind from raw.vpr_school_stats
    union
    select distinct g.year, coalesce(c.school_id, g.school_id) as school_id, lower(g.exam) as kind
    from raw.gia_results as g
    left join crosswalk as c on c.external_code = g.school_id
),
reorganised as (
    -- a school and its successor (either way) share results in the year of a reorganisation
    select old_school_id as school_id, new_school_id as partner_id from raw.school_successors
    union
    select new_school_id, old_school_id from raw.school_successors
),
school_results as (
    select year, school_id, kind from results
    union
    select r.year, o.school_id, r.kind from results as r join reorganised as o on o.partner_id = r.school_id
)"""

RESULT_TABLES = (
    "raw.schools",
    "raw.school_codes",
    "raw.school_successors",
    "raw.vpr_results",
    "raw.vpr_school_stats",
    "raw.gia_results",
)


def _le(column_a: str, column_b: str) -> object:
    """column_b <= column_a wherever both are present."""
    return expect(
        "ExpectColumnPairValuesAToBeGreaterThanB",
        column_A=column_a,
        column_B=column_b,
        or_equal=True,
        ignore_row_if="either_value_is_missing",
    )


def raw_checks() -> list[Check]:
    pattern = school_code_pattern()
    return [
        Check(
            name="school_codes_well_formed_and_unique",
            suite="raw",
            asset=("raw", "schools"),
            level=Level.ERROR,
            description="Registry: every Код ОО is well-formed (no spaces, no Cyrillic look-alike letters) and "
            "appears once per year in each delivered file; municipality and name are filled. A malformed or "
            "repeated code splits a school in two or merges two schools. Fix the registry file and deliver it again.",
            query="""
                select _source_file as source_file, _row_number as row_number, _file_id as file_id,
                       year, school_id, school_name, municipality_code, municipality_name
                from raw.schools
                order by _file_id, _row_number
            """,
            expectations=(
                expect("ExpectColumnValuesToNotBeNull", column="school_id"),
                expect("ExpectColumnValuesToMatchRegex", column="school_id", regex=pattern),
                expect(
                    "ExpectCompoundColumnsToBeUnique", column_list=["file_id", "year", "school_id"]
                ),
                expect("ExpectColumnValuesToNotBeNull", column="municipality_code"),
                expect("ExpectColumnValuesToNotBeNull", column="school_name"),
            ),
        ),
        Check(
            name="crosswalk_codes_unique",
            suite="raw",
            asset=("raw", "school_codes"),
            level=Level.ERROR,
            description="Code crosswalk: an exam-system code maps to one Код ОО in each delivered file, and the "
            "target code is well-formed. A code mapped to two schools would send results to the wrong school.",
            query="""
                select _source_file as source_file, _row_number as row_number, _file_id as file_id,
                       system, external_code, school_id
                from raw.school_codes
                order by _file_id, _row_number
            """,
            expectations=(
                expect(
                    "ExpectCompoundColumnsToBeUnique",
                    column_list=["file_id", "system", "external_code"],
                ),
                expect("ExpectColumnValuesToMatchRegex", column="school_id", regex=pattern),
            ),
        ),
        Check(
            name="marks_2_to_5",
            suite="raw",
            asset=("raw", "vpr_results"),
            level=Level.ERROR,
            description="ВПР per student: marks are 2–5 and primary scores are not negative, per file, year, "
            "subject and grade. The fail share counts marks «2»; any other value makes it wrong.",
            query="""
                select _source_file as source_file, year, subject, grade, count(*) as rows,
                       min(_row_number) as first_row_number,
                       min(mark) as min_mark, max(mark) as max_mark, min(primary_score) as min_primary_score
                from raw.vpr_results
                group by all
                order by all
            """,
            expectations=(
                expect("ExpectColumnValuesToBeBetween", column="min_mark", min_value=2),
                expect("ExpectColumnValuesToBeBetween", column="max_mark", max_value=5),
                expect("ExpectColumnValuesToBeBetween", column="min_primary_score", min_value=0),
            ),
        ),
        Check(
            name="marks_and_scores_in_range",
            suite="raw",
            asset=("raw", "gia_results"),
            level=Level.ERROR,
            description="ОГЭ/ЕГЭ: marks are 2–5, test and primary scores 0–100, per file, year, exam and subject.",
            query="""
                select _source_file as source_file, year, exam, subject, count(*) as rows,
                       min(_row_number) as first_row_number,
                       min(mark) as min_mark, max(mark) as max_mark,
                       min(test_score) as min_test_score, max(test_score) as max_test_score,
                       min(primary_score) as min_primary_score
                from raw.gia_results
                group by all
                order by all
            """,
            expectations=(
                expect("ExpectColumnValuesToBeBetween", column="min_mark", min_value=2),
                expect("ExpectColumnValuesToBeBetween", column="max_mark", max_value=5),
                expect("ExpectColumnValuesToBeBetween", column="min_test_score", min_value=0),
                expect("ExpectColumnValuesToBeBetween", column="max_test_score", max_value=100),
                expect("ExpectColumnValuesToBeBetween", column="min_primary_score", min_value=0),
            ),
        ),
        Check(
            name="mark_counts_add_up",
            suite="raw",
            asset=("raw", "vpr_school_stats"),
            level=Level.ERROR,
            description="ВПР school statistics: counts of «2»…«5» are not negative and add up to the participants.",
            query="""
                select _source_file as source_file, _row_number as row_number, year, school_id, grade, subject,
                       participants, mark_2, mark_3, mark_4, mark_5,
                       mark_2 + mark_3 + mark_4 + mark_5 as marks_total
                from raw.vpr_school_stats
                order by _file_id, _row_number
            """,
            expectations=(
                *(
                    expect("ExpectColumnValuesToBeBetween", column=f"mark_{k}", min_value=0)
                    for k in (2, 3, 4, 5)
                ),
                expect(
                    "ExpectColumnPairValuesToBeEqual",
                    column_A="participants",
                    column_B="marks_total",
                ),
            ),
        ),
        Check(
            name="counts_within_totals",
            suite="raw",
            asset=("raw", "social_passport"),
            level=Level.ERROR,
            description="Social passport (ИСБШ inputs): every count of students is between 0 and «Всего "
            "обучающихся»; a share above 1 would distort the ИСБШ of every school of the year.",
            query="""
                select _source_file as source_file, _row_number as row_number, year, school_id, students_total,
                       both_parents_higher_ed, single_parent, low_income, prevention_register,
                       non_native_russian, disabilities, large_family, unemployed_parents
                from raw.social_passport
                order by _file_id, _row_number
            """,
            expectations=(
                expect("ExpectColumnValuesToBeBetween", column="students_total", min_value=0),
                *(
                    _le("students_total", c)
                    for c in (
                        "both_parents_higher_ed",
                        "single_parent",
                        "low_income",
                        "prevention_register",
                        "non_native_russian",
                        "disabilities",
                        "large_family",
                        "unemployed_parents",
                    )
                ),
            ),
        ),
        Check(
            name="counts_within_totals",
            suite="raw",
            asset=("raw", "academic_debt"),
            level=Level.ERROR,
            description="Academic debt: students with debt ≤ all students; attending extra classes, with an "
            "individual plan (ИОМ) and debt closed ≤ students with debt.",
            query="""
                select _source_file as source_file, _row_number as row_number, academic_year, period, school_id,
                       students_total, with_debt, attending_extra, with_iom, debt_closed
                from raw.academic_debt
                order by _file_id, _row_number
            """,
            expectations=(
                expect("ExpectColumnValuesToBeBetween", column="with_debt", min_value=0),
                _le("students_total", "with_debt"),
                *(_le("with_debt", c) for c in ("attending_extra", "with_iom", "debt_closed")),
            ),
        ),
        Check(
            name="counts_within_totals",
            suite="raw",
            asset=("raw", "resource_survey"),
            level=Level.ERROR,
            description="Resource survey: vacancies and computers are not negative; teachers of retirement age "
            "≤ all teachers.",
            query="""
                select _source_file as source_file, _row_number as row_number, year, school_id, teachers_total,
                       teacher_vacancies, teachers_retirement_age, computers
                from raw.resource_survey
                order by _file_id, _row_number
            """,
            expectations=(
                expect("ExpectColumnValuesToBeBetween", column="teacher_vacancies", min_value=0),
                expect("ExpectColumnValuesToBeBetween", column="computers", min_value=0),
                _le("teachers_total", "teachers_retirement_age"),
            ),
        ),
        Check(
            name="results_years_complete",
            suite="raw",
            asset=("raw", "vpr_results"),
            level=Level.ERROR,
            description="Every year between the first and the last results year has ВПР results, ГИА results "
            "and a school registry. A missing year breaks the «two years in a row» rule of the ШНОР list for "
            "the year after it. Deliver the missing year's files.",
            requires=RESULT_TABLES,
            query=f"""
                with {RESULTS.strip()},
                per_year as (
                    select year, bool_or(kind = 'vpr') as has_vpr, bool_or(kind in ('oge', 'ege')) as has_gia
                    from results group by year
                ),
                all_years as (
                    select unnest(range(min(year), max(year) + 1)) as year from per_year
                )
                select a.year,
                       coalesce(p.has_vpr, false) as has_vpr,
                       coalesce(p.has_gia, false) as has_gia,
                       a.year in (select distinct year from raw.schools) as has_registry
                from all_years as a
                left join per_year as p using (year)
                order by a.year
            """,
            expectations=(
                expect("ExpectTableRowCountToBeBetween", min_value=1),
                expect("ExpectColumnValuesToBeInSet", column="has_vpr", value_set=[True]),
                expect("ExpectColumnValuesToBeInSet", column="has_gia", value_set=[True]),
                expect("ExpectColumnValuesToBeInSet", column="has_registry", value_set=[True]),
            ),
        ),
        Check(
            name="registry_schools_have_results",
            suite="raw",
            asset=("raw", "schools"),
            level=Level.ERROR,
            description="Every school of a year's registry (with students) has results that year (ВПР, ОГЭ or "
            "ЕГЭ), wherever its municipality sent results at all. A school missing from the results cannot "
            "be assessed, so the list would be wrong for it. Deliver the missing results, or correct the "
            "registry (closed school, wrong code). A whole municipality without results is a separate warning.",
            requires=RESULT_TABLES,
            query=f"""
                with {REGISTRY.strip()},
                {RESULTS.strip()},
                results_years as (select distinct year from results),
                municipalities_with_results as (
                    select distinct s.year, s.municipality_code
                    from registry as s join school_results as r on r.school_id = s.school_id and r.year = s.year
                )
                select s.year, s.school_id, s.school_name, s.municipality_name, s.enrolment,
                       s._source_file as registry_file, s._row_number as registry_row_number,
                       exists (select 1 from school_results as r where r.school_id = s.school_id and r.year = s.year)
                           as has_results
                from registry as s
                join results_years using (year)
                join municipalities_with_results as m on m.year = s.year and m.municipality_code = s.municipality_code
                where coalesce(s.enrolment, 1) > 0
                order by s.year, s.school_id
            """,
            expectations=(
                expect("ExpectColumnValuesToBeInSet", column="has_results", value_set=[True]),
            ),
        ),
        Check(
            name="municipality_sent_results",
            suite="raw",
            asset=("raw", "schools"),
            level=Level.WARNING,
            description="Every municipality of the registry sent results in the latest results year. A "
            "municipality without any results is usually a late delivery: the list goes out without its "
            "schools, so tell the municipality and republish when its files arrive.",
            requires=RESULT_TABLES,
            query=f"""
                with {REGISTRY.strip()},
                {RESULTS.strip()}
                select s.year, s.municipality_code, min(s.municipality_name) as municipality_name,
                       count(*) as schools,
                       count(r.school_id) > 0 as has_results
                from registry as s
                left join (select distinct year, school_id from school_results) as r
                    on r.school_id = s.school_id and r.year = s.year
                where s.year = (select max(year) from results)
                group by s.year, s.municipality_code
                order by s.municipality_code
            """,
            expectations=(
                expect("ExpectColumnValuesToBeInSet", column="has_results", value_set=[True]),
            ),
        ),
        Check(
            name="graduating_grades_have_exam_results",
            suite="raw",
            asset=("raw", "gia_results"),
            level=Level.WARNING,
            description="A school with a 9th grade has ОГЭ results and one with an 11th grade has ЕГЭ results in "
            "every year with exam results. A gap can be real (no graduates that year) or a missing file.",
            requires=RESULT_TABLES,
            query=f"""
                with {REGISTRY.strip()},
                {RESULTS.strip()},
                exam_years as (select distinct year from results where kind in ('oge', 'ege'))
                select s.year, s.school_id, s.school_name, s.municipality_name, s.has_grade_9, s.has_grade_11,
                       not coalesce(s.has_grade_9, false) or exists (
                           select 1 from school_results as r
                           where r.school_id = s.school_id and r.year = s.year and r.kind = 'oge') as oge_present,
                       not coalesce(s.has_grade_11, false) or exists (
                           select 1 from school_results as r
                           where r.school_id = s.school_id and r.year = s.year and r.kind = 'ege') as ege_present
                from registry as s
                join exam_years using (year)
                where coalesce(s.enrolment, 1) > 0
                order by s.year, s.school_id
            """,
            expectations=(
                expect("ExpectColumnValuesToBeInSet", column="oge_present", value_set=[True]),
                expect("ExpectColumnValuesToBeInSet", column="ege_present", value_set=[True]),
            ),
        ),
    ]
