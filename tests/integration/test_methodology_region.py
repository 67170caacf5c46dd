"""A tiny region built by hand, run through the real dbt project, and every methodology mart
compared with tables worked out by hand (docs/methodology.md, profile fioko_2025).

The region: two municipalities, six schools, results years 2022-2024; E_OLD is merged into E
from results year 2024. Raw tables are written directly (ingestion.warehouse.ensure_raw_schema +
INSERTs with the metadata columns); ВПР arrives as school statistics in 2022-2023 and per student
in 2024; ОГЭ/ЕГЭ per student under the exam system's school codes, with rows that must not count
(past-year graduates, a retake in the additional period, absent/annulled students). The expected
values below are written out with the arithmetic in comments; none is computed by project code.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from collections.abc import Iterable
from pathlib import Path

import duckdb
import pytest

from ingestion.warehouse import connect, ensure_raw_schema
from tests.dbt_inprocess import on_database, parsed_manifest, quiet_args
from tests.marts import PROFILE_FREE_MARTS, PUBLIC_MARTS

pytestmark = pytest.mark.integration

DB_NAME = "candidate.duckdb"  # the catalog the project parsed once per process names (profiles.yml)
PROFILE = ("fioko_2025", "1.2")

# ----------------------------------------------------------------------------- the region

# school: (municipality code, municipality name, locality, has grade 9, has grade 11, enrolment, РЦОИ code)
SCHOOLS = {
    "A": ("M01", "г. Тестов", "urban", True, True, 400, "700001"),
    "B": ("M01", "г. Тестов", "urban", True, True, 500, "700002"),
    "C": ("M02", "Тестовский МР", "rural", True, False, 100, "700003"),
    "D": ("M02", "Тестовский МР", "rural", False, False, 50, "700004"),
    "E_OLD": ("M02", "Тестовский МР", "rural", False, False, 60, "700005"),
    "E": ("M02", "Тестовский МР", "rural", True, True, 300, "700006"),
}
# the 11th grades open in 2023: nobody sits ЕГЭ in 2022 (a year whose registry has 11th grades and
# that has no ЕГЭ result at all in the region is incomplete: int_results_completeness)
FIRST_GRADE_11_YEAR = 2023
REGISTRY = {
    2022: ["A", "B", "C", "D", "E_OLD", "E"],
    2023: ["A", "B", "C", "D", "E_OLD", "E"],
    2024: ["A", "B", "C", "D", "E"],
}
# (school, procedure, year): (participants N, failing F)
RESULTS = {
    ("A", "VPR_RU_5", 2022): (10, 4),
    ("A", "VPR_MA_5", 2022): (10, 5),
    ("A", "OGE_MA", 2022): (8, 1),
    ("B", "VPR_RU_5", 2022): (20, 1),
    ("B", "VPR_MA_5", 2022): (20, 2),
    ("B", "OGE_MA", 2022): (10, 0),
    ("C", "VPR_RU_5", 2022): (10, 3),
    ("C", "VPR_MA_5", 2022): (10, 2),
    ("C", "OGE_MA", 2022): (6, 2),
    ("D", "VPR_RU_5", 2022): (4, 4),
    ("D", "VPR_MA_5", 2022): (4, 3),
    ("E_OLD", "VPR_RU_5", 2022): (6, 3),
    ("E_OLD", "VPR_MA_5", 2022): (6, 2),
    ("E", "VPR_RU_5", 2022): (10, 1),
    ("E", "VPR_MA_5", 2022): (10, 2),
    ("A", "VPR_RU_5", 2023): (10, 3),
    ("A", "VPR_MA_5", 2023): (10, 4),
    ("A", "OGE_MA", 2023): (8, 2),
    ("A", "EGE_RU", 2023): (5, 0),
    ("B", "VPR_RU_5", 2023): (20, 6),
    ("B", "VPR_MA_5", 2023): (20, 2),
    ("B", "OGE_MA", 2023): (10, 0),
    ("C", "VPR_RU_5", 2023): (10, 3),
    ("C", "VPR_MA_5", 2023): (10, 3),
    ("C", "OGE_MA", 2023): (6, 1),
    ("D", "VPR_RU_5", 2023): (5, 2),
    ("D", "VPR_MA_5", 2023): (5, 2),
    ("E_OLD", "VPR_RU_5", 2023): (6, 4),
    ("E_OLD", "VPR_MA_5", 2023): (6, 2),
    ("E", "VPR_RU_5", 2023): (10, 2),
    ("E", "VPR_MA_5", 2023): (10, 1),
    ("A", "VPR_RU_5", 2024): (10, 2),
    ("A", "VPR_MA_5", 2024): (10, 2),
    ("A", "OGE_MA", 2024): (8, 3),
    ("A", "EGE_RU", 2024): (5, 0),
    ("B", "VPR_RU_5", 2024): (20, 6),
    ("B", "VPR_MA_5", 2024): (20, 1),
    ("B", "OGE_MA", 2024): (10, 0),
    ("C", "VPR_RU_5", 2024): (10, 5),
    ("C", "VPR_MA_5", 2024): (10, 6),
    ("C", "OGE_MA", 2024): (6, 2),
    ("D", "VPR_RU_5", 2024): (5, 2),
    ("D", "VPR_MA_5", 2024): (5, 2),
    ("E", "VPR_RU_5", 2024): (15, 5),
    ("E", "VPR_MA_5", 2024): (15, 5),
}
VPR_SUBJECTS = {"VPR_RU_5": "Русский язык", "VPR_MA_5": "Математика"}
STUDENT_LEVEL_VPR_YEARS = {2024}
REPORTED = [
    "VPR_RU_5",
    "VPR_RU_6",
    "VPR_MA_5",
    "VPR_MA_6",
    "OGE_RU",
    "OGE_MA",
    "EGE_RU",
    "EGE_MA_PROF",
    "EGE_MA_BASE",
]
WITH_DATA = ["VPR_RU_5", "VPR_MA_5", "OGE_MA", "EGE_RU"]

# social passport 2024, 100 students each: A and B have the better value of every input, C, D, E the
# worse one, so every oriented input has the same two-point pattern (2 high, 3 low)
GOOD = {
    "both_parents_higher_ed": 60,
    "single_parent": 10,
    "low_income": 10,
    "prevention_register": 1,
    "non_native_russian": 2,
    "disabilities": 3,
    "large_family": 20,
    "unemployed_parents": 1,
}
WEAK = {
    "both_parents_higher_ed": 20,
    "single_parent": 30,
    "low_income": 40,
    "prevention_register": 5,
    "non_native_russian": 10,
    "disabilities": 7,
    "large_family": 5,
    "unemployed_parents": 9,
}
PASSPORT_2024 = {"A": GOOD, "B": GOOD, "C": WEAK, "D": WEAK, "E": WEAK}

SURVEY_DEFAULTS = {
    "teachers_total": 20,
    "teacher_vacancies": 0,
    "teachers_retirement_age": 5,
    "avg_teacher_load": 1.3,
    "nonspecialist_ru_ma": False,
    "has_psychologist": True,
    "has_speech_therapist": True,
    "broadband_ok": True,
    "building_condition": "normal",
    "has_utilities": True,
    "has_gym": True,
    "computers": 10,
    "has_science_lab": True,
    "has_tochka_rosta": False,
    "has_cos": True,
}
SURVEY_2024 = {
    "A": {"teacher_vacancies": 1},  # staffing: a vacancy
    "B": {"avg_teacher_load": 1.5},  # load exactly 1.5 is no deficit; 5 of 20 retired (25%)
    "C": {"avg_teacher_load": 1.6, "broadband_ok": False},  # staffing and infrastructure
    "D": {
        "building_condition": "emergency",
        "computers": 4,
    },  # infrastructure (0.04 < 0.5 * median 0.1)
    "E": {},
}

# risk questionnaire 2024 of school A: answers per factor (F10 has only two items answered)
RISK_ANSWERS = {
    1: (5, 5, 5),
    2: (4, 4, 5),
    3: (3, 3, 3),
    4: (1, 1, 1),
    5: (2, 2, 3),
    6: (3, 4, 4),
    7: (2, 3, 3),
    8: (1, 2, 2),
    9: (4, 4, 4),
    10: (1, 1),
}


def _insert(con: duckdb.DuckDBPyConnection, table: str, rows: list[dict], file_id: int) -> None:
    """Insert rows as the loader would: contract columns plus the metadata columns."""
    if not rows:
        return
    columns = list(rows[0])
    meta = ["_extra", "_file_id", "_source_file", "_file_hash", "_row_number", "_loaded_at"]
    sql = (
        f"insert into raw.{table} ({', '.join(columns + meta)}) values "
        f"({', '.join('?' for _ in columns + meta)})"
    )
    loaded_at = dt.datetime(2025, 9, 1, 12, 0)
    con.executemany(
        sql,
        [
            [row[c] for c in columns]
            + [None, file_id, f"{table}_{file_id}.csv", f"hash{file_id}", i + 2, loaded_at]
            for i, row in enumerate(rows)
        ],
    )


def vpr_statistics_rows(years: Iterable[int]) -> list[dict]:
    rows = []
    for (school, procedure, year), (n, f) in RESULTS.items():
        if procedure.startswith("VPR") and year in years:
            mark_3 = (n - f) // 2
            rows.append(
                {
                    "year": year,
                    "school_id": school,
                    "grade": 5,
                    "subject": VPR_SUBJECTS[procedure],
                    "participants": n,
                    "mark_2": f,
                    "mark_3": mark_3,
                    "mark_4": n - f - mark_3,
                    "mark_5": 0,
                }
            )
    return rows


def vpr_student_rows(years: Iterable[int]) -> list[dict]:
    rows = []
    for (school, procedure, year), (n, f) in RESULTS.items():
        if not (procedure.startswith("VPR") and year in years):
            continue
        base = {
            "year": year,
            "school_id": school,
            "grade": 5,
            "subject": VPR_SUBJECTS[procedure],
            "primary_score": None,
        }
        for i in range(n):
            rows.append(
                base
                | {
                    "participant_code": f"{school}-{procedure}-{i}",
                    "mark": 2 if i < f else 4,
                    "status": "present",
                }
            )
        # not participants: absent, and annulled (a mark that must not count)
        rows.append(
            base
            | {"participant_code": f"{school}-{procedure}-absent", "mark": None, "status": "absent"}
        )
        rows.append(
            base
            | {
                "participant_code": f"{school}-{procedure}-annulled",
                "mark": 2,
                "status": "annulled",
            }
        )
    return rows


def gia_rows() -> list[dict]:
    rows = []
    for (school, procedure, year), (n, f) in RESULTS.items():
        if procedure.startswith("VPR"):
            continue
        code = SCHOOLS[school][6]
        exam, subject = ("OGE", "Математика") if procedure == "OGE_MA" else ("EGE", "Русский язык")
        base = {
            "year": year,
            "school_id": code,
            "exam": exam,
            "subject": subject,
            "category": "current_year_graduate",
            "wave": "main",
            "primary_score": None,
            "test_score": None,
            "mark": None,
            "status": "present",
        }

        def result(failing: bool, exam: str = exam) -> dict:
            # ОГЭ: mark 2 fails; ЕГЭ русский: test score below 24 fails
            if exam == "OGE":
                return {"mark": 2 if failing else 4}
            return {"test_score": 10.0 if failing else 50.0}

        for i in range(n):
            pid = f"{school}-{procedure}-{i}"
            if i == n - 1 and exam == "OGE":
                # absent on the main day, sat on the reserve day: the reserve result counts
                rows.append(base | {"participant_code": pid, "status": "absent"})
                rows.append(base | {"participant_code": pid, "wave": "reserve"} | result(i < f))
            else:
                rows.append(base | {"participant_code": pid} | result(i < f))
        # a retake in the additional period (passed) and a past-year graduate (failed) do not count
        rows.append(
            base
            | {"participant_code": f"{school}-{procedure}-0", "wave": "additional"}
            | result(False)
        )
        rows.append(
            base
            | {"participant_code": f"{school}-{procedure}-past", "category": "past_year_graduate"}
            | result(True)
        )
    return rows


def build_raw(con: duckdb.DuckDBPyConnection, student_level_vpr_years: set[int]) -> None:
    ensure_raw_schema(con)
    _insert(
        con,
        "schools",
        [
            {
                "year": year,
                "school_id": s,
                "school_name": f"Школа {s}",
                "municipality_code": SCHOOLS[s][0],
                "municipality_name": SCHOOLS[s][1],
                "locality": SCHOOLS[s][2],
                "is_small": s == "D",
                "has_grade_9": SCHOOLS[s][3],
                "has_grade_11": SCHOOLS[s][4] and year >= FIRST_GRADE_11_YEAR,
                "enrolment": SCHOOLS[s][5],
            }
            for year, schools in REGISTRY.items()
            for s in schools
        ],
        1,
    )
    _insert(
        con,
        "school_codes",
        [
            {"system": system, "external_code": code, "school_id": s}
            for s, info in SCHOOLS.items()
            for system, code in (("ФИС ОКО", s), ("РЦОИ", info[6]))
        ],
        2,
    )
    _insert(
        con,
        "school_successors",
        [{"old_school_id": "E_OLD", "new_school_id": "E", "effective_date": dt.date(2023, 9, 1)}],
        3,
    )
    _insert(
        con,
        "support_programmes",
        [
            {"school_id": "A", "programme": "500+ 2022", "year": 2022},
            {"school_id": "C", "programme": "региональная программа", "year": 2023},
        ],
        4,
    )
    all_years = set(REGISTRY)
    _insert(con, "vpr_school_stats", vpr_statistics_rows(all_years - student_level_vpr_years), 5)
    _insert(con, "vpr_results", vpr_student_rows(student_level_vpr_years), 6)
    _insert(con, "gia_results", gia_rows(), 7)
    _insert(
        con,
        "social_passport",
        [
            dict(year=2024, school_id=s, students_total=100, **values)
            for s, values in PASSPORT_2024.items()
        ],
        8,
    )
    _insert(
        con,
        "resource_survey",
        [
            dict(year=2024, school_id=s, **(SURVEY_DEFAULTS | values))
            for s, values in SURVEY_2024.items()
        ],
        9,
    )
    _insert(
        con,
        "risk_questionnaire",
        [
            {
                "year": 2024,
                "school_id": "A",
                "item_code": f"F{factor:02d}_{i + 1}",
                "answer": float(a),
            }
            for factor, answers in RISK_ANSWERS.items()
            for i, a in enumerate(answers)
        ],
        10,
    )
    _insert(
        con,
        "academic_debt",
        [
            {
                "year": 2024,
                "school_id": "A",
                "period": "year_end",
                "academic_year": "2023/2024",
                "students_total": 400,
                "with_debt": 8,
                "attending_extra": 6,
                "with_iom": 4,
                "debt_closed": 2,
            },
            {
                "year": 2024,
                "school_id": "C",
                "period": "february",
                "academic_year": "2023/2024",
                "students_total": 100,
                "with_debt": 0,
                "attending_extra": 0,
                "with_iom": 0,
                "debt_closed": 0,
            },
        ],
        11,
    )


# ----------------------------------------------------------------------------- running dbt


def _dbt(db: Path, *args: str, profile: str = "fioko_2025") -> None:
    """dbt in this process on the warehouse `db` (target and log folders beside it), on the project
    parsed once per process (tests/dbt_inprocess.py), under the methodology profile `profile`."""
    from dbt.cli.main import dbtRunner

    manifest = parsed_manifest()
    with on_database(db, unset=("EDUQ_METHODOLOGY_PROFILE",)):
        result = dbtRunner(manifest=manifest).invoke(
            [
                *args,
                "--threads",
                "4",
                *quiet_args(db.parent),
                "--vars",
                json.dumps({"methodology_profile": profile}),
            ]
        )
    assert result.success, f"dbt {' '.join(args)}: {result.exception or result.result}"


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The region built with the default profile: seeds, every model and every data test."""
    db = tmp_path_factory.mktemp("methodology_region") / DB_NAME
    with connect(db) as con:
        build_raw(con, STUDENT_LEVEL_VPR_YEARS)
    _dbt(db, "build", "--exclude", "test_type:unit")
    return db


