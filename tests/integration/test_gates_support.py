"""Helpers of the gate, publication and concurrent-reader tests (no tests here).

Every destructive test works on its own copy of the session's built region (``small_region`` of
conftest.py): copying a few megabytes is much cheaper than building a region again.
"""

from __future__ import annotations

import csv
import hashlib
import os
import shutil
import time
from pathlib import Path
from types import SimpleNamespace

import dagster as dg
import duckdb
import pytest

from core.settings import Settings, load_settings
from tests.integration import expected
from tests.looping_process import LoopingScript

os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "False")
os.environ.setdefault("DO_NOT_TRACK", "1")


def copy_home(source: Settings, target: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """A copy of a built region's EDUQ_HOME (without its Dagster home), made the current one."""
    shutil.copytree(source.home, target, ignore=shutil.ignore_patterns("dagster", "logs", ".lock"))
    monkeypatch.setenv("EDUQ_HOME", str(target))
    return load_settings()


def snapshot(folder: Path) -> dict[str, str]:
    """relative path -> SHA-256 of every file under ``folder`` (empty if it does not exist)."""
    if not folder.exists():
        return {}
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != ".lock"
    }


def settle(path: Path) -> None:
    """Age a delivered file past the landing sensor's settle time."""
    old = time.time() - 3600
    os.utime(path, (old, old))


