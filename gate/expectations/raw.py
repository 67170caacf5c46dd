"""Checks on the raw inputs (schema ``raw``), as loaded by ``ingestion/``.

Ingestion already quarantines row-level contract breaches of each file (ranges, totals,
duplicate keys within a file). These checks audit what ingestion cannot see file by file (codes
across deliveries) and re-assert the row rules on everything loaded so far (defence in depth
before an official publication). What *should* be there (the schools and years a list depends on)
is not a check on raw: the marts fct_delivery_completeness and dim_list_year say it, and the
publication of a list whose results are incomplete is refused (see gate/expectations/marts.py).

Big student-level tables are checked as aggregates per file, year and subject that carry the
source file and the first row number, so the saved failing rows point at what to fix.
"""

from __future__ import annotations

from core.settings import DEFAULT_SCHOOL_CODE_PATTERN
from gate.expectations.check import Check, Level, expect, rows_in_words


# Код ОО (логин ФИС ОКО): letters (Latin), digits, '_', '-', '.'; no spaces or Cyrillic look-alikes.
# A region with another code format sets EDUQ_SCHOOL_CODE_PATTERN (core.settings).
def _le(column_a: str, column_b: str) -> object:
    """column_b <= column_a wherever both are present."""
    return expect(
        "ExpectColumnPairValuesAToBeGreaterThanB",
        column_A=column_a,
        column_B=column_b,
        or_equal=True,
        ignore_row_if="either_value_is_missing",
    )


def raw_checks(school_code_pattern: str | None = None) -> list[Check]:
    pattern = school_code_pattern or DEFAULT_SCHOOL_CODE_PATTERN
    return [
        Check(
            name="school_codes_well_formed",
            suite="raw",
            asset=("staging", "stg_registry__schools"),
            level=Level.ERROR,
            description="Registry as it stands (the latest delivery per year and school, staging): every Код ОО "
            "is well-formed (no spaces, no Cyrillic look-alike letters); municipality and name are filled. A "
            "malformed code splits a school in two (its results, under the right code, find no school). Fix the "
            "registry file and deliver it again.",
            requires=("staging.stg_registry__schools",),
            query="""
                select source_file, source_row_number as row_number, file_id, registry_year as year,
                       school_id, school_name, municipality_code, municipality_name
                from staging.stg_registry__schools
                order by file_id, source_row_number
            """,
            expectations=(
                expect("ExpectColumnValuesToNotBeNull", column="school_id"),
                expect("ExpectColumnValuesToMatchRegex", column="school_id", regex=pattern),
                expect("ExpectColumnValuesToNotBeNull", column="municipality_code"),
                expect("ExpectColumnValuesToNotBeNull", column="school_name"),
            ),
            explain=lambda rows: (
                f"{len(rows)} registry row(s) with a malformed Код ОО or without a name or municipality: "
                + rows_in_words(rows, ("source_file", "row_number", "school_id", "school_name"))
                + ". Correct the registry file and deliver it again."
            ),
        ),
        Check(
            name="crosswalk_codes_well_formed",
            suite="raw",
            asset=("staging", "stg_registry__school_codes"),
            level=Level.ERROR,
            description="Code crosswalk as it stands (the latest delivery per system and external code, staging): "
            "every target Код ОО is well-formed. A malformed target sends the results of an exam-system code to "
            "no school. (One external code mapped to two schools is the dbt test on the same model.)",
            requires=("staging.stg_registry__school_codes",),
            query="""
                select source_file, source_row_number as row_number, file_id, code_system, external_code,
                       school_id
                from staging.stg_registry__school_codes
                order by file_id, source_row_number
            """,
            expectations=(
                expect("ExpectColumnValuesToMatchRegex", column="school_id", regex=pattern),
            ),
            explain=lambda rows: (
                f"{len(rows)} crosswalk row(s) map to a malformed Код ОО: "
                + rows_in_words(rows, ("source_file", "row_number", "external_code", "school_id"))
                + ". Correct the crosswalk file (the same system and external code) and deliver it again."
            ),
        ),
        Check(
            name="marks_2_to_5",
            suite="raw",
            asset=("raw", "vpr_results"),
            by_file="raw.vpr_results",
            level=Level.ERROR,
            description="ВПР per student: marks are 2–5 and primary scores are not negative, per file, year, "
            "subject and grade. The fail share counts marks «2»; any other value makes it wrong.",
            query="""
                select _source_file as source_file, year, subject, grade, count(*) as rows,
                       min(_row_number) as first_row_number,
                       min(mark) as min_mark, max(mark) as max_mark, min(primary_score) as min_primary_score,
                       _file_id as file_id
                from {rows}
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
            by_file="raw.gia_results",
            level=Level.ERROR,
            description="ОГЭ/ЕГЭ: marks are 2–5, test and primary scores 0–100, per file, year, exam and subject.",
            query="""
                select _source_file as source_file, year, exam, subject, count(*) as rows,
                       min(_row_number) as first_row_number,
                       min(mark) as min_mark, max(mark) as max_mark,
                       min(test_score) as min_test_score, max(test_score) as max_test_score,
                       min(primary_score) as min_primary_score, _file_id as file_id
                from {rows}
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
            by_file="raw.vpr_school_stats",
            level=Level.ERROR,
            description="ВПР school statistics: counts of «2»…«5» are not negative and add up to the participants.",
            query="""
                select _source_file as source_file, _row_number as row_number, year, school_id, grade, subject,
                       participants, mark_2, mark_3, mark_4, mark_5,
                       mark_2 + mark_3 + mark_4 + mark_5 as marks_total
                from {rows}
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
            by_file="raw.social_passport",
            level=Level.ERROR,
            description="Social passport (ИСБШ inputs): every count of students is between 0 and «Всего "
            "обучающихся»; a share above 1 would distort the ИСБШ of every school of the year.",
            query="""
                select _source_file as source_file, _row_number as row_number, year, school_id, students_total,
                       both_parents_higher_ed, single_parent, low_income, prevention_register,
                       non_native_russian, disabilities, large_family, unemployed_parents
                from {rows}
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
            by_file="raw.academic_debt",
            level=Level.ERROR,
            description="Academic debt: students with debt ≤ all students; attending extra classes, with an "
            "individual plan (ИОМ) and debt closed ≤ students with debt.",
            query="""
                select _source_file as source_file, _row_number as row_number, academic_year, period, school_id,
                       students_total, with_debt, attending_extra, with_iom, debt_closed
                from {rows}
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
            by_file="raw.resource_survey",
            level=Level.ERROR,
            description="Resource survey: vacancies and computers are not negative; teachers of retirement age "
            "≤ all teachers.",
            query="""
                select _source_file as source_file, _row_number as row_number, year, school_id, teachers_total,
                       teacher_vacancies, teachers_retirement_age, computers
                from {rows}
                order by _file_id, _row_number
            """,
            expectations=(
                expect("ExpectColumnValuesToBeBetween", column="teacher_vacancies", min_value=0),
                expect("ExpectColumnValuesToBeBetween", column="computers", min_value=0),
                _le("teachers_total", "teachers_retirement_age"),
            ),
        ),
    ]
