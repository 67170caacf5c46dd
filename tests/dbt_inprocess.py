"""dbt models built in this process (dbtRunner with a manifest parsed once per session): the
fastest way for a test to turn raw tables into marts without Dagster."""

from __future__ import annotations

import atexit
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path

from core.environ import temporary_environment
from orchestration.dbt_project import DBT_PROJECT_DIR, LOGGERS_OFF

os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "False")
os.environ.setdefault("DO_NOT_TRACK", "1")


def project_args(work: Path) -> list[str]:
    """dbt's arguments naming the project, and its target and logs folders under ``work``."""
    return [
        "--project-dir",
        str(DBT_PROJECT_DIR),
        "--profiles-dir",
        str(DBT_PROJECT_DIR),
        "--target-path",
        str(work / "target"),
        "--log-path",
        str(work / "logs"),
    ]


def quiet_args(work: Path) -> list[str]:
    """:func:`project_args` with dbt's loggers off, as the product's build (orchestration/
    dbt_project.py LOGGERS_OFF: each logger formats a line for every event before its level drops
    it, ~10% of a build of the whole project); a failure is in the invocation's result."""
    return [*project_args(work), *LOGGERS_OFF]


def _events(work: Path):
    """dbt's warnings and errors in ``work``/logs/dbt.log, its errors printed (captured by pytest),
    as the product's build keeps them (orchestration.dbt_project.EventLog)."""
    from orchestration.dbt_project import EventLog

    return EventLog(work / "logs" / "dbt.log")


def _args(work: Path) -> list[str]:
    return [*quiet_args(work), "--no-write-json"]  # the callers read the warehouse, not target/


def parsed_manifest():
    """The project parsed as the product parses it (orchestration.dbt_project.manifest_object: once
    per project state, pickled for the next processes, so that the test workers and the pipelines
    they run share one parse). As in the product, the parse names no methodology profile: a build
    gives it with ``--vars``."""
    from orchestration.dbt_events import fast_event_messages
    from orchestration.dbt_project import manifest_object

    fast_event_messages()  # as the product's build and parse (every dbt invocation takes this)
    return manifest_object()


@contextmanager
def on_database(db: Path, unset: tuple[str, ...] = ()) -> Iterator[None]:
    """dbt invoked in this process inside the block works on ``db`` (with the environment variables
    ``unset`` unset); its connections are closed and the environment restored after it."""
    with temporary_environment({"EDUQ_DBT_DB_PATH": str(db)}, unset=unset):
        try:
            yield
        finally:
            release_connections()


def build_models(db: Path, work: Path, profile: str = "fioko_2025", seeds: bool = True) -> None:
    """Seeds (unless ``seeds`` is False: :func:`seeded_warehouse` copied them in) and every model of
    the project into ``db`` (no tests: the caller compares marts)."""
    from dbt.cli.main import dbtRunner

    work.mkdir(parents=True, exist_ok=True)
    manifest = parsed_manifest()
    with on_database(db):
        for command in ("seed", "run") if seeds else ("run",):
            result = dbtRunner(manifest=manifest, callbacks=[_events(work)]).invoke(
                [command, *_args(work), "--vars", json.dumps({"methodology_profile": profile})]
            )
            assert result.success, f"dbt {command} failed: {result.exception or result.result}"


@cache
def _seeded_template() -> Path:
    folder = Path(tempfile.mkdtemp(prefix="eduq_seeded_"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    db = folder / "candidate.duckdb"  # the catalog the parsed project names
    from dbt.cli.main import dbtRunner

    from ingestion.warehouse import connect, ensure_raw_schema

    with connect(db) as con:
        ensure_raw_schema(con)
    with on_database(db):
        result = dbtRunner(manifest=parsed_manifest(), callbacks=[_events(folder)]).invoke(
            ["seed", *_args(folder)]
        )
    assert result.success, f"dbt seed failed: {result.exception or result.result}"
    return db


def seeded_warehouse(db: Path) -> None:
    """``db`` as a new warehouse with the raw schema and the seeds loaded, copied from one built once
    per process (dbt seed costs ~1 s a build; a test that builds many warehouses pays it once):
    then ``build_models(..., seeds=False)``."""
    db.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(_seeded_template(), db)


def release_connections() -> None:
    """Close the DuckDB connections dbt keeps in this process after an invocation (dbt-duckdb holds
    the database open for reuse; a later ``duckdb.connect`` of the same file would get that instance)."""
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager
    from dbt.adapters.factory import reset_adapters

    reset_adapters()
    # dbt-duckdb keeps its environment (and the DuckDB connection) at class level between runs
    environment = DuckDBConnectionManager._ENV
    if environment is not None:
        environment.close()
    DuckDBConnectionManager.close_all_connections()