def write_csv(path: Path, header: list[str], rows: list[list[object]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, delimiter=";")
        writer.writerow(header)
        writer.writerows(rows)
    settle(path)
    return path


def serving_build(settings: Settings) -> str:
    with duckdb.connect(str(settings.serving_db), read_only=True) as con:
        return con.execute("select build_id from audit.build").fetchone()[0]


def listed_schools(settings: Settings, list_year: int) -> dict[str, str]:
    """school_id -> fioko_cluster of the list in the serving warehouse."""
    with duckdb.connect(str(settings.serving_db), read_only=True) as con:
        return dict(
            con.execute(
                "select school_id, fioko_cluster from marts.fct_shnor_list "
                "where list_year = ? and is_shnor order by 1",
                [list_year],
            ).fetchall()
        )


def registry_row(settings: Settings, year: int) -> dict[str, object]:
    """A school of the registry of ``year`` that has results (to copy its municipality)."""
    with duckdb.connect(str(settings.serving_db), read_only=True) as con:
        row = con.execute(
            """select school_id, municipality_code, municipality_name, locality from marts.dim_school
               where year = ? and school_id in (select school_id from marts.fct_procedure_results where year = ?)
               order by school_id limit 1""",
            [year, year],
        ).fetchone()
    return dict(zip(("school_id", "municipality_code", "municipality_name", "locality"), row))


def correct_results(
    landing_copy: Path, target: Path, year: int, outcome_by_school: dict[str, str]
) -> list[Path]:
    """Corrected deliveries of the per-student results of ``year`` for some schools: every participant
    passes (``"pass"``) or fails (``"fail"``). The latest delivery wins per source, year and school,
    so these files replace what the original files said for those schools."""
    codes = expected.read_csv(next(landing_copy.rglob("school_codes*.csv")))
    school_of = dict(zip(codes["Код в системе"], codes["Код ОО"]))
    written = []
    for source, (mark_col, score_col, pass_score) in {
        "vpr_results": ("Отметка", "Первичный балл", None),
        "gia_results": ("Отметка", "Тестовый балл", "90"),
    }.items():
        rows, header = [], None
        for path in sorted(landing_copy.rglob(f"{source}_*.csv")):
            frame = expected.read_csv(path)
            frame = frame[frame["Год"].astype(int) == year]
            frame = frame[
                frame["Код ОО"].map(lambda c: school_of.get(c, c)).isin(outcome_by_school)
            ]
            header = list(frame.columns)
            for record in frame.to_dict("records"):
                outcome = outcome_by_school[school_of.get(record["Код ОО"], record["Код ОО"])]
                if record[mark_col] != "":
                    record[mark_col] = "5" if outcome == "pass" else "2"
                if score_col in record and record[score_col] != "" and pass_score is not None:
                    record[score_col] = pass_score if outcome == "pass" else "0"
                rows.append([record[c] for c in header])
        if rows:
            written.append(write_csv(target / f"{source}_{year}_correction.csv", header, rows))
    return written


def informative_students_only(settings: Settings, years: tuple[int, ...]) -> set[str]:
    """Schools whose results of ``years`` all come from per-student files, with at least two counted,
    informative procedures every year, and no reorganisation: their list status follows from their
    per-student rows alone."""
    in_years = ", ".join(map(str, years))
    # the candidate holds raw (the serving file has the public schemas only); both are the same build here
    with duckdb.connect(str(settings.candidate_db), read_only=True) as con:
        rows = con.execute(
            f"""with per_year as (
                    select school_id, year, count(*) filter (where counts_for_list and is_informative) as informative,
                           bool_and(result_source = 'student_results') as students_only
                    from marts.fct_procedure_results where year in ({in_years})
                    group by school_id, year
                )
                select school_id from per_year
                where school_id not in (select old_school_id from raw.school_successors
                                        union select new_school_id from raw.school_successors)
                group by school_id
                having count(*) = {len(years)} and min(informative) >= 2 and bool_and(students_only)
                order by school_id"""
        ).fetchall()
    return {r[0] for r in rows}


def new_instance() -> dg.DagsterInstance:
    return dg.DagsterInstance.ephemeral()


# --- a reader process on the serving warehouse ----------------------------------------------------

READER = r"""
import json, os, sys, time
import duckdb

serving, stop_file, status_file, report_file, reconnect_every = sys.argv[1:6]
reconnect_every = int(reconnect_every)  # 0: one connection held for the whole run


def state(con):
    build = con.execute("select build_id from audit.build").fetchone()[0]
    mismatched = []
    # the audit counted every table of the candidate; the serving file holds its public schemas
    for table, rows in con.execute(
        "select table_name, row_count from audit.table_rows where split_part(table_name, '.', 1) "
        "in (select schema_name from duckdb_schemas() where database_name = current_database())"
    ).fetchall():
        schema, name = table.split(".", 1)
        actual = con.execute(f'select count(*) from "{schema}"."{name}"').fetchone()[0]
        if actual != rows:
            mismatched.append([table, rows, actual])
    con.execute("select count(*) from marts.fct_shnor_list where is_shnor").fetchone()
    return build, mismatched


queries, reconnects, errors, builds, inconsistent = 0, 0, [], [], []
con = None
deadline = time.time() + 600
while time.time() < deadline and not os.path.exists(stop_file):
    try:
        if con is None or (reconnect_every and queries % reconnect_every == 0):
            if con is not None:
                con.close()  # every connection of the process closed: the next one opens the file anew
            con = duckdb.connect(serving, read_only=True)
            reconnects += 1
        build, mismatched = state(con)
        if mismatched:
            inconsistent.append([build, mismatched])
        if not builds or builds[-1] != build:
            builds.append(build)
            with open(status_file + ".tmp", "w") as fh:
                json.dump({"builds": builds}, fh)
            os.replace(status_file + ".tmp", status_file)
    except Exception as exc:  # the test asserts there is none
        errors.append(f"{type(exc).__name__}: {exc}")
        try:
            con.close()
        except Exception:
            pass
        con = None
    queries += 1
    time.sleep(0.1 if reconnect_every else 0.3)  # an analyst's pace; leaves the CPU to the pipeline
with open(report_file, "w") as fh:
    json.dump({"queries": queries, "reconnects": reconnects, "errors": errors, "builds": builds,
               "inconsistent": inconsistent}, fh)
"""


class ReaderProcess(LoopingScript):
    """A separate Python process querying the serving warehouse read-only in a loop, reconnecting
    every few queries (or never), checking each time that every table has the row count its audit
    recorded. (DuckDB shares one database per file within a process: a process sees a new file only
    once all its connections to the old one are closed.)"""

    def __init__(self, serving: Path, folder: Path, reconnect_every: int = 5) -> None:
        super().__init__(READER, folder, [str(serving)], [str(reconnect_every)])

    def builds(self) -> list[str]:
        return (self.status() or {}).get("builds", [])


# --- a delivery that breaks error-level checks --------------------------------------------------------

_RUNS: dict[str, SimpleNamespace] = {}

REGISTRY_HEADER = [
    "Код ОО",
    "Наименование ОО",
    "Код МО",
    "Муниципальное образование",
    "Тип местности",
    "Численность обучающихся",
]


MALFORMED_CODE = "sch76\u041e999"  # a Cyrillic «О» typed for the Latin one


def failed_run(
    small_region, region_documents, tmp_path_factory: pytest.TempPathFactory
) -> SimpleNamespace:
    """Once per session, on a copy of the built region (its report and cards published first, as
    conftest ``region_documents`` does once per process: the copy has them): a delivery breaks two error-level checks and
    leaves a year incomplete. A crosswalk file maps one exam-system code to two schools, the system
    spelled in two cases (it loads, but the dbt test on staging fails), and maps another code to a
    malformed Код ОО with a Cyrillic «О» (the Great Expectations check on the crosswalk fails); a
    registry addition lists a school with students that has no results yet (incomplete: a warning,
    not an error). The landing sensor requests the job; `eduq run`'s runner runs it."""
    if "failed" in _RUNS:
        return _RUNS["failed"]
    from orchestration.definitions import get_definitions

    defs = get_definitions()
    from orchestration.runner import PipelineFailed, run_pipeline

    monkeypatch = pytest.MonkeyPatch()
    try:
        settings = copy_home(
            small_region.settings, tmp_path_factory.mktemp("failed") / "home", monkeypatch
        )
        serving_before = settings.serving_db.read_bytes()
        publications_before = snapshot(settings.publications_dir)
        model = registry_row(settings, 2024)
        new_school = model["school_id"][:-3] + "999"
        write_csv(
            settings.landing_dir / "schools" / "schools_2024_dop.csv",
            REGISTRY_HEADER,
            [
                [
                    new_school,
                    "МБОУ «Новая школа»",
                    model["municipality_code"],
                    model["municipality_name"],
                    "город" if model["locality"] == "urban" else "село",
                    140,
                ]
            ],
        )
        listed = min(listed_schools(settings, 2025))
        write_csv(
            settings.landing_dir / "school_codes_fix.csv",
            ["Система", "Код в системе", "Код ОО"],
            [
                ["РЦОИ", "777001", listed],
                ["рцои", "777001", model["school_id"]],
                ["РЦОИ", "777002", MALFORMED_CODE],
            ],
        )
        instance = new_instance()
        tick = defs.resolve_sensor_def("landing_sensor").evaluate_tick(
            dg.build_sensor_context(instance=instance)
        )
        with pytest.raises(PipelineFailed) as failure:
            run_pipeline(settings, instance=instance, quiet=True)
        run_id = instance.get_runs(filters=dg.RunsFilter(job_name="nightly_load"), limit=1)[
            0
        ].run_id
        _RUNS["failed"] = SimpleNamespace(
            settings=settings,
            instance=instance,
            message=str(failure.value),
            run_requests=tick.run_requests,
            run_id=run_id,
            serving_before=serving_before,
            publications_before=publications_before,
            build_before=serving_build(settings),
            new_school=new_school,
            model=model,
        )
        return _RUNS["failed"]
    finally:
        monkeypatch.undo()


# --- the data corrected and republished as v2, with readers watching ---------------------------------


def correction_run(
    small_region, region_documents, tmp_path_factory: pytest.TempPathFactory
) -> SimpleNamespace:
    """Once per session, on a copy of the failed run's home: the missing results of the new school
    arrive, the crosswalk is corrected, and corrected result files remove one listed school (every
    participant passes in 2024), move another to the severe cluster (every participant fails in 2024)
    and add a third (every participant fails in 2023 and 2024). The whole pipeline runs (load, dbt,
    audit, promote, publish) while two reader processes query the serving warehouse."""
    if "correction" in _RUNS:
        return _RUNS["correction"]
    from orchestration.runner import run_pipeline

    failed = failed_run(small_region, region_documents, tmp_path_factory)
    monkeypatch = pytest.MonkeyPatch()
    try:
        tmp = tmp_path_factory.mktemp("correction")
        settings = copy_home(failed.settings, tmp / "home", monkeypatch)
        v1 = settings.publications_dir / "2025" / "v1"
        v1_files = snapshot(v1)
        listed = listed_schools(settings, 2025)
        eligible = informative_students_only(settings, (2023, 2024))
        removed = min(s for s in eligible if s in listed)
        changed = min(
            s for s in eligible if listed.get(s) in ("basic", "moderate") and s != removed
        )
        added = min(s for s in eligible if s not in listed)
        landing = settings.landing_dir / "corrections"
        files = correct_results(
            small_region.landing_copy,
            landing,
            2024,
            {removed: "pass", changed: "fail", added: "fail"},
        )
        files += correct_results(small_region.landing_copy, landing, 2023, {added: "fail"})
        files.append(
            write_csv(
                landing / "vpr_results_2024_new_school.csv",
                [
                    "Год",
                    "Код ОО",
                    "Класс",
                    "Предмет",
                    "Код участника",
                    "Первичный балл",
                    "Отметка",
                    "Статус",
                ],
                [
                    [2024, failed.new_school, 5, "Математика", f"N{k:03d}", 12, 4, "явка"]
                    for k in range(6)
                ],
            )
        )
        files.append(
            write_csv(
                landing / "school_codes_fix2.csv",
                ["Система", "Код в системе", "Код ОО"],
                [["РЦОИ", "777001", min(listed)], ["РЦОИ", "777002", min(listed)]],
            )
        )
        delivered = {path.name: hashlib.sha256(path.read_bytes()).hexdigest() for path in files}
        build_before = serving_build(settings)
        reader = ReaderProcess(settings.serving_db, tmp / "reader", reconnect_every=5)
        holder = ReaderProcess(settings.serving_db, tmp / "holder", reconnect_every=0)
        for process in (reader, holder):
            assert process.wait_for(lambda builds: builds == [build_before], timeout=60), (
                "a reader did not start"
            )
        started = time.perf_counter()
        summary = run_pipeline(settings, instance=new_instance(), quiet=True)
        seconds = time.perf_counter() - started
        build_after = serving_build(settings)
        saw_new = reader.wait_for(lambda builds: build_after in builds, timeout=30)
        report, held = reader.stop(), holder.stop()
        _RUNS["correction"] = SimpleNamespace(
            settings=settings,
            summary=summary,
            v1_files=v1_files,
            v1=v1,
            removed=removed,
            changed=changed,
            added=added,
            changed_from=listed[changed],
            build_before=build_before,
            build_after=build_after,
            delivered=delivered,
            reader=report,
            holder=held,
            saw_new=saw_new,
            seconds=seconds,
        )
        return _RUNS["correction"]
    finally:
        monkeypatch.undo()


def default_profile_version() -> str:
    """The version of the default methodology profile, read from its seed (not from the warehouse)."""
    seed = Path(__file__).resolve().parents[2] / "seeds" / "methodology_profiles.csv"
    with open(seed, encoding="utf-8") as fh:
        return next(
            row["profile_version"]
            for row in csv.DictReader(fh)
            if row["profile_name"] == "fioko_2025"
        )
