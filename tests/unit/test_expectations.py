"""The Great Expectations suites on a small warehouse built by hand: clean data passes every check;
each defect fails exactly the check written for it, with exactly the offending rows."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd
import pytest

from gate.expectations import Level, all_checks, mart_checks, raw_checks
from gate.expectations.gx_runner import read_catalog, run_checks
from ingestion.warehouse import ensure_raw_schema

SCHOOLS = [  # school_id, municipality_code, municipality_name, has_grade_9, has_grade_11
    ("sch000001", "01", "Город", True, True),
    ("sch000002", "01", "Город", True, False),
    ("sch000003", "02", "Район", True, False),
]
YEARS = (2023, 2024)


def _insert(
    con: duckdb.DuckDBPyConnection, table: str, rows: list[dict], file_id: int, file_name: str
) -> None:
    for n, row in enumerate(rows, start=1):
        data = {**row, "_file_id": file_id, "_source_file": file_name, "_row_number": n + 1}
        columns = ", ".join(f'"{c}"' for c in data)
        con.execute(
            f"insert into {table} ({columns}) values ({', '.join('?' for _ in data)})",
            list(data.values()),
        )


def build_warehouse(con: duckdb.DuckDBPyConnection) -> None:
    """Two results years, three schools in two municipalities, the lists of 2024 and 2025."""
    ensure_raw_schema(con)
    for i, year in enumerate(YEARS):
        _insert(
            con,
            "raw.schools",
            [
                {
                    "year": year,
                    "school_id": s,
                    "school_name": f"МБОУ СОШ {s[-1]}",
                    "municipality_code": mo,
                    "municipality_name": mo_name,
                    "locality": "urban",
                    "has_grade_9": g9,
                    "has_grade_11": g11,
                    "enrolment": 300,
                }
                for s, mo, mo_name, g9, g11 in SCHOOLS
            ],
            file_id=1 + i,
            file_name=f"schools_{year}.xlsx",
        )
        _insert(
            con,
            "raw.vpr_results",
            [
                {
                    "year": year,
                    "school_id": s,
                    "grade": 5,
                    "subject": "Математика",
                    "participant_code": f"p{k}",
                    "primary_score": 10,
                    "mark": 2 + k % 4,
                    "status": "present",
                }
                for s, *_ in SCHOOLS
                for k in range(4)
            ],
            file_id=10 + i,
            file_name=f"vpr_results_{year}.csv",
        )
        _insert(
            con,
            "raw.gia_results",
            [
                {
                    "year": year,
                    "school_id": "R-1" if s == "sch000001" else s,
                    "exam": "OGE",
                    "subject": "Математика",
                    "participant_code": f"g{k}",
                    "wave": "main",
                    "mark": 3 + k % 3,
                    "status": "present",
                }
                for s, *_ in SCHOOLS
                for k in range(3)
            ]
            + [
                {
                    "year": year,
                    "school_id": "R-1",
                    "exam": "EGE",
                    "subject": "Русский язык",
                    "participant_code": "e1",
                    "wave": "main",
                    "test_score": 61.0,
                    "status": "present",
                }
            ],
            file_id=20 + i,
            file_name=f"gia_results_{year}.csv",
        )
    _insert(
        con,
        "raw.school_codes",
        [{"system": "РИС ГИА", "external_code": "R-1", "school_id": "sch000001"}],
        file_id=30,
        file_name="school_codes.csv",
    )
    _insert(
        con,
        "raw.vpr_school_stats",
        [
            {
                "year": 2024,
                "school_id": "sch000003",
                "grade": 6,
                "subject": "Русский язык",
                "participants": 10,
                "mark_2": 3,
                "mark_3": 4,
                "mark_4": 2,
                "mark_5": 1,
            }
        ],
        file_id=31,
        file_name="vpr_school_stats_2024.xlsx",
    )
    _insert(
        con,
        "raw.social_passport",
        [
            {
                "year": 2024,
                "school_id": "sch000001",
                "students_total": 300,
                "low_income": 30,
                "single_parent": 40,
            }
        ],
        file_id=32,
        file_name="social_passport_2024.xlsx",
    )

    # the staging views the code checks read (dbt builds them in the pipeline: the latest delivery
    # per key; a single delivery each here)
    con.execute("create schema staging")
    con.execute("""create view staging.stg_registry__schools as
        select year as registry_year, school_id, school_name, municipality_code, municipality_name,
               _file_id as file_id, _source_file as source_file, _row_number as source_row_number
        from raw.schools""")
    con.execute("""create view staging.stg_registry__school_codes as
        select lower(system) as code_system, external_code, school_id, _file_id as file_id,
               _source_file as source_file, _row_number as source_row_number
        from raw.school_codes""")
    con.execute("create schema marts")
    con.execute("create schema reference")
    con.execute("""create table reference.fioko_clusters as select * from (values
        ('basic', 1, 'базово неуспевающие'), ('moderate', 2, 'умеренно неуспевающие'),
        ('severe', 3, 'сильно неуспевающие')) as t(fioko_cluster, cluster_rank, cluster_name_ru)""")
    con.execute("""create table reference.methodology_profiles as select * from (values
        ('fioko_2025', '1.0', 'cluster_moderate_from', '0.40'),
        ('fioko_2025', '1.0', 'cluster_severe_above', '0.50')) as t(profile_name, profile_version, parameter, value)""")
    con.execute("""create table marts.dim_school as
        select school_id, year, school_name, municipality_name from raw.schools""")
    con.execute("""create table marts.fct_procedure_results as select * from (values
        ('sch000001', 'VPR_MA_5', 2024, 10::bigint, 4::bigint, 0.4, 0.5),
        ('sch000002', 'VPR_MA_5', 2024, 10::bigint, 0::bigint, 0.0, null)
        ) as t(school_id, procedure_code, year, participants, failing, fail_share, prior_fail_share)""")
    con.execute("""create table marts.fct_shnor_list as select * from (values
        ('sch000001', 2024, 2023, true, 0.45, 'moderate', 'умеренно неуспевающие'),
        ('sch000002', 2024, 2023, true, 0.35, 'basic', 'базово неуспевающие'),
        ('sch000003', 2024, 2023, false, null, null, null),
        ('sch000001', 2025, 2024, true, 0.40, 'moderate', 'умеренно неуспевающие'),
        ('sch000002', 2025, 2024, false, 0.10, null, null),
        ('sch000003', 2025, 2024, true, 0.51, 'severe', 'сильно неуспевающие')
        ) as t(school_id, list_year, results_year, is_shnor, cluster_measure_value, fioko_cluster, fioko_cluster_ru)""")
    con.execute(
        "alter table marts.fct_shnor_list add column profile_name varchar default 'fioko_2025'"
    )
    con.execute("alter table marts.fct_shnor_list add column profile_version varchar default '1.0'")
    con.execute("""create table reference.procedures as select * from (values
        ('VPR_MA_5', 'VPR', 'ВПР Математика, 5 класс'), ('OGE_MA', 'OGE', 'ОГЭ Математика'),
        ('EGE_RU', 'EGE', 'ЕГЭ Русский язык')) as t(procedure_code, exam, procedure_name_ru)""")
    con.execute("""create table reference.methodology_profile_procedures as select * from (values
        ('fioko_2025', 'VPR_MA_5', true), ('fioko_2025', 'OGE_MA', true), ('fioko_2025', 'EGE_RU', true),
        ('vpr_only', 'VPR_MA_5', true), ('vpr_only', 'OGE_MA', false), ('vpr_only', 'EGE_RU', false)
        ) as t(profile_name, procedure_code, counts_for_list)""")
    con.execute("""create table marts.dim_list_year as select * from (values
        (2024, 'fioko_2025'), (2025, 'fioko_2025')) as t(list_year, profile_name)""")
    con.execute("""create table marts.fct_delivery_completeness as
        select year, municipality_code, any_value(municipality_name) as municipality_name, source,
               source_ru, count(*) as n_expected_schools, count(*) as n_delivered_schools,
               0::bigint as n_missing_schools, null::varchar as missing_school_ids, true as is_complete
        from raw.schools
        cross join (values ('results', 'Результаты (ВПР, ОГЭ, ЕГЭ)'), ('vpr', 'ВПР'), ('oge', 'ОГЭ'),
                           ('ege', 'ЕГЭ')) as t(source, source_ru)
        group by all""")
    con.execute("create schema intermediate")
    con.execute("""create table intermediate.int_procedure_coverage as select * from (values
        ('OGE_MA', 2024, 3::bigint, 3::bigint, 3::bigint, false),
        ('VPR_MA_5', 2024, 3::bigint, 3::bigint, 3::bigint, false)
        ) as t(procedure_code, year, n_schools_previous_year, n_schools_continuing, n_schools, is_vanished)""")


@pytest.fixture()
def con() -> duckdb.DuckDBPyConnection:
    connection = duckdb.connect()
    build_warehouse(connection)
    yield connection
    connection.close()


def _results(con: duckdb.DuckDBPyConnection, *tables: str) -> dict[str, object]:
    """Run the checks of ``tables`` ("schema.table"; all checks when none is given)."""
    catalog = read_catalog(con)
    checks = [c for c in all_checks(catalog) if not tables or ".".join(c.asset) in tables]
    return {r.check.key: r for r in run_checks(con, checks, catalog)}


def _not_passed(results: dict) -> dict[str, str]:
    return {key: r.status for key, r in results.items() if r.status != "passed"}


def test_clean_warehouse_passes_every_check(con) -> None:
    results = _results(con)
    assert _not_passed(results) == {}
    # the suites cover raw inputs and marts, at both levels
    assert {r.check.suite for r in results.values()} == {"raw", "marts"}
    assert {r.check.level for r in results.values()} == {Level.ERROR, Level.WARNING}
    assert "marts__fct_isbsh__quartiles_equal_within_ties" not in results  # mart not there yet


def test_check_keys_are_unique_and_suites_import_without_great_expectations() -> None:
    import sys

    keys = [
        c.key
        for c in raw_checks() + mart_checks({"marts.fct_shnor_list": ("school_id", "list_year")})
    ]
    assert len(keys) == len(set(keys))
    assert all(c.description and c.expectations for c in raw_checks())
    # run in a fresh interpreter: the suites are plain data
    import subprocess

    code = "import gate.expectations, sys; gate.expectations.raw_checks(); print('great_expectations' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "False"


def test_malformed_school_code_fails_the_registry_check_with_its_row(con) -> None:
    _insert(
        con,
        "raw.schools",
        [
            {
                "year": 2024,
                "school_id": "s\u0441h000004",
                "school_name": "Школа с кириллицей",
                "municipality_code": "02",
                "municipality_name": "Район",
                "enrolment": 0,
            }
        ],
        file_id=40,
        file_name="schools_2024_dop.xlsx",
    )
    results = _results(con, "staging.stg_registry__schools")
    key = "staging__stg_registry__schools__school_codes_well_formed"
    assert _not_passed(results) == {key: "failed"}
    failing = results[key].failing_rows
    assert failing[["source_file", "row_number", "school_id"]].values.tolist() == [
        ["schools_2024_dop.xlsx", 2, "s\u0441h000004"]
    ]  # Cyrillic «с»
    assert results[key].message == (
        "1 registry row(s) with a malformed Код ОО or without a name or municipality: source_file "
        "schools_2024_dop.xlsx, row_number 2, school_id s\u0441h000004, school_name Школа с кириллицей. "
        "Correct the registry file and deliver it again."
    )


def test_mark_out_of_range_fails_with_the_file_and_first_row(con) -> None:
    _insert(
        con,
        "raw.vpr_results",
        [
            {
                "year": 2024,
                "school_id": "sch000002",
                "grade": 5,
                "subject": "Математика",
                "participant_code": "x",
                "mark": 7,
            }
        ],
        file_id=41,
        file_name="late.csv",
    )
    results = _results(con, "raw.vpr_results", "raw.gia_results")
    assert _not_passed(results) == {"raw__vpr_results__marks_2_to_5": "failed"}
    failing = results["raw__vpr_results__marks_2_to_5"].failing_rows
    assert failing[["source_file", "year", "max_mark", "first_row_number"]].values.tolist() == [
        ["late.csv", 2024, 7, 2]
    ]
    # in words, with the example and what to do; never the expectation's class name
    assert results["raw__vpr_results__marks_2_to_5"].message == (
        "1 of 3 row(s) wrong: max_mark above 5. For example: source_file late.csv, year 2024, "
        "subject Математика, grade 5, rows 1, first_row_number 2. "
        "Correct the file(s) named and deliver them again."
    )


def test_an_incomplete_delivery_is_a_warning_that_says_what_is_missing(con) -> None:
    con.execute(
        """update marts.fct_delivery_completeness set n_delivered_schools = n_expected_schools - 1,
           n_missing_schools = 1, missing_school_ids = 'sch000003', is_complete = false
           where year = 2024 and municipality_code = '02' and source = 'results'"""
    )
    results = _results(con, "marts.fct_delivery_completeness")
    assert _not_passed(results) == {
        "marts__fct_delivery_completeness__deliveries_complete": "failed"
    }
    result = results["marts__fct_delivery_completeness__deliveries_complete"]
    assert result.check.level is Level.WARNING  # incompleteness is not wrong data: no block
    assert result.message == (
        "1 delivery(ies) incomplete: 2024, Район: Результаты (ВПР, ОГЭ, ЕГЭ) — 1 из 1 школ без данных "
        "(sch000003). Deliver the missing files (or correct the registry); whether a list waits for "
        "them is in marts.dim_list_year."
    )


def test_a_vanished_procedure_is_reported_naming_the_procedure_year_and_count(con) -> None:
    con.execute(
        """update intermediate.int_procedure_coverage set n_schools_previous_year = 40,
           n_schools_continuing = 2, n_schools = 2, is_vanished = true where procedure_code = 'OGE_MA'"""
    )
    results = _results(con, "intermediate.int_procedure_coverage")
    result = results["intermediate__int_procedure_coverage__no_vanished_procedure"]
    assert result.status == "failed"
    assert result.message == (
        "ОГЭ Математика 2024: 2 of 40 schools that had results in 2023 have them in 2024 — a lost "
        "subject file? Deliver it (or add the procedure to procedures_not_held)"
    )


def test_missing_exam_results_are_checked_only_for_the_exams_the_profile_counts(con) -> None:
    con.execute(
        """update marts.fct_delivery_completeness set n_missing_schools = 1,
           missing_school_ids = 'sch000002' where year = 2024 and municipality_code = '01' and source = 'oge'"""
    )
    key = "marts__fct_delivery_completeness__graduating_grades_have_exam_results"
    assert _results(con, "marts.fct_delivery_completeness")[key].status == "failed"
    # a profile that counts ВПР only is not concerned by missing ОГЭ
    con.execute("update marts.dim_list_year set profile_name = 'vpr_only'")
    assert _results(con, "marts.fct_delivery_completeness")[key].status == "passed"


def test_the_cluster_check_bins_by_the_profiles_own_inclusive_bounds(con) -> None:
    con.execute(
        """update marts.fct_shnor_list set cluster_measure_value = 0.5, fioko_cluster = 'severe',
           fioko_cluster_ru = 'сильно неуспевающие' where school_id = 'sch000003' and list_year = 2025"""
    )
    key = "marts__fct_shnor_list__cluster_matches_measure"
    # the default bounds: «более 50%» is severe, exactly 0.50 is moderate -> severe is wrong
    result = _results(con, "marts.fct_shnor_list")[key]
    assert result.status == "failed"
    assert "school_id sch000003, cluster_measure_value 0.5, fioko_cluster severe" in result.message
    # a profile whose severe bound is inclusive makes exactly 0.50 severe: the check agrees
    con.execute(
        """insert into reference.methodology_profiles values
           ('fioko_2025', '1.0', 'cluster_severe_inclusive', 'true')"""
    )
    assert _results(con, "marts.fct_shnor_list")[key].status == "passed"


def test_counts_above_totals_fail(con) -> None:
    _insert(
        con,
        "raw.social_passport",
        [{"year": 2024, "school_id": "sch000002", "students_total": 50, "low_income": 51}],
        file_id=44,
        file_name="social_passport_fix.xlsx",
    )
    _insert(
        con,
        "raw.vpr_school_stats",
        [
            {
                "year": 2024,
                "school_id": "sch000002",
                "grade": 6,
                "subject": "Математика",
                "participants": 9,
                "mark_2": 3,
                "mark_3": 4,
                "mark_4": 2,
                "mark_5": 1,
            }
        ],
        file_id=45,
        file_name="vpr_school_stats_fix.xlsx",
    )
    results = _results(con, "raw.social_passport", "raw.vpr_school_stats", "raw.academic_debt")
    assert _not_passed(results) == {
        "raw__social_passport__counts_within_totals": "failed",
        "raw__vpr_school_stats__mark_counts_add_up": "failed",
    }
    assert results["raw__social_passport__counts_within_totals"].failing_rows[
        "school_id"
    ].tolist() == ["sch000002"]
    assert results["raw__vpr_school_stats__mark_counts_add_up"].failing_rows[
        "participants"
    ].tolist() == [9]
    assert results["raw__social_passport__counts_within_totals"].message.startswith(
        "1 of 2 row(s) wrong: low_income above students_total. For example: source_file "
        "social_passport_fix.xlsx, row_number 2"
    )
    assert results["raw__vpr_school_stats__mark_counts_add_up"].message.startswith(
        "1 of 2 row(s) wrong: participants differs from marks_total. For example:"
    )


def test_every_check_without_its_own_explanation_says_in_words_what_is_wrong(con) -> None:
    """No failure message names a Great Expectations class: each expectation has its words."""
    from gate.expectations.gx_runner import failure_message

    frame = pd.DataFrame({"source_file": ["a.csv"], "row_number": [2]})
    checks = all_checks(read_catalog(con))
    assert len(checks) > 15
    for check in checks:
        words = [e.in_words() for e in check.expectations]
        assert all("Expect" not in w for w in words), (check.key, words)
        message = failure_message(check, frame, frame, [], list(check.expectations))
        if check.explain is None:
            assert "Expect" not in message and message.endswith("deliver them again."), message


def test_listed_school_without_cluster_or_with_the_wrong_cluster_fails(con) -> None:
    con.execute(
        "update marts.fct_shnor_list set fioko_cluster = null, fioko_cluster_ru = null "
        "where school_id = 'sch000002' and list_year = 2024"
    )
    con.execute(
        "update marts.fct_shnor_list set fioko_cluster = 'moderate' "
        "where school_id = 'sch000003' and list_year = 2025"
    )
    results = _results(con, "marts.fct_shnor_list")
    assert _not_passed(results) == {
        "marts__fct_shnor_list__listed_school_has_cluster": "failed",
        "marts__fct_shnor_list__cluster_matches_measure": "failed",
        "marts__fct_shnor_list__list_size_by_cluster_adds_up": "failed",
    }
    assert results["marts__fct_shnor_list__cluster_matches_measure"].failing_rows[
        ["school_id", "list_year", "fioko_cluster", "expected_cluster"]
    ].values.tolist() == [
        ["sch000002", 2024, None, "basic"],
        ["sch000003", 2025, "moderate", "severe"],
    ]
    assert results["marts__fct_shnor_list__list_size_by_cluster_adds_up"].failing_rows[
        ["list_year", "listed", "listed_by_cluster"]
    ].values.tolist() == [[2024, 2, 1]]


def test_duplicate_key_and_share_out_of_range_fail(con) -> None:
    con.execute(
        "insert into marts.fct_procedure_results values ('sch000001', 'VPR_MA_5', 2024, 10, 12, 1.2, null)"
    )
    results = _results(con, "marts.fct_procedure_results")
    assert _not_passed(results) == {
        "marts__fct_procedure_results__one_row_per_key": "failed",
        "marts__fct_procedure_results__shares_between_0_and_1": "failed",
        "marts__fct_procedure_results__failing_within_participants": "failed",
    }
    assert results["marts__fct_procedure_results__shares_between_0_and_1"].failing_rows[
        "fail_share"
    ].tolist() == [1.2]


def test_list_growing_by_more_than_a_third_is_a_warning(con) -> None:
    con.execute(
        "update marts.fct_shnor_list set is_shnor = true, fioko_cluster = 'basic', "
        "fioko_cluster_ru = 'базово неуспевающие', cluster_measure_value = 0.3 "
        "where school_id = 'sch000002' and list_year = 2025"
    )
    results = _results(con, "marts.fct_shnor_list")  # 2 -> 3 schools: +50 %
    assert _not_passed(results) == {
        "marts__fct_shnor_list__list_size_change_within_a_third": "failed"
    }
    result = results["marts__fct_shnor_list__list_size_change_within_a_third"]
    assert result.check.level is Level.WARNING and not result.blocks_publication
    assert result.failing_rows[["list_year", "listed", "previous_listed"]].values.tolist() == [
        [2025, 3, 2]
    ]


def _isbsh(con: duckdb.DuckDBPyConnection, rows: list[tuple[str, float, int]]) -> None:
    con.execute(
        "create or replace table marts.fct_isbsh (school_id varchar, year integer, isbsh_value double, "
        "isbsh_quartile integer, is_risk_zone boolean)"
    )
    for school, value, quartile in rows:
        con.execute(
            "insert into marts.fct_isbsh values (?, 2024, ?, ?, ?)",
            [school, value, quartile, quartile == 1],
        )


def test_isbsh_quartiles_activate_when_the_mart_lands(con) -> None:
    # 10 schools, no ties: cuts at 2.5 / 5 / 7.5 -> sizes 3, 2, 3, 2 are within one school of the ideal
    _isbsh(con, [(f"s{i:02d}", 40.0 + i, q) for i, q in enumerate([1, 1, 1, 2, 2, 3, 3, 3, 4, 4])])
    results = _results(con, "marts.fct_isbsh")
    assert results["marts__fct_isbsh__quartiles_equal_within_ties"].status == "passed"
    assert results["marts__fct_isbsh__one_row_per_key"].status == "passed"


def test_isbsh_ties_may_shift_a_cut_but_never_split(con) -> None:
    # 1, 2, 2, 2, 2, 3..7: the four schools tied at 2.0 stay together in quartile 2, so quartile 1
    # holds one school (ideal cut 2.5: off by 1.5, within the room the tie of four gives)
    tied = [
        ("a", 1.0, 1),
        ("b", 2.0, 2),
        ("c", 2.0, 2),
        ("d", 2.0, 2),
        ("e", 2.0, 2),
        ("f", 3.0, 3),
        ("g", 4.0, 3),
        ("h", 5.0, 4),
        ("i", 6.0, 4),
        ("j", 7.0, 4),
    ]
    _isbsh(con, tied)
    assert (
        _results(con, "marts.fct_isbsh")["marts__fct_isbsh__quartiles_equal_within_ties"].status
        == "passed"
    )
    split = [
        (s, v, 1 if s == "b" else q) for s, v, q in tied
    ]  # one of the tied schools moved to quartile 1
    _isbsh(con, split)
    result = _results(con, "marts.fct_isbsh")["marts__fct_isbsh__quartiles_equal_within_ties"]
    assert result.status == "failed"
    assert result.failing_rows["quartile"].tolist() == [1]


def test_isbsh_unequal_quartiles_fail(con) -> None:
    _isbsh(con, [(f"s{i:02d}", 40.0 + i, q) for i, q in enumerate([1, 1, 1, 1, 1, 2, 3, 3, 4, 4])])
    result = _results(con, "marts.fct_isbsh")["marts__fct_isbsh__quartiles_equal_within_ties"]
    assert result.status == "failed"
    assert result.failing_rows[["quartile", "schools_up_to_quartile"]].values.tolist() == [[1, 5]]


def test_a_mart_check_is_skipped_when_its_table_is_missing(con) -> None:
    catalog = read_catalog(con)
    checks = mart_checks(catalog)
    con.execute("drop table marts.fct_procedure_results")
    results = {r.check.key: r for r in run_checks(con, checks)}
    skipped = results["marts__fct_procedure_results__one_row_per_key"]
    assert skipped.status == "skipped" and skipped.passed
    assert "marts.fct_procedure_results not in the warehouse" in skipped.message


def test_isbsh_quartiles_are_checked_within_their_scope(con) -> None:
    # two municipalities, each cut into its own quartiles: fine per municipality, wrong for the region
    con.execute(
        "create or replace table marts.fct_isbsh (school_id varchar, year integer, municipality_code varchar, "
        "isbsh double, isbsh_quartile integer, quartile_scope varchar)"
    )
    rows = [(f"a{q}", 2024, "01", 40.0 + q, q) for q in (1, 2, 3, 4)] + [
        (f"b{q}", 2024, "02", 50.0 + q, q) for q in (1, 2, 3, 4)
    ]
    for school, year, municipality, value, quartile in rows:
        con.execute(
            "insert into marts.fct_isbsh values (?, ?, ?, ?, ?, 'municipality')",
            [school, year, municipality, value, quartile],
        )
    assert (
        _results(con, "marts.fct_isbsh")["marts__fct_isbsh__quartiles_equal_within_ties"].status
        == "passed"
    )
    con.execute("update marts.fct_isbsh set quartile_scope = 'region'")
    assert (
        _results(con, "marts.fct_isbsh")["marts__fct_isbsh__quartiles_equal_within_ties"].status
        == "failed"
    )


_WORKER_SCRIPT = """
import pickle, sys
from gate.expectations.gx_runner import GxWorker

