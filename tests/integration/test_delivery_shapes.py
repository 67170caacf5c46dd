"""Delivery-shape invariance: the same facts delivered in different files give identical marts.

Exam-processing centres export one file per exam and subject, municipalities send their own files,
files arrive in any order and one is sometimes sent twice. The latest delivery wins per (source,
year, school, exam, subject, grade) for results, so files of other subjects add up instead of
erasing each other (issue 9: a region whose 2023 ОГЭ/ЕГЭ came as five per-subject files kept only
the last file's subject). A correction file for one subject of a few schools changes exactly the
rows of those schools and that subject.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from core.settings import Settings
from tests.dbt_inprocess import build_models
from tests.delivery_shapes import (
    add_duplicate,
    municipality_of_schools,
    read_delivered_csv,
    shape_keys,
    shuffle_times,
    split_results,
)
from tests.marts import PUBLIC_MARTS

pytestmark = pytest.mark.integration

YEARS = (2022, 2023)


def _settings(home: Path, landing: Path) -> Settings:
    return Settings(
        home=home,
        landing_dir=landing,
        warehouse_dir=home / "warehouse",
        publications_dir=home / "publications",
        methodology_profile="fioko_2025",
        today=dt.date(2024, 11, 1),
    )


def _build(landing: Path, home: Path) -> Path:
    """Load a landing folder with the ingestion code and build the marts with dbt."""
    from ingestion.loader import ingest_all
    from ingestion.warehouse import connect

    settings = _settings(home, landing)
    settings.ensure_dirs()
    with connect(settings.candidate_db) as con:
        survey, reports = ingest_all(con, settings, run_id="shape")
    assert not survey.by_status("rejected"), survey.by_status("rejected")
    assert all(not r.rows_quarantined for r in reports)
    build_models(settings.candidate_db, home / "dbt")
    return settings.candidate_db


def _marts(db: Path) -> dict[str, list[tuple]]:
    with duckdb.connect(str(db), read_only=True) as con:
        return {
            table: con.execute(f"select * from marts.{table} order by all").fetchall()
            for table in sorted(PUBLIC_MARTS)
        }


def _difference(got: list[tuple], want: list[tuple]) -> str:
    """The first differing row, and which positions differ, in words."""
    if len(got) != len(want):
        return f"{len(got)} rows instead of {len(want)}"
    for a, b in zip(got, want):
        if a != b:
            cells = [f"#{i}: {x!r} != {y!r}" for i, (x, y) in enumerate(zip(a, b)) if x != y]
            return f"row {a[:3]}…: " + "; ".join(cells)
    return "same rows"


@pytest.fixture(scope="module")
def region(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from synthetic import generate_region

    landing = tmp_path_factory.mktemp("shapes") / "delivered"
    generate_region(landing, seed=11, schools=24, years=YEARS)
    return landing


@pytest.fixture(scope="module")
def baseline(region: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[tuple]]:
    home = tmp_path_factory.mktemp("baseline")
    landing = home / "landing"
    import shutil

    shutil.copytree(region, landing)
    marts = _marts(_build(landing, home))
    assert sum(len(rows) for rows in marts.values()) > 0
    assert marts["fct_procedure_results"], "the region has results"
    return marts


@pytest.mark.parametrize(
    "shape", ["per_municipality", "per_exam", "per_subject", "per_subject_and_municipality"]
)
def test_every_delivery_shape_gives_identical_marts(
    shape: str, region: Path, baseline: dict, tmp_path_factory: pytest.TempPathFactory
) -> None:
    home = tmp_path_factory.mktemp(shape)
    key = shape_keys(municipality_of_schools(region))[shape]
    parts = split_results(region, home / "landing", key, seed=len(shape))
    assert len(parts) > 2 * len(YEARS), "the shape really splits the files"
    add_duplicate(home / "landing", seed=len(shape))
    shuffle_times(home / "landing", seed=7 * len(shape))
    got = _marts(_build(home / "landing", home))
    for table in sorted(PUBLIC_MARTS):
        assert got[table] == baseline[table], f"{shape}: marts.{table} differs: " + _difference(
            got[table], baseline[table]
        )


def test_a_correction_of_one_subject_changes_exactly_those_rows(
    region: Path, baseline: dict, tmp_path_factory: pytest.TempPathFactory
) -> None:
    import shutil

    home = tmp_path_factory.mktemp("correction")
    landing = home / "landing"
    shutil.copytree(region, landing)
    # a later delivery: ОГЭ Математика 2023 of two schools again, every participant failing
    gia = read_delivered_csv(next(landing.rglob("gia_results_2023.csv")))
    oge_ma = gia[(gia["Экзамен"] == "ОГЭ") & (gia["Предмет"] == "Математика")]
    schools = sorted(oge_ma["Код ОО"].unique())[:2]
    correction = oge_ma[oge_ma["Код ОО"].isin(schools)].copy()
    correction["Отметка"] = correction["Отметка"].map(lambda m: "2" if m else m)
    path = landing / "gia" / "gia_results_2023_correction_oge_math.csv"
    correction.to_csv(path, sep=";", index=False, encoding="utf-8")
    shuffle_times(landing, seed=3)
    import os

    os.utime(path, (1_900_000_000, 1_900_000_000))  # delivered last
    db = _build(landing, home)
    with duckdb.connect(str(db), read_only=True) as con:
        codes = dict(
            con.execute(
                "select code, school_id from staging.stg_registry__school_code_map"
            ).fetchall()
        )
        results = con.execute("select * from marts.fct_procedure_results order by all").fetchall()
        columns = [c[0] for c in con.execute("describe marts.fct_procedure_results").fetchall()]
    corrected = {codes[s] for s in schools}
    before = {(r[0], r[1], r[3]): r for r in baseline["fct_procedure_results"]}
    after = {(r[0], r[1], r[3]): r for r in results}
    assert before.keys() == after.keys(), "no result of another subject was erased or added"
    changed = {k for k in before if before[k] != after[k]}
    # the corrected rows and the rows that read them as the previous year (2024: none here)
    assert changed == {(s, "OGE_MA", 2023) for s in corrected}
    failing, participants = columns.index("failing"), columns.index("participants")
    for key in changed:
        assert after[key][failing] == after[key][participants] > 0
    # the other subjects of the same schools in 2023 are untouched
    for (school, procedure, year), row in after.items():
        if school in corrected and year == 2023 and procedure != "OGE_MA":
            assert row == before[(school, procedure, year)]


def test_results_whose_code_the_crosswalk_gives_a_night_later_give_identical_marts(
    region: Path, baseline: dict, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """The exam system's codes of two schools reach the crosswalk a night after the results that
    use them (ingestion.release): the first night quarantines those rows (unknown_school), the
    second loads them, and the marts are those of one run over every file."""
    import shutil

    from ingestion.loader import ingest_all
    from ingestion.warehouse import connect

    home = tmp_path_factory.mktemp("code_later")
    landing = home / "landing"
    shutil.copytree(region, landing)
    crosswalk = read_delivered_csv(landing / "school_codes.csv")
    used = set()
    for path in landing.rglob("gia_results_*.csv"):
        used |= set(read_delivered_csv(path)["Код ОО"])
    exam_codes = crosswalk[crosswalk["Код в системе"].isin(used) & (crosswalk["Система"] == "РЦОИ")]
    withheld = sorted(exam_codes["Код в системе"])[:2]
    assert len(withheld) == 2
    full = (landing / "school_codes.csv").read_bytes()
    crosswalk[~crosswalk["Код в системе"].isin(withheld)].to_csv(
        landing / "school_codes.csv", sep=";", index=False, encoding="utf-8"
    )
    settings = _settings(home, landing)
    settings.ensure_dirs()
    with connect(settings.candidate_db) as con:
        _, first = ingest_all(con, settings, run_id="night-1")
        waiting = con.execute(
            "select count(*), count(distinct value) from raw._quarantine "
            "where reason_code = 'unknown_school'"
        ).fetchone()
        assert waiting[0] > 0 and waiting[1] == 2, waiting
        assert sum(r.rows_quarantined for r in first) == waiting[0]
        # the next night: the full crosswalk, under another name
        (landing / "school_codes_полный.csv").write_bytes(full)
        _, second = ingest_all(con, settings, run_id="night-2")
        released = [release for r in second for release in r.released]
        assert {r.source for r in released} == {"gia_results"}
        assert sum(r.rows_released for r in released) == waiting[0]
    build_models(settings.candidate_db, home / "dbt")
    got = _marts(settings.candidate_db)
    for table in sorted(PUBLIC_MARTS):
        assert got[table] == baseline[table], f"marts.{table} differs: " + _difference(
            got[table], baseline[table]
        )


def _under_other_codes(landing: Path, other: dict[str, str]) -> None:
    """Every social passport, resource survey and risk questionnaire of ``landing`` rewritten with
    each school's other code (``other``: registry code -> its code in another system), as CSV."""
    from python_calamine import CalamineWorkbook

    for path in sorted(landing.rglob("social_passport_*.xlsx")):
        workbook = CalamineWorkbook.from_path(str(path))
        rows = workbook.get_sheet_by_name(workbook.sheet_names[0]).to_python()
        at = next(i for i, row in enumerate(rows) if "Код ОО" in [str(c) for c in row])
        frame = pd.DataFrame(rows[at + 1 :], columns=[str(c) for c in rows[at]])
        frame["Код ОО"] = frame["Код ОО"].map(lambda code: other.get(code, code))
        frame.to_csv(path.with_suffix(".csv"), sep=";", index=False, encoding="utf-8")
        path.unlink()
    for pattern in ("resource_survey_*.csv", "risk_questionnaire_*.csv"):
        for path in sorted(landing.rglob(pattern)):
            text = path.read_bytes().decode("utf-8-sig", errors="replace").splitlines()[0]
            sep = "," if ";" not in text else ";"  # the risk questionnaire comes with commas
            frame = read_delivered_csv(path, sep=sep)
            frame["Код ОО"] = frame["Код ОО"].map(lambda code: other.get(code, code))
            frame.to_csv(path, sep=";", index=False, encoding="utf-8")


