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
from tests.dbt_inprocess import build_models, seeded_warehouse
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
    seeded_warehouse(settings.candidate_db)
    with connect(settings.candidate_db) as con:
        survey, reports = ingest_all(con, settings, run_id="shape")
    assert not survey.by_status("rejected"), survey.by_status("rejected")
    assert all(not r.rows_quarantined for r in reports)
    build_models(settings.candidate_db, home / "dbt", seeds=False)
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


def _assert_same_marts(
    got: dict[str, list[tuple]], want: dict[str, list[tuple]], label: str = ""
) -> None:
    """Every public mart holds the same rows; else the first that differs, and how."""
    for table in sorted(PUBLIC_MARTS):
        assert got[table] == want[table], f"{label}marts.{table} differs: " + _difference(
            got[table], want[table]
        )


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
    _assert_same_marts(_marts(_build(home / "landing", home)), baseline, f"{shape}: ")


def test_a_registry_with_its_municipality_codes_as_numbers_gives_identical_marts(
    region: Path, baseline: dict, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """The 2023 registry saved from a spreadsheet whose «Код МО» column was a number (3 for «03»):
    each municipality stays one, with its ИСБШ quartiles and risk-zone lists as before."""
    import shutil

    import openpyxl

    home = tmp_path_factory.mktemp("numeric_municipality")
    landing = home / "landing"
    shutil.copytree(region, landing)
    (path,) = landing.rglob("schools_2023.xlsx")
    workbook = openpyxl.load_workbook(path)
    sheet = workbook.active
    header = next(row for row in sheet.iter_rows() if "Код МО" in [c.value for c in row])
    column = [c.value for c in header].index("Код МО")
    changed = 0
    for row in sheet.iter_rows(min_row=header[0].row + 1):
        code = row[column].value
        if isinstance(code, str) and code.isdigit() and code.startswith("0"):
            row[column].value = int(code)
            changed += 1
    assert changed > 0, "the registry has codes with leading zeros"
    workbook.save(path)
    _assert_same_marts(_marts(_build(landing, home)), baseline)


def test_files_withdrawn_after_a_build_leave_the_marts_of_the_facts_alone(
    region: Path, baseline: dict, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Two files that should not count, loaded and built: last year's registry under next year's
    name (a year of its own) and a wrong ВПР 2023 «correction» of three schools (it replaced their
    rows). Withdrawn (`eduq withdraw`), the next build of the same warehouse gives the marts of the
    facts alone: the year vanishes, the replaced deliveries count again."""
    import os
    import shutil

    from ingestion.withdraw import withdraw

    home = tmp_path_factory.mktemp("withdrawn")
    landing = home / "landing"
    shutil.copytree(region, landing)
    (registry,) = landing.rglob("schools_2023.xlsx")
    shutil.copy2(registry, registry.with_name("schools_2024.xlsx"))
    (vpr,) = landing.rglob("vpr_results_2023.csv")
    results = read_delivered_csv(vpr)
    schools = sorted(results["Код ОО"].unique())[:3]
    wrong = results[results["Код ОО"].isin(schools)].copy()
    wrong["Отметка"] = wrong["Отметка"].map(lambda m: "2" if m else m)
    correction = vpr.with_name("vpr_results_2023_исправление.csv")
    wrong.to_csv(correction, sep=";", index=False, encoding="utf-8")
    os.utime(correction, (1_900_000_000, 1_900_000_000))  # delivered last
    db = _build(landing, home)
    before = _marts(db)
    assert before["dim_school"] != baseline["dim_school"], "the registry brought a year"
    assert before["fct_procedure_results"] != baseline["fct_procedure_results"]
    settings = _settings(home, landing)
    for name in ("schools_2024.xlsx", correction.name):
        withdrawal = withdraw(settings, name, reason="не тот файл")
        assert withdrawal.rows_removed > 0 and withdrawal.archived_to.exists()
    build_models(db, home / "dbt", seeds=False)  # the same warehouse again: incremental models too
    _assert_same_marts(_marts(db), baseline)


def test_a_first_year_without_one_subjects_file_holds_its_list_until_the_file_comes(
    region: Path, baseline: dict, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """The region's first year (2022) arrives without its ВПР Математика 5 rows (one subject's file
    not sent), every other file as usual. No year before tells it «vanished», and ВПР itself came:
    the list 2024, whose persistence rule reads 2022, is computed but not publishable, naming the
    procedure. The file delivered later gives the marts of one run."""
    import os
    import shutil

    home = tmp_path_factory.mktemp("first_year_without_a_subject")
    landing = home / "landing"
    shutil.copytree(region, landing)
    (vpr,) = landing.rglob("vpr_results_2022.csv")
    results = read_delivered_csv(vpr)
    lost = (results["Предмет"] == "Математика") & (results["Класс"] == "5")
    assert lost.any() and not lost.all()
    results[~lost].to_csv(vpr, sep=";", index=False, encoding="utf-8")
    db = _build(landing, home)
    query = """select is_computable, is_publishable, incomplete_reason_ru
               from marts.dim_list_year where list_year = 2024"""
    with duckdb.connect(str(db), read_only=True) as con:
        computable, publishable, reason = con.execute(query).fetchone()
    assert computable and not publishable
    assert "ВПР Математика, 5 класс: ни одного результата в регионе за 2022 год" in reason, reason
    late = vpr.with_name("vpr_results_2022_математика_5.csv")
    results[lost].to_csv(late, sep=";", index=False, encoding="utf-8")
    os.utime(late, (1_900_000_000, 1_900_000_000))
    _ingest(_settings(home, landing), "late")
    build_models(db, home / "dbt", seeds=False)
    _assert_same_marts(_marts(db), baseline)
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute(query).fetchone()[:2] == (True, True)


def test_sources_of_one_row_per_item_delivered_in_parts_give_the_marts_of_one_delivery(
    region: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Files that carry one row per school and item add up like the results' subjects: the risk
    questionnaire sent in two sections (factors 1–5, then 6–10) on two nights, the programmes'
    targets one file per indicator, and support programmes one file per programme with a school in
    two of them. Against one delivery of the same facts, every public mart is the same."""
    import os
    import shutil

    home = tmp_path_factory.mktemp("items_oracle")
    oracle = home / "landing"
    shutil.copytree(region, oracle)
    programmes = read_delivered_csv(oracle / "support_programmes.csv")
    first = programmes.iloc[0]
    other = next(p for p in programmes["Программа"].unique() if p != first["Программа"])
    programmes.loc[len(programmes)] = [first["Код ОО"], other, first["Год"]]  # in both
    programmes.to_csv(oracle / "support_programmes.csv", sep=";", index=False, encoding="utf-8")
    want = _marts(_build(oracle, home))
    assert len(set(programmes["Программа"])) > 1

    home = tmp_path_factory.mktemp("items_in_parts")
    landing = home / "landing"
    shutil.copytree(region, landing)  # (the oracle's landing folder was loaded: archived)
    (landing / "support_programmes.csv").unlink()
    for number, (name, rows) in enumerate(programmes.groupby("Программа")):
        rows.to_csv(landing / f"support_programmes_{number}.csv", sep=";", index=False)
    targets = read_delivered_csv(landing / "programme_targets.csv")
    (landing / "programme_targets.csv").unlink()
    for number, (_, rows) in enumerate(targets.groupby("Показатель")):
        rows.to_csv(landing / f"programme_targets_{number}.csv", sep=";", index=False)
    assert targets["Показатель"].nunique() > 1
    later = home / "later"
    for path in sorted(landing.rglob("risk_questionnaire_*.csv")):
        answers = read_delivered_csv(path, sep=",")
        second = answers["Код вопроса"].str[1:3].astype(int) > 5
        assert second.any() and not second.all()
        answers[~second].to_csv(path, sep=";", index=False)
        (later / path.relative_to(landing)).parent.mkdir(parents=True, exist_ok=True)
        answers[second].to_csv(later / path.relative_to(landing), sep=";", index=False)
    db = _build(landing, home)  # the first sections
    for path in later.rglob("*.csv"):
        target = landing / path.relative_to(later)
        shutil.move(path, target.with_name(target.stem + "_раздел_2.csv"))
        os.utime(target.with_name(target.stem + "_раздел_2.csv"), (1_900_000_000,) * 2)
    _ingest(_settings(home, landing), "second_sections")
    build_models(db, home / "dbt", seeds=False)
    _assert_same_marts(_marts(db), want)


def test_a_survey_correction_of_some_columns_changes_only_those(
    region: Path, baseline: dict, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """A correction of the 2023 social passport and resource survey that re-sends a few columns of
    three schools (Год, Код ОО, the required ones and the corrected value) gives the marts of the corrected facts
    delivered whole: the schools' other columns stay as delivered (they were erased, and those
    schools lost their ИСБШ and the rules that read them)."""
    import os
    import shutil

    import openpyxl

    def corrected(value: str) -> str:
        return str(int(float(value.replace(",", "."))) + 7)

    home = tmp_path_factory.mktemp("survey_oracle")
    oracle = home / "landing"
    shutil.copytree(region, oracle)
    (survey_path,) = oracle.rglob("resource_survey_2023.csv")
    survey = read_delivered_csv(survey_path)
    schools = list(survey["Код ОО"][:3])
    fix = survey[survey["Код ОО"].isin(schools)][["Год", "Код ОО", "Вакансии"]].copy()
    fix["Вакансии"] = fix["Вакансии"].map(corrected)
    survey.loc[survey["Код ОО"].isin(schools), "Вакансии"] = list(fix["Вакансии"])
    survey.to_csv(survey_path, sep=";", index=False, encoding="utf-8")
    (passport_path,) = oracle.rglob("social_passport_2023.xlsx")
    workbook = openpyxl.load_workbook(passport_path)
    sheet = workbook.active
    header = next(r for r in sheet.iter_rows() if "Код ОО" in [c.value for c in r])
    names = [c.value for c in header]
    low_income = names.index("Из малообеспеченных семей")
    passport_fix = []
    for row in sheet.iter_rows(min_row=header[0].row + 1):
        if row[names.index("Код ОО")].value in schools:
            row[low_income].value = int(corrected(str(row[low_income].value)))
            total = row[names.index("Всего обучающихся")].value  # required: re-sent as it was
            passport_fix.append([row[0].value, row[1].value, total, row[low_income].value])
    workbook.save(passport_path)
    assert len(passport_fix) == len(schools) == len(fix)
    want = _marts(_build(oracle, home))

    home = tmp_path_factory.mktemp("survey_columns_corrected")
    landing = home / "landing"
    shutil.copytree(region, landing)
    corrections = [
        landing / "resource_survey" / "resource_survey_2023_исправление.csv",
        landing / "social_passport" / "social_passport_2023_исправление.csv",
    ]
    fix.to_csv(corrections[0], sep=";", index=False, encoding="utf-8")
    pd.DataFrame(
        passport_fix, columns=["Год", "Код ОО", "Всего обучающихся", "Из малообеспеченных семей"]
    ).to_csv(corrections[1], sep=";", index=False, encoding="utf-8")
    for path in corrections:
        os.utime(path, (1_900_000_000, 1_900_000_000))  # delivered last
    got = _marts(_build(landing, home))
    for changed in ("fct_isbsh", "fct_resource_deficits"):  # the correction counts
        assert got[changed] != baseline[changed], changed
    _assert_same_marts(got, want)


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


def _ingest(settings: Settings, run_id: str) -> list:
    from ingestion.loader import ingest_all
    from ingestion.warehouse import connect

    with connect(settings.candidate_db) as con:
        survey, reports = ingest_all(con, settings, run_id=run_id)
    assert not survey.by_status("rejected"), survey.by_status("rejected")
    return reports


def test_the_same_facts_over_three_nights_under_other_codes_give_the_marts_of_one_run(
    region: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Three nights against one run over the same facts under the registry's codes:

    - the exam system's codes of two schools reach the crosswalk two nights after the results that
      use them (ingestion.release): the first night quarantines those rows (unknown_school), the
      third loads them. One school's file also names it by its registry code in half of its rows
      (they load the first night: with the released half they are one delivery), and the other
      school's ОГЭ mathematics is corrected the second night under its registry code (the released
      rows of the earlier file must not replace it);
    - the social passports, resource surveys and risk questionnaires come under the schools' ОКПО
      codes (the crosswalk has them, so the loader accepts them: no school may appear twice in the
      ИСБШ, the deficits or the risk profiles), and a resource survey corrected the second night
      under the registry's code replaces what the ОКПО-coded file said."""
    import os
    import shutil

    crosswalk = read_delivered_csv(region / "school_codes.csv")
    gia_path = next(region.rglob("gia_results_2023.csv"))
    gia = read_delivered_csv(gia_path)
    exam_codes = crosswalk[crosswalk["Код в системе"].isin(set(gia["Код ОО"]))]
    exam_codes = exam_codes[exam_codes["Система"] == "РЦОИ"].sort_values("Код в системе")
    (split_code, split_school), (corrected_code, corrected_school) = [
        tuple(r) for r in exam_codes[["Код в системе", "Код ОО"]].head(2).to_numpy()
    ]
    # half of one school's rows under its registry code: the same file, the same partitions
    halves = gia.index[gia["Код ОО"] == split_code][::2]
    gia.loc[halves, "Код ОО"] = split_school
    oge_ma = gia[
        (gia["Код ОО"] == corrected_code)
        & (gia["Экзамен"] == "ОГЭ")
        & (gia["Предмет"] == "Математика")
    ].copy()
    assert len(halves) > 0 and len(oge_ma) > 0
    oge_ma["Код ОО"] = corrected_school
    oge_ma["Отметка"] = oge_ma["Отметка"].map(lambda m: "2" if m else m)
    withheld = crosswalk[~crosswalk["Код в системе"].isin([split_code, corrected_code])]

    def deliver(landing: Path, nights: list[list[tuple[str, object]]]) -> None:
        """Files in delivery order: a modification time per file, later for each."""
        moment = 1_800_000_000
        for night in nights:
            for name, frame in night:
                path = landing / name
                path.parent.mkdir(parents=True, exist_ok=True)
                if isinstance(frame, Path):
                    shutil.copyfile(frame, path)
                else:
                    frame.to_csv(path, sep=";", index=False, encoding="utf-8")
                os.utime(path, (moment, moment))
                moment += 60

    others = [
        (p.relative_to(region).as_posix(), p)
        for p in sorted(region.rglob("*"))
        if p.is_file() and p.name not in ("school_codes.csv", gia_path.name)
    ]
    nights = [
        [("school_codes.csv", withheld), (f"gia/{gia_path.name}", gia), *others],
        [("gia/gia_results_2023_исправление.csv", oge_ma)],
        [("school_codes_полный.csv", crosswalk)],
    ]

    okpo = crosswalk[crosswalk["Система"] == "ОКПО"]
    other = dict(zip(okpo["Код ОО"], okpo["Код в системе"]))
    assert len(other) >= 20
    surveyed = sorted(other)[3]

    home = tmp_path_factory.mktemp("code_later")
    settings = _settings(home, home / "landing")
    settings.ensure_dirs()
    seeded_warehouse(settings.candidate_db)
    for n, night in enumerate(nights, 1):
        deliver(home / "landing", [night])
        if n == 1:
            _under_other_codes(home / "landing", other)
        if n == 2:
            _resource_correction(region, home / "landing", surveyed)
        reports = _ingest(settings, f"night-{n}")
        released = [release for r in reports for release in r.released]
        if n == 1:
            waiting = sum(r.rows_quarantined for r in reports)
            assert waiting > 0
        if n == 3:
            assert {(r.source, r.rows_still_quarantined) for r in released} == {("gia_results", 0)}
            assert sum(r.rows_released for r in released) == waiting
    build_models(settings.candidate_db, home / "dbt", seeds=False)

    fresh = tmp_path_factory.mktemp("code_known")
    fresh_settings = _settings(fresh, fresh / "landing")
    fresh_settings.ensure_dirs()
    seeded_warehouse(fresh_settings.candidate_db)
    deliver(fresh / "landing", nights)
    _resource_correction(region, fresh / "landing", surveyed)
    assert all(not r.rows_quarantined for r in _ingest(fresh_settings, "at-once"))
    build_models(fresh_settings.candidate_db, fresh / "dbt", seeds=False)

    got, want = _marts(settings.candidate_db), _marts(fresh_settings.candidate_db)
    _assert_same_marts(got, want)
    with duckdb.connect(str(settings.candidate_db), read_only=True) as con:
        corrected = con.execute(
            "select participants, failing from marts.fct_procedure_results "
            "where school_id = ? and procedure_code = 'OGE_MA' and year = 2023",
            [corrected_school],
        ).fetchall()
    assert corrected and corrected[0][0] == corrected[0][1] > 0  # the correction counts


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


def _resource_correction(region: Path, landing: Path, school: str) -> None:
    """A later resource survey 2023 of ``school`` (from the region's file) under the registry's
    code: 40 more teachers, no vacancy."""
    import os

    survey = read_delivered_csv(next(region.rglob("resource_survey_2023.csv")))
    row = survey[survey["Код ОО"] == school].copy()
    assert len(row) == 1
    row["Код ОО"] = school
    row["Всего педагогов"] = (row["Всего педагогов"].astype(int) + 40).astype(str)
    row["Вакансии"] = "0"
    path = landing / "resource_survey" / "resource_survey_2023_исправление.csv"
    row.to_csv(path, sep=";", index=False, encoding="utf-8")
    os.utime(path, (1_900_000_000, 1_900_000_000))  # delivered last