if __name__ == "__main__":
    check, frame = pickle.loads(open(sys.argv[1], "rb").read())
    worker = GxWorker()
    assert worker.ready(), "the worker did not start"
    evaluation = worker.evaluate(check, frame)
    worker.close()
    worker.process.join(timeout=60)
    assert worker.process.exitcode == 0, worker.process.exitcode
    open(sys.argv[2], "wb").write(pickle.dumps(evaluation))
"""


def _run_script(tmp_path: Path, script: str, request: object, answer: str):
    """Run ``script`` in a fresh interpreter with the pickled ``request`` as its first argument and
    ``tmp_path / answer`` (where it writes its answer) as its second; it must succeed."""
    import pickle
    import subprocess
    import sys

    (tmp_path / "request.pickle").write_bytes(pickle.dumps(request))
    (tmp_path / "script.py").write_text(script, encoding="utf-8")
    done = subprocess.run(
        [sys.executable, str(tmp_path / "script.py"), str(tmp_path / "request.pickle"),
         str(tmp_path / answer)],
        capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def test_the_worker_evaluates_then_ends_when_asked(con, tmp_path: Path) -> None:
    """The Great Expectations worker process judges a frame (here one row of marks above 5: exactly
    that row and that expectation fail), and ends at once when the run closes it (it used to spend
    ~2.5 s in the interpreter's shutdown with Great Expectations loaded, at the end of every
    `eduq run`), leaving nothing behind: no «leaked semaphore» warning at the end of the process
    that started it (tqdm's lock was one)."""
    import pickle

    catalog = read_catalog(con)
    check = next(c for c in all_checks(catalog) if c.key == "raw__vpr_results__marks_2_to_5")
    frame = con.sql(check.resolve_query(catalog)).df().reset_index(drop=True)
    assert len(frame) > 1
    frame.loc[1, "max_mark"] = 7
    done = _run_script(tmp_path, _WORKER_SCRIPT, (check, frame), "evaluation.pickle")
    assert "leaked" not in done.stderr, done.stderr
    evaluation = pickle.loads((tmp_path / "evaluation.pickle").read_bytes())
    assert [o.success for o in evaluation.outcomes] == [True, False, True]
    assert evaluation.outcomes[1].unexpected_count == 1
    assert evaluation.failing_index == (1,) and not evaluation.whole_frame_fails


_DEFERRED_SCRIPT = """
import pickle, sys, threading
from gate.expectations import gx_runner

def lazy():
    return {name: type(sys.modules.get(name)).__name__ for name in ("scipy.stats", "altair")}

validator = gx_runner.start_validator()  # as the worker starts (_worker_main)
before = lazy()
requests = pickle.loads(open(sys.argv[1], "rb").read())
evaluations = [validator.evaluate(*request) for request in requests]
after = lazy()
threads = [t.name for t in threading.enumerate()]
import scipy.stats, altair  # the first use loads them whole
used = (float(scipy.stats.norm.cdf(0.0)), altair.Chart.__name__, lazy())
open(sys.argv[2], "wb").write(pickle.dumps((before, after, threads, used, evaluations)))
"""


def _spoilt(frame: pd.DataFrame) -> list[pd.DataFrame]:
    """Copies of ``frame`` that fail expectations of every kind: a repeated row (unique), an empty
    cell (not null), a text outside every pattern and set, a flipped flag, numbers below and above
    every range (each column another number: the pairs differ, one way and the other), no rows
    (row count)."""
    variants = [frame.iloc[0:0]]
    for text, sign in ((None, -1), ("§ not a value §", 1)):
        spoilt = frame.copy()
        spoilt.loc[len(spoilt)] = spoilt.iloc[0]  # repeated
        spoilt.loc[len(spoilt)] = spoilt.iloc[0]  # then spoilt
        last = len(spoilt) - 1
        for i, column in enumerate(spoilt.columns):
            kind = spoilt[column].dtype
            if pd.api.types.is_bool_dtype(kind):
                spoilt.loc[last, column] = not spoilt.loc[last, column]
            elif pd.api.types.is_numeric_dtype(kind):
                spoilt[column] = spoilt[column].astype("float64")
                spoilt.loc[last, column] = sign * (1_000_000 + i)
            elif kind == object:
                spoilt.loc[last, column] = text
        variants.append(spoilt)
    return variants


def test_the_worker_defers_the_imports_no_expectation_uses_and_judges_as_before(
    con, tmp_path: Path
) -> None:
    """The worker imports scipy.stats and altair only when first used (Great Expectations imports
    them; eduq's expectations do not use them): a fresh interpreter started as the worker starts
    judges one check of every kind of expectation eduq runs, on its frame and on copies where each
    kind fails, exactly as this process does without the deferral; they are still not loaded
    after judging, they load whole on first use, and the process runs one thread."""
    import pickle

    from gate.expectations import gx_runner

    catalog = read_catalog(con)
    checks = all_checks(catalog)
    requests, kinds = [], set()
    for check in checks:
        new = {e.kind for e in check.expectations} - kinds
        if not new:
            continue
        frame = con.sql(check.resolve_query(catalog)).df().reset_index(drop=True)
        if frame.empty:
            continue
        kinds |= new
        for f in (frame, *_spoilt(frame)):
            requests.append(gx_runner._request(check) + (f,))
    used = {e.kind for c in checks for e in c.expectations}
    assert kinds == used, f"no frame for {sorted(used - kinds)}"
    _run_script(tmp_path, _DEFERRED_SCRIPT, requests, "evaluations.pickle")
    answer = pickle.loads((tmp_path / "evaluations.pickle").read_bytes())
    before, after, threads, first_use, deferred = answer
    assert before == after == {"scipy.stats": "_LazyModule", "altair": "_LazyModule"}
    assert threads == ["MainThread"]
    assert first_use == (0.5, "Chart", {"scipy.stats": "module", "altair": "module"})
    validator = gx_runner._Validator()
    eager = [validator.evaluate(*request) for request in requests]
    assert deferred == eager
    failed = {
        kind
        for (_, _, expectations, _), evaluation in zip(requests, eager, strict=True)
        for (kind, _), outcome in zip(expectations, evaluation.outcomes, strict=True)
        if not outcome.success
    }
    assert failed == kinds


def test_judging_only_the_suspect_rows_gives_the_verdicts_of_the_whole_result(
    con, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DuckDB keeps the rows that could fail (gx_runner.suspect_query) and Great Expectations judges
    only those: every check must end with the same status, message and failing rows as when the
    whole result is judged, on a warehouse with defects of every kind the filter handles (a
    duplicated key, a NULL key, a share above 1, failing above participants, counts
    above totals, a mark out of range, a cluster outside its set)."""
    from gate.expectations import gx_runner

    con.execute(
        "insert into marts.fct_procedure_results values "
        "('sch000001', 'VPR_MA_5', 2024, 10, 12, 1.2, null), "
        "(null, 'VPR_MA_5', 2024, 10, 1, 0.1, null)"
    )
    con.execute(
        "update marts.fct_shnor_list set fioko_cluster = 'extreme' "
        "where school_id = 'sch000003' and list_year = 2025"
    )
    _insert(
        con,
        "raw.social_passport",
        [
            {"year": 2024, "school_id": "sch000002", "students_total": 50, "low_income": 51},
            # a pair with a missing value: Great Expectations ignores the row (ignore_row_if)
            {"year": 2024, "school_id": "sch000004", "students_total": None, "low_income": 9},
        ],
        file_id=44,
        file_name="social_passport_fix.xlsx",
    )
    con.execute(
        "update raw.vpr_results set mark = 7 where _row_number = (select min(_row_number) "
        "from raw.vpr_results)"
    )
    # booleans in a set: a false value fails, a missing one is left out
    con.execute(
        """update marts.fct_delivery_completeness set n_delivered_schools = n_expected_schools - 1,
           n_missing_schools = 1, missing_school_ids = 'sch000003', is_complete = false
           where year = 2024 and municipality_code = '02' and source = 'results'"""
    )
    con.execute(
        "update marts.fct_delivery_completeness set is_complete = null "
        "where year = 2024 and municipality_code = '01' and source = 'results'"
    )
    con.execute(
        """update intermediate.int_procedure_coverage set n_schools_previous_year = 40,
           n_schools_continuing = 2, n_schools = 2, is_vanished = true where procedure_code = 'OGE_MA'"""
    )
    catalog = read_catalog(con)
    checks = all_checks(catalog)
    filtered = [
        c for c in checks if gx_runner.suspect_query(c, "select 1", _all_columns(c)) is not None
    ]
    assert len(filtered) >= 10  # most checks are judged on their suspect rows
    # pairs that ignore rows with a missing value (counts within totals) too, and booleans in a set
    assert {
        "raw__social_passport__counts_within_totals",
        "marts__fct_delivery_completeness__deliveries_complete",
        "intermediate__int_procedure_coverage__no_vanished_procedure",
    } <= {c.key for c in filtered}

    suspects_only, whole = _judged_on_suspects_and_whole(con, checks, catalog, monkeypatch)
    assert suspects_only == whole
    failed = {k for k, v in whole.items() if v[0] == "failed"}
    assert {
        "marts__fct_procedure_results__one_row_per_key",
        "marts__fct_procedure_results__shares_between_0_and_1",
        "marts__fct_procedure_results__failing_within_participants",
        "raw__social_passport__counts_within_totals",
        "marts__fct_delivery_completeness__deliveries_complete",
        "intermediate__int_procedure_coverage__no_vanished_procedure",
    } <= failed
    # a check with no suspect row passed without its frame being judged, as the whole result did
    assert {k for k, v in whole.items() if v[0] == "passed"} == {
        k for k, v in suspects_only.items() if v[0] == "passed"
    }


@pytest.mark.parametrize(
    "pattern",
    [
        None,  # the default Код ОО pattern
        r"^\S+$",  # RE2's \S takes a Unicode space for a character; Python's does not
        r"sch\d+",  # search, not a whole match: a code that only contains it matches
        r"^sch\d{6}$",  # $ matches before a final newline in Python, not in RE2
        r"^(?!sch000002)[a-z]\w+$",  # a look-ahead RE2 does not have
    ],
)
def test_regex_checks_judged_on_their_suspect_rows_give_the_verdicts_of_the_whole_result(
    con, monkeypatch: pytest.MonkeyPatch, pattern: str | None
) -> None:
    """The values that fail a regex are found in Python, as Great Expectations finds them on pandas
    (re.search): judging only the rows that hold them gives the same status, message and failing
    rows as judging every registry and crosswalk row, whatever the codes (a Unicode space, a final
    newline, a Cyrillic look-alike, an empty code, a NULL, a code that only contains the pattern)."""
    from gate.expectations import gx_runner

    codes = ["sch\u2003005", "sch000006\n", "s\u0441h000007", "", None, "xsch000009y", "sch000002"]
    _insert(
        con,
        "raw.schools",
        [
            {
                "year": 2024,
                "school_id": code,
                "school_name": f"Школа {n}",
                "municipality_code": "02",
                "municipality_name": "Район",
                "enrolment": 0,
            }
            for n, code in enumerate(codes)
        ],
        file_id=45,
        file_name="schools_odd_codes.xlsx",
    )
    _insert(
        con,
        "raw.school_codes",
        [
            {"system": "РИС ГИА", "external_code": f"R-{n + 2}", "school_id": code}
            for n, code in enumerate(codes)
        ],
        file_id=46,
        file_name="school_codes_odd.csv",
    )
    catalog = read_catalog(con)
    checks = [
        c
        for c in all_checks(catalog, pattern)
        if c.asset
        in (("staging", "stg_registry__schools"), ("staging", "stg_registry__school_codes"))
    ]
    assert len(checks) == 2
    for check in checks:  # both are judged on their suspect rows
        relation = con.sql(check.resolve_query(catalog))
        types = dict(zip(relation.columns, relation.types))
        assert gx_runner.suspect_query(check, "select 1", types) is not None, check.key

    suspects_only, whole = _judged_on_suspects_and_whole(con, checks, catalog, monkeypatch)
    assert suspects_only == whole
    assert {v[0] for v in whole.values()} == {"failed"}


def test_a_regex_python_does_not_compile_is_judged_on_the_whole_result() -> None:
    """A regex Python cannot compile is not filtered: Great Expectations reports it on the whole
    result, as before."""
    from gate.expectations import gx_runner
    from gate.expectations.check import Check, expect

    def check(regex: str) -> Check:
        return Check(
            name="codes",
            suite="raw",
            asset=("raw", "t"),
            level=Level.ERROR,
            description="",
            query="select a from raw.t",
            expectations=(expect("ExpectColumnValuesToMatchRegex", column="a", regex=regex),),
        )

    assert gx_runner.suspect_query(check("^a+$"), "select a from t", {"a": "VARCHAR"}) is not None
    assert gx_runner.suspect_query(check("^(a+$"), "select a from t", {"a": "VARCHAR"}) is None
    # a column that is not text: pandas' astype(str) is not DuckDB's cast, the whole result
    assert gx_runner.suspect_query(check("^1$"), "select a from t", {"a": "DOUBLE"}) is None


def _judged_on_suspects_and_whole(con, checks, catalog, monkeypatch: pytest.MonkeyPatch) -> tuple:
    """Each check's status, message, rows checked and failing rows, judged on its suspect rows and
    then (suspect_query disabled) on its whole result."""
    from gate.expectations import gx_runner

    def outcome(results: list) -> dict:
        return {
            r.check.key: (
                r.status,
                r.message,
                r.rows_checked,
                None if r.failing_rows is None else r.failing_rows.astype(str).values.tolist(),
            )
            for r in results
        }

    suspects_only = outcome(run_checks(con, checks, catalog))
    monkeypatch.setattr(gx_runner, "suspect_query", lambda *args: None)
    return suspects_only, outcome(run_checks(con, checks, catalog))


def _all_columns(check) -> dict[str, str]:
    """Every column an expectation of ``check`` names, as a VARCHAR column (for suspect_query)."""
    names = set()
    for e in check.expectations:
        for key in ("column", "column_A", "column_B"):
            if key in e.kwargs:
                names.add(e.kwargs[key])
        names.update(e.kwargs.get("column_list") or ())
    return dict.fromkeys(names, "VARCHAR")


def test_a_check_with_two_keys_is_judged_on_its_whole_result() -> None:
    """The suspect rows of a key are found with one window over that key: a check that asks for two
    different keys to be unique is not filtered (its whole result is judged)."""
    from gate.expectations import gx_runner
    from gate.expectations.check import Check, expect

    def check(*expectations) -> Check:
        return Check("k", "marts", ("marts", "t"), Level.ERROR, "", "select 1", expectations)

    types = {"a": "VARCHAR", "b": "VARCHAR"}
    one = check(expect("ExpectColumnValuesToBeUnique", column="a"))
    two = check(*one.expectations, expect("ExpectColumnValuesToBeUnique", column="b"))
    assert gx_runner.suspect_query(one, "select a, b from t", types) is not None
    assert gx_runner.suspect_query(two, "select a, b from t", types) is None


def test_an_error_while_a_check_is_judged_leaves_the_worker_usable(
    con, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The audit queries a check's rows while the worker judges the previous one: an error between
    the two (here the third check's rows cannot be read into pandas) still reads the pending
    verdict, so the next run of the checks gets its own verdicts instead of waiting forever on
    the worker or reading another check's."""
    import threading

    from gate.expectations import gx_runner

    catalog = read_catalog(con)
    checks = [c for c in all_checks(catalog) if c.key.startswith("marts__")][:4]
    assert len(checks) == 4
    expected = {r.check.key: r.status for r in run_checks(con, checks, catalog)}
    real = gx_runner.suspect_query
    calls = []

    def failing_third(check, sql, types):
        calls.append(check.key)
        if len(calls) == 3:
            raise ValueError("unreadable rows")
        return real(check, sql, types)

    def in_time(run) -> dict:
        """``run``'s outcome, on a thread: a run left waiting on the worker fails the test."""
        outcome: dict = {}

        def target() -> None:
            try:
                outcome["statuses"] = {r.check.key: r.status for r in run()}
            except Exception as exc:  # noqa: BLE001 — the outcome under test
                outcome["error"] = exc

        runner = threading.Thread(target=target, daemon=True)
        runner.start()
        runner.join(timeout=120)
        assert not runner.is_alive(), "the worker was left waiting"
        return outcome

    def run_again() -> None:
        assert in_time(lambda: run_checks(con, checks, catalog)) == {"statuses": expected}

    monkeypatch.setattr(gx_runner, "suspect_query", failing_third)
    with pytest.raises(ValueError, match="unreadable rows"):
        run_checks(con, checks, catalog)
    monkeypatch.setattr(gx_runner, "suspect_query", real)
    run_again()
    # an error once the verdict has arrived (reading it, or turning it into a result) leaves
    # nothing pending: the verdict is not read a second time
    real_result = gx_runner.check_result
    settled = []

    def failing_second_result(*args, **kwargs):
        settled.append(1)
        if len(settled) == 2:
            raise RuntimeError("the worker could not judge it")
        return real_result(*args, **kwargs)

    monkeypatch.setattr(gx_runner, "check_result", failing_second_result)
    failed = in_time(lambda: run_checks(con, checks, catalog))
    assert "could not judge" in str(failed.get("error")), failed
    monkeypatch.setattr(gx_runner, "check_result", real_result)
    run_again()


def _vpr_row(mark: int, participant: str = "n1") -> dict:
    return {
        "year": 2025,
        "school_id": "sch000002",
        "grade": 5,
        "subject": "Математика",
        "participant_code": participant,
        "primary_score": 10,
        "mark": mark,
        "status": "present",
    }


def _by_key(outcomes) -> dict:
    return {o.key: o for o in outcomes}


def _carrier(tmp_path: Path, changed: set[str], verdicts: dict, **parts):
    """What a night's audit may keep of build B0's verdicts (gate.baseline.GxCarrier): ``parts``
    are the plan's last file id, year records and the code's year-local marts."""
    from gate.baseline import GxCarrier

    return GxCarrier(
        baseline_build="B0",
        changed=frozenset(changed),
        verdicts=verdicts,
        last_file_id=parts.get("last_file_id"),
        year_records=parts.get("year_records"),
        year_local=parts.get("year_local", {}),
        source_dir=tmp_path / "baseline",
        target_dir=tmp_path / "night",
    )


def test_a_by_file_check_judges_the_files_delivered_since_its_passed_verdict_alone(
    con, tmp_path: Path
) -> None:
    """A night's audit judges a raw table that only gained files on the rows of the new files: the
    baseline's passed verdict holds for the files up to its last file id. The verdict and failing
    rows are those of judging the whole table (where the earlier files are clean, as the baseline's
    audit found them); a check on a table the night did not load keeps its verdict; a check whose
    baseline verdict did not pass, or whose definition changed, judges every row."""
    import random

    from gate.audit import gx_outcomes
    from gate.baseline import GxCarrier

    checks = [c for c in all_checks(read_catalog(con)) if c.by_file]
    assert {c.by_file for c in checks} == {
        "raw.vpr_results", "raw.gia_results", "raw.vpr_school_stats", "raw.social_passport",
        "raw.academic_debt", "raw.resource_survey",
    }  # fmt: skip
    start = _by_key(gx_outcomes(con, tmp_path / "baseline"))
    assert all(o.status in ("passed", "skipped") for o in start.values())
    last = 100  # every file of the fixture has a smaller id
    key = "gx__raw__vpr_results__marks_2_to_5"

    def carrier(verdicts=start) -> GxCarrier:
        changed = {"raw.vpr_results", "raw._load_log", "raw._quarantine"}
        return _carrier(tmp_path, changed, verdicts, last_file_id=last)

    rng = random.Random(7)
    for trial in range(6):
        night = duckdb.connect()
        build_warehouse(night)
        new_files = rng.randint(1, 3)
        for n in range(new_files):
            marks = [rng.choice([2, 3, 4, 5, 5, 1, 7]) for _ in range(rng.randint(1, 4))]
            _insert(
                night,
                "raw.vpr_results",
                [_vpr_row(m, f"t{trial}-{n}-{i}") for i, m in enumerate(marks)],
                file_id=last + 1 + n,
                file_name=f"vpr_results_2025_{n}.csv",
            )
        whole = _by_key(gx_outcomes(night, tmp_path / f"whole{trial}"))
        judged = _by_key(gx_outcomes(night, tmp_path / f"night{trial}", carried=carrier()))
        assert whole.keys() == judged.keys()
        for k, outcome in judged.items():
            assert outcome.status == whole[k].status, k
            assert outcome.failing_rows == whole[k].failing_rows, k
            assert outcome.definition == whole[k].definition, k
        assert judged[key].other_parts_from == "B0" and judged[key].judged_rows == "_file_id > 100"
        assert "files delivered since build B0 (file ids above 100)" in judged[key].message
        # the other raw tables were not loaded: their verdicts are the baseline's
        gia = judged["gx__raw__gia_results__marks_and_scores_in_range"]
        assert gia.carried_from == "B0" and not gia.other_parts_from
        if whole[key].status == "failed":
            saved = pd.read_parquet(tmp_path / f"night{trial}" / judged[key].failing_rows_file)
            assert set(saved["file_id"]) <= set(range(last + 1, last + 1 + new_files))
        night.close()

    # the rows of the earlier files are not read again (a bad mark there is the baseline's to see)
    _insert(con, "raw.vpr_results", [_vpr_row(9)], file_id=50, file_name="old.csv")
    _insert(con, "raw.vpr_results", [_vpr_row(3)], file_id=last + 1, file_name="new.csv")
    assert _by_key(gx_outcomes(con, tmp_path / "n1", carried=carrier()))[key].status == "passed"
    assert _by_key(gx_outcomes(con, tmp_path / "n2"))[key].status == "failed"
    # a baseline verdict that did not pass, or another definition: every row is judged
    failed = {**start, key: _replace(start[key], status="failed")}
    redefined = {**start, key: _replace(start[key], definition="another")}
    for verdicts in (failed, redefined):
        outcome = _by_key(gx_outcomes(con, tmp_path / "n3", carried=carrier(verdicts)))[key]
        assert outcome.status == "failed" and not outcome.other_parts_from


def _replace(outcome, **changes):
    from dataclasses import replace

    return replace(outcome, **changes)


def test_only_a_check_judged_in_parts_can_be_narrowed() -> None:
    catalog = {
        "raw.vpr_results": (),
        "staging.stg_registry__schools": (),
    }
    by_file = next(c for c in raw_checks() if c.key == "raw__vpr_results__marks_2_to_5")
    assert "from raw.vpr_results\n" in by_file.resolve_query(catalog)
    narrowed = by_file.resolve_query(catalog, only="_file_id > 41")
    assert "from (select * from raw.vpr_results where _file_id > 41)" in narrowed
    registry = next(c for c in raw_checks() if c.asset == ("staging", "stg_registry__schools"))
    with pytest.raises(ValueError, match="in parts"):
        registry.resolve_query(catalog, only="_file_id > 41")


PROCEDURE_CHECKS = (
    "gx__marts__fct_procedure_results__one_row_per_key",
    "gx__marts__fct_procedure_results__shares_between_0_and_1",
    "gx__marts__fct_procedure_results__failing_within_participants",
)


def _procedure_rows(con, year: int, rows: list[tuple]) -> None:
    con.execute("delete from marts.fct_procedure_results where year = ?", [year])
    for school, n, f, share in rows:
        con.execute(
            "insert into marts.fct_procedure_results values (?, 'VPR_MA_5', ?, ?, ?, ?, null)",
            [school, year, n, f, share],
        )


def _record(con, years: dict[int, str]) -> None:
    """intermediate.fct_procedure_results__built_from, as macros/year_local.sql writes it."""
    con.execute(
        "create or replace table intermediate.fct_procedure_results__built_from "
        "(year integer, input_fingerprint varchar, computed_at timestamp)"
    )
    for year, fingerprint in years.items():
        con.execute(
            "insert into intermediate.fct_procedure_results__built_from values (?, ?, ?)",
            [year, fingerprint, f"2026-01-0{year - 2020} 03:00:00"],
        )


def test_a_by_year_check_judges_the_years_its_build_computed_alone(con, tmp_path: Path) -> None:
    """A year-local mart's checks that judge rows, or keys with the year, one year at a time: the
    night's audit judges the years whose record (fingerprint and when computed) changed since the
    baseline. Over random rows of the recomputed years, the verdicts and failing rows are those of
    judging the whole mart; a defect in a year the build left alone is not read again (its rows are
    the ones the baseline judged); a mart without a record (not year-local) is judged whole."""
    import random

    from gate.audit import gx_outcomes
    from gate.baseline import GxCarrier
    from gate.serving_export import year_records

    checks = {c.key: c for c in all_checks(read_catalog(con)) if c.by_year}
    assert {f"gx__{k}" for k in checks if "fct_procedure_results" in k} == set(PROCEDURE_CHECKS)
    assert checks["marts__dim_school__one_row_per_key"].by_year == "marts.dim_school"
    _procedure_rows(con, 2023, [("sch000001", 8, 2, 0.25), ("sch000003", 5, 5, 1.0)])
    _record(con, {2023: "a", 2024: "b"})
    start = _by_key(gx_outcomes(con, tmp_path / "baseline"))
    assert all(start[k].status == "passed" for k in PROCEDURE_CHECKS)
    before = year_records(con, ("marts",))
    assert set(before) == {"marts.fct_procedure_results"}

    def carrier(year_local=(("marts.fct_procedure_results", "year"),)) -> GxCarrier:
        changed = {"marts.fct_procedure_results", "marts.dim_school"}
        records = {t: {str(y): r for y, r in v.items()} for t, v in before.items()}
        return _carrier(tmp_path, changed, start, year_records=records, year_local=dict(year_local))

    rng = random.Random(11)
    for trial in range(8):
        night = duckdb.connect()
        build_warehouse(night)
        _procedure_rows(night, 2023, [("sch000001", 8, 2, 0.25), ("sch000003", 5, 5, 1.0)])
        rows = []
        for school in ("sch000001", "sch000002", "sch000002", "sch000003")[: rng.randint(1, 4)]:
            n = rng.choice([0, 1, 10])
            f = rng.choice([0, 3, 12])
            rows.append((school, n, f, rng.choice([f / n if n else None, 1.5, -0.1])))
        _procedure_rows(night, 2024, rows)
        _record(night, {2023: "a", 2024: f"b{trial}"})
        whole = _by_key(gx_outcomes(night, tmp_path / f"whole{trial}"))
        judged = _by_key(gx_outcomes(night, tmp_path / f"n{trial}", carried=carrier()))
        for key in PROCEDURE_CHECKS:
            assert judged[key].status == whole[key].status, (key, rows)
            assert judged[key].failing_rows == whole[key].failing_rows, (key, rows)
            assert judged[key].judged_rows == "(year in (2024) or year is null)"
            assert judged[key].other_parts_from == "B0"
            assert "the years this build computed (2024)" in judged[key].message
        dim = judged["gx__marts__dim_school__one_row_per_key"]  # no record: judged whole
        assert not dim.other_parts_from and not dim.judged_rows
        night.close()

    # a defect in 2023, which the build did not compute (its record as before): not read again
    _procedure_rows(con, 2023, [("sch000001", 8, 9, 1.125)])
    night = _by_key(gx_outcomes(con, tmp_path / "n-old", carried=carrier()))
    whole = _by_key(gx_outcomes(con, tmp_path / "whole-old"))
    for key in PROCEDURE_CHECKS[1:]:
        assert whole[key].status == "failed" and night[key].status == "passed", key
        assert night[key].judged_rows == "year is null" and "no year" in night[key].message
    # 2023 computed again (another record): judged, and failed
    _record(con, {2023: "a2", 2024: "b"})
    night = _by_key(gx_outcomes(con, tmp_path / "n-new", carried=carrier()))
    for key in PROCEDURE_CHECKS[1:]:
        assert night[key].status == "failed", key
        assert night[key].judged_rows == "(year in (2023) or year is null)", key
    # a record the current code does not write (the mart is not built year by year, or by another
    # column), however it stands: every row is judged
    for year_local in ((), (("marts.fct_procedure_results", "year_to"),)):
        _record(con, {2023: "a", 2024: "b"})  # as at the start: «nothing computed»
        night = _by_key(gx_outcomes(con, tmp_path / "n-code", carried=carrier(year_local)))
        for key in PROCEDURE_CHECKS[1:]:
            assert night[key].status == "failed" and not night[key].judged_rows, key


def test_what_changed_includes_the_views_over_a_loaded_raw_table_the_build_did_not_run() -> None:
    """gate.baseline.reached_models: what a night changed is what its build ran and, at any
    remove, what reads a raw table it loaded or one of those — a view the build did not create
    again included; a view over raw tables it did not load is not."""
    from gate.baseline import reached_models
    from gate.dbt_results import DbtNodeResult

    def node(name: str, parents: tuple[str, ...], reported: bool = False, kind: str = "model"):
        return DbtNodeResult(
            unique_id=f"{kind}.eduq.{name}",
            resource_type=kind,
            name=name,
            asset=f"s/{name}",
            level="error",
            status="passed" if reported else "not_run",
            failures=0,
            message="",
            compiled_code=None,
            reported=reported,
            parents=parents,
        )

    results = [
        node("stg_vpr", ("source.eduq.raw.vpr_results", "seed.eduq.aliases")),  # a view, not run
        node("int_results", ("model.eduq.stg_vpr",)),  # a view over it
        node("fct_results", ("model.eduq.int_results",), reported=True),  # a table, rebuilt
        node("stg_schools", ("source.eduq.raw.schools",)),  # raw.schools not loaded
        node("dim_school", ("model.eduq.stg_schools",)),
        node("aliases", (), kind="seed"),
        node("key_test", ("model.eduq.stg_schools",), kind="test"),
    ]
    changed = {r.name for r in reached_models(results, ["raw.vpr_results", "raw._load_log"])}
    assert changed == {"stg_vpr", "int_results", "fct_results"}
    assert {r.name for r in reached_models(results, ["RAW.SCHOOLS"])} == {
        "stg_schools",
        "dim_school",
        "fct_results",  # ran
    }


def test_a_failed_dbt_test_is_said_by_its_description_not_by_dbts_count(tmp_path: Path) -> None:
    """dbt's «Got 9 results, configured to warn if != 0» says no more than the count: the audit
    says the test's rule (its description's first sentence) and keeps the failing rows."""

    from gate.audit import dbt_outcomes
    from gate.dbt_results import DbtNodeResult

    def test(message: str, description: str) -> DbtNodeResult:
        return DbtNodeResult(
            unique_id="test.eduq.t",
            resource_type="test",
            name="t",
            asset="staging/m",
            level="warning",
            status="failed",
            failures=2,
            message=message,
            compiled_code="select 1 as a union all select 2",
            description=description,
        )

    rule = "Every municipality's code is delivered\n  in one spelling. Warning: a registry…"
    with duckdb.connect() as con:
        (counted,) = dbt_outcomes(
            con, [test("Got 2 results, configured to warn if != 0", rule)], tmp_path
        )
        (worded,) = dbt_outcomes(con, [test("a worded message", rule)], tmp_path)
        (bare,) = dbt_outcomes(
            con, [test("Got 2 results, configured to fail if != 0", "")], tmp_path
        )
    assert (
        counted.message
        == "2 failing row(s): Every municipality's code is delivered in one spelling."
    )
    assert counted.is_warning and counted.failing_rows_file
    assert worded.message == "2 failing row(s): a worded message"
    assert bare.message == "2 failing row(s): Got 2 results, configured to fail if != 0"