def _resource_correction(landing: Path, school: str, codes: set[str]) -> None:
    """A later resource survey 2023 of ``school`` (its row found by any of ``codes``) under the
    registry's code: 40 more teachers, no vacancy."""
    import os

    survey = read_delivered_csv(next(landing.rglob("resource_survey_2023.csv")))
    row = survey[survey["Код ОО"].isin(codes)].copy()
    assert len(row) == 1
    row["Код ОО"] = school
    row["Всего педагогов"] = (row["Всего педагогов"].astype(int) + 40).astype(str)
    row["Вакансии"] = "0"
    path = landing / "resource_survey" / "resource_survey_2023_исправление.csv"
    row.to_csv(path, sep=";", index=False, encoding="utf-8")
    os.utime(path, (1_900_000_000, 1_900_000_000))  # delivered last


def test_school_level_files_under_another_systems_codes_give_identical_marts(
    region: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Social passports, resource surveys and risk questionnaires sent under the schools' ОКПО codes
    (the crosswalk has them, so the loader accepts them) give the marts of the same files under the
    registry's codes: no school appears twice in the ИСБШ, the deficits or the risk profiles. And a
    correction sent under the registry's code replaces what the ОКПО-coded file said."""
    import shutil

    crosswalk = read_delivered_csv(region / "school_codes.csv")
    okpo = crosswalk[crosswalk["Система"] == "ОКПО"]
    other = dict(zip(okpo["Код ОО"], okpo["Код в системе"]))
    assert len(other) >= 20
    school = sorted(other)[3]

    homes = {}
    for shape in ("registry_codes", "other_codes"):
        home = tmp_path_factory.mktemp(shape)
        shutil.copytree(region, home / "landing")
        if shape == "other_codes":
            _under_other_codes(home / "landing", other)
            assert other[school] in (home / "landing").joinpath(
                "resource_survey", "resource_survey_2023.csv"
            ).read_text(encoding="utf-8")
        _resource_correction(home / "landing", school, {school, other[school]})
        shuffle_times(home / "landing", seed=5)
        homes[shape] = _marts(_build(home / "landing", home))
    want, got = homes["registry_codes"], homes["other_codes"]
    for table in sorted(PUBLIC_MARTS):
        assert got[table] == want[table], f"marts.{table} differs: " + _difference(
            got[table], want[table]
        )