def _copy(warehouse: Path, tmp_path_factory: pytest.TempPathFactory, name: str) -> Path:
    """A copy of the built warehouse."""
    db = tmp_path_factory.mktemp(name) / DB_NAME
    shutil.copy(warehouse, db)
    return db


@pytest.fixture(scope="module")
def variants(warehouse: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Copies of the region rebuilt: the ШНОР list under the alternative profile fioko_2025_or, and
    the procedure results with the 2024 ВПР delivered as school statistics instead of per student.
    (fioko_2025_strict is covered by the dbt unit test fct_procedure_results_strict_profile.)"""
    databases = {
        name: _copy(warehouse, tmp_path_factory, name)
        for name in ("fioko_2025_or", "vpr_as_statistics")
    }
    with connect(databases["vpr_as_statistics"]) as con:
        con.execute("delete from raw.vpr_results")
        _insert(con, "vpr_school_stats", vpr_statistics_rows(STUDENT_LEVEL_VPR_YEARS), 12)
    _dbt(
        databases["fioko_2025_or"],
        "run",
        "--select",
        "int_methodology_profile",
        "fct_procedure_results",
        "fct_shnor_list",
        profile="fioko_2025_or",
    )
    _dbt(databases["vpr_as_statistics"], "run", "--select", "+fct_procedure_results")
    return databases


def rows(db: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql).fetchall()


def approx(values: Iterable) -> list:
    """Round floats to 6 decimals so that hand-written fractions compare."""
    return [tuple(round(v, 6) if isinstance(v, float) else v for v in row) for row in values]


# ----------------------------------------------------------------------------- expected tables

# flagged procedures (share >= 0.30 with N >= 5), worked out from RESULTS:
FLAGGED = {
    # 2022: A 4/10, 5/10; C 3/10, OGE 2/6; E_OLD 3/6, 2/6 (D has 4 participants: not informative)
    ("A", "VPR_RU_5", 2022),
    ("A", "VPR_MA_5", 2022),
    ("C", "VPR_RU_5", 2022),
    ("C", "OGE_MA", 2022),
    ("E_OLD", "VPR_RU_5", 2022),
    ("E_OLD", "VPR_MA_5", 2022),
    # 2023: A 3/10, 4/10; B 6/20; C 3/10, 3/10; D 2/5, 2/5 (5 participants: informative); E_OLD 4/6, 2/6
    ("A", "VPR_RU_5", 2023),
    ("A", "VPR_MA_5", 2023),
    ("B", "VPR_RU_5", 2023),
    ("C", "VPR_RU_5", 2023),
    ("C", "VPR_MA_5", 2023),
    ("D", "VPR_RU_5", 2023),
    ("D", "VPR_MA_5", 2023),
    ("E_OLD", "VPR_RU_5", 2023),
    ("E_OLD", "VPR_MA_5", 2023),
    # 2024: A OGE 3/8; B 6/20; C 5/10, 6/10, OGE 2/6; D 2/5, 2/5; E 5/15, 5/15
    ("A", "OGE_MA", 2024),
    ("B", "VPR_RU_5", 2024),
    ("C", "VPR_RU_5", 2024),
    ("C", "VPR_MA_5", 2024),
    ("C", "OGE_MA", 2024),
    ("D", "VPR_RU_5", 2024),
    ("D", "VPR_MA_5", 2024),
    ("E", "VPR_RU_5", 2024),
    ("E", "VPR_MA_5", 2024),
}
# previous year flagged (rows that exist): 2023 from 2022; 2024 from 2023, E pooled with E_OLD:
# E VPR_RU_5 2023: (2 + 4) / (10 + 6) = 0.375 flagged; VPR_MA_5: (1 + 2) / 16 = 0.1875 not
PRIOR_FLAGGED = {
    ("A", "VPR_RU_5", 2023),
    ("A", "VPR_MA_5", 2023),
    ("C", "VPR_RU_5", 2023),
    ("C", "OGE_MA", 2023),
    ("E_OLD", "VPR_RU_5", 2023),
    ("E_OLD", "VPR_MA_5", 2023),
    ("A", "VPR_RU_5", 2024),
    ("A", "VPR_MA_5", 2024),
    ("B", "VPR_RU_5", 2024),
    ("C", "VPR_RU_5", 2024),
    ("C", "VPR_MA_5", 2024),
    ("D", "VPR_RU_5", 2024),
    ("D", "VPR_MA_5", 2024),
    ("E", "VPR_RU_5", 2024),
}

# default list (>= 2 flagged AND one persistent); measure = pooled share of the flagged procedures
DEFAULT_LIST = {
    # list 2023 (results 2022): nobody, the previous year is missing
    # list 2024 (results 2023): A (3+4)/20 = 0.35; C (3+3)/20 = 0.30; E_OLD (4+2)/12 = 0.50 -> moderate
    ("A", 2024): ("basic", 0.35),
    ("C", 2024): ("basic", 0.3),
    ("E_OLD", 2024): ("moderate", 0.5),
    # list 2025 (results 2024): C (5+6+2)/26 = 0.50 -> moderate; D (2+2)/10 = 0.40 -> moderate;
    # E (5+5)/30 = 1/3, persistent through E_OLD; A, B have one flagged procedure only
    ("C", 2025): ("moderate", 0.5),
    ("D", 2025): ("moderate", 0.4),
    ("E", 2025): ("basic", 1 / 3),
}


def test_build_passes_every_data_test(warehouse: Path) -> None:
    # the fixture asserts dbt build (seeds, models, data tests) succeeded; the marts exist
    marts = {
        r[0]
        for r in rows(
            warehouse,
            "select table_name from information_schema.tables where table_schema = 'marts'",
        )
    }
    assert marts >= PUBLIC_MARTS


def test_every_profile_dependent_mart_names_the_profile(warehouse: Path) -> None:
    # every public mart but the two that do not depend on the methodology profile
    for table in sorted(PUBLIC_MARTS - PROFILE_FREE_MARTS):
        assert rows(
            warehouse, f"select distinct profile_name, profile_version from marts.{table}"
        ) == [PROFILE], table


def test_dim_school(warehouse: Path) -> None:
    got = rows(
        warehouse,
        """select school_id, year, municipality_code, locality, has_grade_9, has_grade_11,
                                    support_programmes, support_programmes_to_date, successor_school_id,
                                    first_results_year_under_successor
                             from marts.dim_school order by year, school_id""",
    )
    want = []
    for year, schools in REGISTRY.items():
        for s in sorted(schools):
            m, _, locality, g9, g11, _, _ = SCHOOLS[s]
            this_year = {("A", 2022): "500+ 2022", ("C", 2023): "региональная программа"}.get(
                (s, year)
            )
            to_date = (
                "500+ 2022"
                if s == "A"
                else ("региональная программа" if s == "C" and year >= 2023 else None)
            )
            successor = ("E", 2024) if s == "E_OLD" else (None, None)
            g11 = g11 and year >= FIRST_GRADE_11_YEAR
            want.append((s, year, m, locality, g9, g11, this_year, to_date, *successor))
    assert got == want


def test_dim_school_group(warehouse: Path) -> None:
    got = set(rows(warehouse, "select school_id, year, group_code from marts.dim_school_group"))
    want = {(s, y, "region") for y, schools in REGISTRY.items() for s in schools}
    want |= {
        ("A", y, g)
        for y in (2022, 2023, 2024)
        for g in ("programme: 500+ 2022", "track_1", "supported")
    }
    want |= {
        ("C", y, g)
        for y in (2023, 2024)
        for g in ("programme: региональная программа", "track_2", "supported")
    }
    want |= {
        ("A", 2024, "shnor"),
        ("C", 2024, "shnor"),
        ("E_OLD", 2024, "shnor"),
        ("C", 2025, "shnor"),
        ("D", 2025, "shnor"),
        ("E", 2025, "shnor"),
    }
    assert got == want


def test_fct_procedure_results(warehouse: Path) -> None:
    got = rows(
        warehouse,
        """select school_id, procedure_code, year, participants, failing, is_informative,
                                    is_flagged, is_prior_flagged, counts_for_list
                             from marts.fct_procedure_results""",
    )
    want = [
        (
            s,
            p,
            y,
            n,
            f,
            not (s == "D" and y == 2022),
            (s, p, y) in FLAGGED,
            (s, p, y) in PRIOR_FLAGGED,
            True,
        )
        for (s, p, y), (n, f) in RESULTS.items()
    ]
    assert sorted(got) == sorted(want)
    # E's previous year pools E_OLD from 2024 on
    assert rows(
        warehouse,
        """select prior_participants, prior_failing, prior_school_ids
                              from marts.fct_procedure_results
                              where school_id = 'E' and procedure_code = 'VPR_RU_5' and year = 2024""",
    ) == [(16, 6, "E, E_OLD")]


def test_fct_shnor_list(warehouse: Path) -> None:
    got = rows(
        warehouse,
        """select school_id, list_year, results_year, is_shnor, prior_results_available,
                                    fioko_cluster, cluster_measure_value
                             from marts.fct_shnor_list order by list_year, school_id""",
    )
    want = []
    for year, schools in REGISTRY.items():
        if year == 2022:
            continue  # the 2023 list cannot be computed (no 2021 results): no rows, not an empty list
        for s in sorted(schools):
            cluster, measure = DEFAULT_LIST.get((s, year + 1), (None, None))
            want.append((s, year + 1, year, cluster is not None, year > 2022, cluster, measure))
    got = [(*r[:6], None if r[6] is None else round(r[6], 6)) for r in got]
    want = [
        (*w[:5], w[5] if w[3] else None, None if w[6] is None else round(w[6], 6)) for w in want
    ]
    # the measure is kept for schools with flagged procedures even when they are not listed
    not_listed_measures = {
        ("A", 2023): 0.45,
        ("C", 2023): 0.3125,
        ("E_OLD", 2023): 5 / 12,
        ("B", 2024): 0.3,
        ("D", 2024): 0.4,
        ("A", 2025): 0.375,
        ("B", 2025): 0.3,
    }
    want = [
        (
            *w[:6],
            round(not_listed_measures[(w[0], w[1])], 6)
            if (w[0], w[1]) in not_listed_measures
            else w[6],
        )
        for w in want
    ]
    assert got == want
    assert rows(
        warehouse,
        """select persistent_procedures from marts.fct_shnor_list
                              where school_id = 'E' and list_year = 2025""",
    ) == [("ВПР Русский язык, 5 класс",)]


def test_profile_or_lists_on_either_condition(warehouse: Path, variants: dict[str, Path]) -> None:
    or_warehouse = variants["fioko_2025_or"]
    listed = "select school_id, list_year, fioko_cluster from marts.fct_shnor_list where is_shnor order by 2, 1"
    assert rows(or_warehouse, "select distinct profile_name from marts.fct_shnor_list") == [
        ("fioko_2025_or",)
    ]
    assert rows(or_warehouse, listed) == [
        # no list 2023: «or» still needs the previous year for the persistence branch (a school with
        # one flagged procedure could be listed through it), and 2021 has no results
        # list 2024: + D (two flagged, none persistent), (2+2)/10 = 0.40
        ("A", 2024, "basic"),
        ("C", 2024, "basic"),
        ("D", 2024, "moderate"),
        ("E_OLD", 2024, "moderate"),
        # list 2025: + B (one procedure, flagged both years: 6/20 = 0.30)
        ("B", 2025, "basic"),
        ("C", 2025, "moderate"),
        ("D", 2025, "moderate"),
        ("E", 2025, "basic"),
    ]
    assert rows(warehouse, listed) == [
        (s, y, c)
        for (s, y), (c, _) in sorted(DEFAULT_LIST.items(), key=lambda kv: (kv[0][1], kv[0][0]))
    ]


def test_vpr_student_level_and_school_statistics_give_identical_results(
    warehouse: Path, variants: dict[str, Path]
) -> None:
    # the same region with the 2024 ВПР delivered as school statistics instead of per student
    db = variants["vpr_as_statistics"]
    query = "select * exclude (result_source) from marts.fct_procedure_results order by school_id, procedure_code, year"
    as_students = rows(warehouse, query)
    assert len(as_students) == len(RESULTS)
    assert rows(db, query) == as_students
    vpr_sources = "select distinct result_source from marts.fct_procedure_results where procedure_code like 'VPR%'"
    assert rows(db, vpr_sources) == [("school_statistics",)]
    assert rows(warehouse, vpr_sources + " and year = 2024") == [("student_results",)]


def test_school_statistics_that_contradict_the_student_results_are_a_warning(
    warehouse: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """The 2024 ВПР also delivered as school statistics: where they say the numbers the per-student
    results are counted with, nothing is said; where one school's statistics say other numbers, the
    per-student results are still counted and the warn-level test names that school, procedure,
    year, both counts and the statistics file."""
    db = _copy(warehouse, tmp_path_factory, "statistics_and_students")
    statistics = vpr_statistics_rows(STUDENT_LEVEL_VPR_YEARS)
    test = "assert_school_statistics_agree_with_student_results"

    def warnings() -> tuple[str, int, list[tuple]]:
        _dbt(db, "test", "--select", test, "--store-failures")
        results = json.loads((db.parent / "target" / "run_results.json").read_text())["results"]
        (result,) = [r for r in results if test in r["unique_id"]]
        with duckdb.connect(str(db), read_only=True) as con:
            (schema,) = con.execute(
                "select table_schema from information_schema.tables where table_name = ?", [test]
            ).fetchone()
            failing = con.execute(
                f"select * exclude (statistics_files) from {schema}.{test}"
            ).fetchall()
            files = con.execute(f"select distinct statistics_files from {schema}.{test}").fetchall()
        return result["status"], result["failures"], failing, files

    with connect(db) as con:
        _insert(con, "vpr_school_stats", statistics, 20)
    assert warnings()[:3] == ("pass", 0, [])
    wrong = next(r for r in statistics if r["school_id"] == "C" and r["subject"] == "Русский язык")
    key = next(k for k in RESULTS if k[0] == "C" and k[1] == "VPR_RU_5" and k[2] == 2024)
    n, f = RESULTS[key]
    wrong = {**wrong, "mark_2": f - 1, "mark_3": wrong["mark_3"] + 1}
    with connect(db) as con:
        _insert(con, "vpr_school_stats", [wrong], 21)
    status, failures, failing, files = warnings()
    assert (status, failures) == ("warn", 1)
    assert failing == [("C", "VPR_RU_5", 2024, n, n, f, f - 1)]
    assert files == [("vpr_school_stats_21.csv",)]
    counted = rows(
        db,
        "select participants, failing, result_source from marts.fct_procedure_results "
        "where school_id = 'C' and procedure_code = 'VPR_RU_5' and year = 2024",
    )
    assert counted == [(n, f, "student_results")]


def test_fct_isbsh(warehouse: Path) -> None:
    # every input has 2 schools at the better value and 3 at the worse: z = +0.6/sqrt(0.24) = 1.2247
    # and -0.4/sqrt(0.24) = -0.8165 on every input, so the index is 50 + 10 z = 62.2 and 41.8.
    # Quartiles of 5 schools, ties to the lower quartile: the three tied at 41.8 all in quartile 1
    # (risk zone); 62.2 has rank 4 -> 1 + floor(4 * 3 / 5) = 3. Inside each municipality all schools
    # share one value: no «самый низкий», deviation 0 -> «средний по МР».
    got = rows(
        warehouse,
        """select school_id, year, isbsh, isbsh_quartile, is_risk_zone, municipal_position_ru,
                                    n_inputs_available, low_income_share
                             from marts.fct_isbsh order by year, school_id""",
    )
    want = [
        (s, y, None, None, False, None, 0, None) for y in (2022, 2023) for s in sorted(REGISTRY[y])
    ]
    want += [
        ("A", 2024, 62.2, 3, False, "средний по МР", 6, 0.1),
        ("B", 2024, 62.2, 3, False, "средний по МР", 6, 0.1),
        ("C", 2024, 41.8, 1, True, "средний по МР", 6, 0.4),
        ("D", 2024, 41.8, 1, True, "средний по МР", 6, 0.4),
        ("E", 2024, 41.8, 1, True, "средний по МР", 6, 0.4),
    ]
    assert approx(got) == want


def test_fct_resource_deficits(warehouse: Path) -> None:
    got = rows(
        warehouse,
        """select school_id, year, has_resource_survey, has_staffing_deficit,
                                    has_infrastructure_deficit, has_both_deficits, has_teacher_vacancies,
                                    has_teacher_overload, has_broadband_gap, has_building_emergency, has_computer_gap
                             from marts.fct_resource_deficits order by year, school_id""",
    )
    want = [
        (s, y, False, None, None, None, None, None, None, None, None)
        for y in (2022, 2023)
        for s in sorted(REGISTRY[y])
    ]
    # computers per student 0.1 everywhere but D (4/100 = 0.04 < 0.5 * median 0.1)
    want += [
        ("A", 2024, True, True, False, False, True, False, False, False, False),
        ("B", 2024, True, False, False, False, False, False, False, False, False),
        ("C", 2024, True, True, True, True, False, True, True, False, False),
        ("D", 2024, True, False, True, False, False, False, False, True, True),
        ("E", 2024, True, False, False, False, False, False, False, False, False),
    ]
    assert got == want


def test_fct_risk_profile(warehouse: Path) -> None:
    got = rows(
        warehouse,
        """select factor_number, n_items_answered, factor_score, significance, n_high_factors,
                                    n_medium_factors, n_low_factors
                             from marts.fct_risk_profile where school_id = 'A' and year = 2024 order by 1""",
    )
    # item score (answer - 1) / 4; factor score = mean, 2 decimals; high >= 0.67, medium >= 0.34
    scores = {
        1: (1.0, "high"),
        2: (0.83, "high"),
        3: (0.5, "medium"),
        4: (0.0, "low"),
        5: (0.33, "low"),
        6: (0.67, "high"),
        7: (0.42, "medium"),
        8: (0.17, "low"),
        9: (0.75, "high"),
        10: (0.0, "low"),
    }
    want = [(f, 2 if f == 10 else 3, score, level, 4, 2, 4) for f, (score, level) in scores.items()]
    assert got == want
    assert rows(warehouse, "select count(*) from marts.fct_risk_profile") == [(10,)]


def test_fct_academic_debt(warehouse: Path) -> None:
    got = rows(
        warehouse,
        """select school_id, period, debt_share, attending_extra_share, iom_share,
                                    debt_closed_share, debt_not_closed_share
                             from marts.fct_academic_debt order by school_id""",
    )
    assert approx(got) == [
        ("A", "year_end", 0.02, 0.75, 0.5, 0.25, 0.75),
        ("C", "february", 0.0, None, None, None, None),
    ]


# dynamics of the procedures with data: (school, procedure, year_to) -> (type, magnitude-rule type)
DYNAMICS = {
    # 2022 -> 2023
    ("A", "VPR_RU_5", 2023): ("positive", "positive"),  # 0.4 -> 0.3
    ("A", "VPR_MA_5", 2023): ("positive", "positive"),  # 0.5 -> 0.4
    ("A", "OGE_MA", 2023): ("negative", "negative"),  # 0.125 -> 0.25, +12.5 points
    ("A", "EGE_RU", 2023): ("no_participants", "no_participants"),  # none in 2022
    ("B", "VPR_RU_5", 2023): ("negative", "negative"),  # 0.05 -> 0.30
    ("B", "VPR_MA_5", 2023): ("neutral", "neutral"),  # 2/20 both years
    ("B", "OGE_MA", 2023): ("zero_both", "zero_both"),
    ("C", "VPR_RU_5", 2023): ("neutral", "neutral"),  # 0.3 both years
    ("C", "VPR_MA_5", 2023): ("negative", "negative"),  # 0.2 -> 0.3: exactly +10 points
    ("C", "OGE_MA", 2023): ("positive", "positive"),  # 2/6 -> 1/6
    ("D", "VPR_RU_5", 2023): ("positive", "positive"),  # 4/4 -> 2/5 (dynamics need 1 participant)
    ("D", "VPR_MA_5", 2023): ("positive", "positive"),  # 3/4 -> 2/5
    ("E_OLD", "VPR_RU_5", 2023): ("negative", "negative"),  # 0.5 -> 0.667
    ("E_OLD", "VPR_MA_5", 2023): ("neutral", "neutral"),  # 2/6 both years
    ("E", "VPR_RU_5", 2023): ("negative", "negative"),  # 0.1 -> 0.2: exactly +10 points
    ("E", "VPR_MA_5", 2023): ("positive", "positive"),  # 0.2 -> 0.1
    # 2023 -> 2024
    ("A", "VPR_RU_5", 2024): ("positive", "positive"),  # 0.3 -> 0.2
    ("A", "VPR_MA_5", 2024): ("positive", "positive"),  # 0.4 -> 0.2
    ("A", "OGE_MA", 2024): ("negative", "negative"),  # 0.25 -> 0.375
    ("A", "EGE_RU", 2024): ("zero_both", "zero_both"),  # 0/5 both years
    ("B", "VPR_RU_5", 2024): ("neutral", "neutral"),  # 6/20 both years
    ("B", "VPR_MA_5", 2024): ("positive", "positive"),  # 0.1 -> 0.05
    ("B", "OGE_MA", 2024): ("zero_both", "zero_both"),
    ("C", "VPR_RU_5", 2024): ("negative", "negative"),  # 0.3 -> 0.5
    ("C", "VPR_MA_5", 2024): ("negative", "negative"),  # 0.3 -> 0.6
    ("C", "OGE_MA", 2024): ("negative", "negative"),  # 1/6 -> 2/6, +16.7 points
    ("D", "VPR_RU_5", 2024): ("neutral", "neutral"),  # 2/5 both years
    ("D", "VPR_MA_5", 2024): ("neutral", "neutral"),
    ("E", "VPR_RU_5", 2024): ("positive", "positive"),  # pooled with E_OLD 6/16 = 0.375 -> 5/15
    ("E", "VPR_MA_5", 2024): ("negative", "negative"),  # pooled 3/16 = 0.1875 -> 1/3, +14.6 points
}


def test_fct_procedure_dynamics(warehouse: Path) -> None:
    got = {
        (s, p, y): (t, m)
        for s, p, y, t, m in rows(
            warehouse,
            """select school_id, procedure_code, year_to, dynamics_type, magnitude_dynamics_type
                      from marts.fct_procedure_dynamics""",
        )
    }
    want = {}
    for year in (2023, 2024):
        for s in REGISTRY[year]:
            for p in REPORTED:
                want[(s, p, year)] = DYNAMICS.get(
                    (s, p, year), ("no_participants", "no_participants")
                )
    assert got == want
    assert rows(
        warehouse,
        """select participants_from, failing_from, prior_school_ids, fail_share_change
                              from marts.fct_procedure_dynamics
                              where school_id = 'C' and procedure_code = 'VPR_MA_5' and year_to = 2023""",
    ) == [(10, 2, "C", 0.1)]


def test_fct_cluster_transitions(warehouse: Path) -> None:
    # lists 2024 -> 2025 only: the 2023 list had no previous results year to check persistence
    got = rows(
        warehouse,
        """select school_id, list_year_from, list_year_to, cluster_from, cluster_to,
                                    transition_type, transition_direction, from_school_ids
                             from marts.fct_cluster_transitions order by school_id""",
    )
    assert got == [
        ("A", 2024, 2025, "basic", "none", "left_list", "positive", "A"),
        ("B", 2024, 2025, "none", "none", "not_listed", "neutral", "B"),
        ("C", 2024, 2025, "basic", "moderate", "worsened_cluster", "negative", "C"),
        ("D", 2024, 2025, "none", "moderate", "newly_listed", "negative", "D"),
        ("E", 2024, 2025, "moderate", "basic", "improved_cluster", "positive", "E, E_OLD"),
    ]


def test_rpt_cluster_transitions_by_group(warehouse: Path) -> None:
    got = rows(
        warehouse,
        """select group_code, n_schools, n_improved_cluster, n_left_list, n_positive, positive_share,
                                    n_unchanged, n_not_listed, n_neutral, neutral_share, n_worsened_cluster,
                                    n_newly_listed, n_negative, negative_share
                             from marts.rpt_cluster_transitions_by_group
                             where list_year_from = 2024 and list_year_to = 2025 order by group_code""",
    )
    assert approx(got) == [
        ("programme: 500+ 2022", 1, 0, 1, 1, 1.0, 0, 0, 0, 0.0, 0, 0, 0, 0.0),  # A left the list
        (
            "programme: региональная программа",
            1,
            0,
            0,
            0,
            0.0,
            0,
            0,
            0,
            0.0,
            1,
            0,
            1,
            1.0,
        ),  # C worsened
        # all five schools of 2024: E improved, A left (2 of 5 +), B not listed (neutral), C worsened, D new
        ("region", 5, 1, 1, 2, 0.4, 0, 1, 1, 0.2, 1, 1, 2, 0.4),
        # on the 2024 list: A (left), C (worsened) and E through E_OLD (improved)
        ("shnor", 3, 1, 1, 2, round(2 / 3, 6), 0, 0, 0, 0.0, 1, 0, 1, round(1 / 3, 6)),
        ("supported", 2, 0, 1, 1, 0.5, 0, 0, 0, 0.0, 1, 0, 1, 0.5),
        ("track_1", 1, 0, 1, 1, 1.0, 0, 0, 0, 0.0, 0, 0, 0, 0.0),
        ("track_2", 1, 0, 0, 0, 0.0, 0, 0, 0, 0.0, 1, 0, 1, 1.0),
    ]
    assert rows(warehouse, "select count(*) from marts.rpt_cluster_transitions_by_group") == [(7,)]


def test_rpt_dynamics_by_group(warehouse: Path) -> None:
    got = rows(
        warehouse,
        """select procedure_code, year_to, n_schools, n_positive, n_zero_both, n_negative,
                                    n_neutral, n_no_participants, n_positive_result, positive_result_share,
                                    n_magnitude_negative
                             from marts.rpt_dynamics_by_group
                             where group_code = 'region' and procedure_code in ('VPR_RU_5', 'VPR_MA_5', 'OGE_MA', 'EGE_RU')
                             order by year_to, procedure_code""",
    )
    assert approx(got) == [
        # 2023: six schools. EGE: nobody in 2022
        ("EGE_RU", 2023, 6, 0, 0, 0, 0, 6, 0, 0.0, 0),
        # OGE: A negative, B 0% both years, C positive, D / E_OLD / E no participants
        ("OGE_MA", 2023, 6, 1, 1, 1, 0, 3, 2, round(2 / 6, 6), 1),
        # ВПР МА: A, D, E positive; B, E_OLD neutral; C negative (exactly +10 points: also by magnitude)
        ("VPR_MA_5", 2023, 6, 3, 0, 1, 2, 0, 3, 0.5, 1),
        # ВПР РУ: A, D positive; B, E_OLD, E negative (+25, +16.7, +10 points); C neutral
        ("VPR_RU_5", 2023, 6, 2, 0, 3, 1, 0, 2, round(2 / 6, 6), 3),
        # 2024: five schools. EGE: A 0% both years, the rest no participants
        ("EGE_RU", 2024, 5, 0, 1, 0, 0, 4, 1, 0.2, 0),
        # OGE: A, C negative, B 0% both years, D, E no participants
        ("OGE_MA", 2024, 5, 0, 1, 2, 0, 2, 1, 0.2, 2),
        # ВПР МА: A, B positive; C, E negative (+30, +14.6 points); D neutral
        ("VPR_MA_5", 2024, 5, 2, 0, 2, 1, 0, 2, 0.4, 2),
        # ВПР РУ: A, E positive; C negative (+20 points); B, D neutral
        ("VPR_RU_5", 2024, 5, 2, 0, 1, 2, 0, 2, 0.4, 1),
    ]
    # the procedures nobody sat: every school of the region «нет участников»
    assert rows(
        warehouse,
        """select distinct n_no_participants = n_schools from marts.rpt_dynamics_by_group
                              where procedure_code not in ('VPR_RU_5', 'VPR_MA_5', 'OGE_MA', 'EGE_RU')""",
    ) == [(True,)]
    # groups: region, 500+ 2022 / track_1 (A), региональная программа / track_2 (C, from 2023 on),
    # supported (A; A and C from 2023), shnor (list 2024 in 2024: A, C; the 2023 list was empty)
    assert rows(
        warehouse,
        """select year_to, group_code, n_schools from marts.rpt_dynamics_by_group
                              where procedure_code = 'VPR_RU_5' order by 1, 2""",
    ) == [
        (2023, "programme: 500+ 2022", 1),
        (2023, "programme: региональная программа", 1),
        (2023, "region", 6),
        (2023, "supported", 2),
        (2023, "track_1", 1),
        (2023, "track_2", 1),
        (2024, "programme: 500+ 2022", 1),
        (2024, "programme: региональная программа", 1),
        (2024, "region", 5),
        (2024, "shnor", 2),
        (2024, "supported", 2),
        (2024, "track_1", 1),
        (2024, "track_2", 1),
    ]


def test_rpt_dynamics_urban_rural(warehouse: Path) -> None:
    got = rows(
        warehouse,
        """select locality, year_to, n_schools, n_school_procedures, n_positive, n_zero_both,
                                    n_negative, n_neutral, n_no_participants, n_positive_result
                             from marts.rpt_dynamics_urban_rural where group_code = 'region' order by 2, 1""",
    )
    assert got == [
        # 2023: rural C (neutral, negative, positive), D (2 positive), E_OLD (negative, neutral),
        # E (negative, positive); the other 27 of 36 (school, procedure) pairs without participants
        ("rural", 2023, 4, 36, 4, 0, 3, 2, 27, 4),
        # urban A (2 positive, negative), B (negative, neutral, 0%): 12 of 18 without participants
        ("urban", 2023, 2, 18, 2, 1, 2, 1, 12, 3),
        # 2024: rural C (3 negative), D (2 neutral), E (positive, negative)
        ("rural", 2024, 3, 27, 1, 0, 4, 2, 20, 1),
        # urban A (2 positive, negative, 0% EGE), B (neutral, positive, 0%)
        ("urban", 2024, 2, 18, 3, 2, 1, 1, 11, 5),
    ]


def test_rpt_procedures_not_conducted(warehouse: Path) -> None:
    got = rows(
        warehouse,
        """select procedure_code, year, n_schools, n_not_conducted, not_conducted_share,
                                    n_not_conducted_without_grade
                             from marts.rpt_procedures_not_conducted
                             where group_code = 'region' and procedure_code in ('VPR_RU_5', 'OGE_MA', 'EGE_RU')
                             order by year, procedure_code""",
    )
    assert approx(got) == [
        # 2022: EGE nowhere (no school has grade 11 yet); OGE not at D, E_OLD (no grade 9) and E
        ("EGE_RU", 2022, 6, 6, 1.0, 6),
        ("OGE_MA", 2022, 6, 3, 0.5, 2),
        ("VPR_RU_5", 2022, 6, 0, 0.0, 0),
        # 2023: EGE at A only
        ("EGE_RU", 2023, 6, 5, round(5 / 6, 6), 3),
        ("OGE_MA", 2023, 6, 3, 0.5, 2),
        ("VPR_RU_5", 2023, 6, 0, 0.0, 0),
        # 2024: E_OLD is gone
        ("EGE_RU", 2024, 5, 4, 0.8, 2),
        ("OGE_MA", 2024, 5, 2, 0.4, 1),
        ("VPR_RU_5", 2024, 5, 0, 0.0, 0),
    ]


def test_rpt_resource_deficits_by_municipality(warehouse: Path) -> None:
    got = rows(
        warehouse,
        """select municipality_code, year, n_schools, n_surveyed, n_staffing_deficit,
                                    staffing_deficit_share, n_infrastructure_deficit, infrastructure_deficit_share,
                                    n_both_deficits, both_deficits_share, n_shnor, shnor_share
                             from marts.rpt_resource_deficits_by_municipality order by year, municipality_code""",
    )
    assert approx(got) == [
        # no list of 2022 (no results before 2022) nor of 2023 (the 2021 results it needs are
        # missing): «нет списка», NULL — not 0 listed schools
        ("M01", 2022, 2, 0, 0, 0.0, 0, 0.0, 0, 0.0, None, None),
        ("M02", 2022, 4, 0, 0, 0.0, 0, 0.0, 0, 0.0, None, None),
        ("region", 2022, 6, 0, 0, 0.0, 0, 0.0, 0, 0.0, None, None),
        ("M01", 2023, 2, 0, 0, 0.0, 0, 0.0, 0, 0.0, None, None),
        ("M02", 2023, 4, 0, 0, 0.0, 0, 0.0, 0, 0.0, None, None),
        ("region", 2023, 6, 0, 0, 0.0, 0, 0.0, 0, 0.0, None, None),
        # 2024: A staffing; C both; D infrastructure. ШНОР of the 2024 list: A (M01), C (M02)
        ("M01", 2024, 2, 2, 1, 0.5, 0, 0.0, 0, 0.0, 1, 0.5),
        (
            "M02",
            2024,
            3,
            3,
            1,
            round(1 / 3, 6),
            2,
            round(2 / 3, 6),
            1,
            round(1 / 3, 6),
            1,
            round(1 / 3, 6),
        ),
        ("region", 2024, 5, 5, 2, 0.4, 2, 0.4, 1, 0.2, 2, 0.4),
    ]


def test_rpt_risk_zone_by_municipality(warehouse: Path) -> None:
    got = rows(
        warehouse,
        """select municipality_code, year, n_schools, n_with_isbsh, n_risk_zone, risk_zone_share,
                                    n_risk_zone_shnor, n_risk_zone_supported, is_region_total
                             from marts.rpt_risk_zone_by_municipality where year = 2024 order by municipality_code""",
    )
    # risk zone: C, D, E (M02); C is on the 2024 list and in the regional programme
    assert approx(got) == [
        ("M01", 2024, 2, 2, 0, 0.0, 0, 0, False),
        ("M02", 2024, 3, 3, 3, 1.0, 1, 1, False),
        ("region", 2024, 5, 5, 3, 0.6, 1, 1, True),
    ]
    assert rows(
        warehouse,
        """select distinct n_with_isbsh, n_risk_zone from marts.rpt_risk_zone_by_municipality
                              where year < 2024""",
    ) == [(0, 0)]


def test_rpt_shnor_by_cluster(warehouse: Path) -> None:
    got = rows(
        warehouse,
        """select list_year, fioko_cluster, n_listed, cluster_share, n_schools, listed_share,
                                    n_listed_before, n_newly_listed, n_supported, list_status_ru
                             from marts.rpt_shnor_by_cluster order by list_year, fioko_cluster_rank""",
    )
    assert approx(got) == [
        # the 2023 list cannot be computed (no 2021 results to check persistence): «нет списка», NULL
        (2023, "total", None, None, None, None, None, None, None, "нет списка"),
        (2023, "basic", None, None, None, None, None, None, None, "нет списка"),
        (2023, "moderate", None, None, None, None, None, None, None, "нет списка"),
        (2023, "severe", None, None, None, None, None, None, None, "нет списка"),
        # A, C basic; E_OLD moderate; no 2023 list to compare with (no «before»); A and C supported
        (2024, "total", 3, 1.0, 6, 0.5, None, None, 2, "список составлен"),
        (2024, "basic", 2, round(2 / 3, 6), 6, round(2 / 6, 6), None, None, 2, "список составлен"),
        (
            2024,
            "moderate",
            1,
            round(1 / 3, 6),
            6,
            round(1 / 6, 6),
            None,
            None,
            0,
            "список составлен",
        ),
        (2024, "severe", 0, 0.0, 6, 0.0, None, None, 0, "список составлен"),
        # E basic (on the 2024 list through E_OLD); C, D moderate (C listed before, D new); C supported
        (2025, "total", 3, 1.0, 5, 0.6, 2, 1, 1, "список составлен"),
        (2025, "basic", 1, round(1 / 3, 6), 5, 0.2, 1, 0, 0, "список составлен"),
        (2025, "moderate", 2, round(2 / 3, 6), 5, 0.4, 1, 1, 1, "список составлен"),
        (2025, "severe", 0, 0.0, 5, 0.0, 0, 0, 0, "список составлен"),
    ]
