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

import dagster as dg
import duckdb
import pytest

from ingestion.settings import Settings, load_settings
from tests.integration import expected

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
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file() and p.name != ".lock"}


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
        return dict(con.execute("select school_id, fioko_cluster from marts.fct_shnor_list "
                                "where list_year = ? and is_shnor order by 1", [list_year]).fetchall())


def registry_row(settings: Settings, year: int) -> dict[str, object]:
    """A school of the registry of ``year`` that has results (to copy its municipality)."""
    with duckdb.connect(str(settings.serving_db), read_only=True) as con:
        row = con.execute(
            """select school_id, municipality_code, municipality_name, locality from marts.dim_school
               where year = ? and school_id in (select school_id from marts.fct_procedure_results where year = ?)
               order by school_id limit 1""", [year, year]).fetchone()
    return dict(zip(("school_id", "municipality_code", "municipality_name", "locality"), row))


def correct_results(landing_copy: Path, target: Path, year: int, outcome_by_school: dict[str, str]) -> list[Path]:
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
            frame = frame[frame["Код ОО"].map(lambda c: school_of.get(c, c)).isin(outcome_by_school)]
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
    """Schools with at least two counted, informative procedures from per-student results every year."""
    with duckdb.connect(str(settings.serving_db), read_only=True) as con:
        rows = con.execute(
            f"""select school_id from marts.fct_procedure_results
                where year in ({', '.join(map(str, years))}) and counts_for_list and is_informative
                group by school_id
                having count(distinct year) = {len(years)}
                   and bool_and(result_source = 'student_results')
                   and min(participants) >= 5
                   and count(*) >= {2 * len(years)}""").fetchall()
    return {r[0] for r in rows}


def new_instance() -> dg.DagsterInstance:
    return dg.DagsterInstance.ephemeral()
