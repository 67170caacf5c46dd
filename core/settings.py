"""Where eduq keeps its files and how it runs, configured by environment variables with the ``EDUQ_``
prefix. Every setting has a safe default so that the demo runs with nothing set.

``load_settings()`` reads the environment once; every stage receives the resulting
:class:`Settings` as an argument (a Dagster resource in orchestration, a plain argument elsewhere),
so nothing reads the environment deep inside a stage or at import time.

=============================== ===========================================================
``EDUQ_HOME``                   root folder (default ``./.eduq``)
``EDUQ_LANDING_DIR``            incoming files (default ``$EDUQ_HOME/landing``)
``EDUQ_WAREHOUSE_DIR``          DuckDB files (default ``$EDUQ_HOME/warehouse``)
``EDUQ_PUBLICATIONS_DIR``       published lists (default ``$EDUQ_HOME/publications``)
``EDUQ_METHODOLOGY_PROFILE``    methodology profile used by dbt (default ``fioko_2025``)
``EDUQ_DBT_FULL_REFRESH``       ``1``: dbt rebuilds incremental models from scratch
                                (``eduq run --full-refresh``)
``EDUQ_TODAY``                  ISO date treated as today (future-year checks; tests and replays)
``EDUQ_DUCKDB_MEMORY_LIMIT``    DuckDB's memory limit for every connection the pipeline opens
                                (e.g. ``2GB``; default: half the machine's memory, at most 2816 MB;
                                beyond it DuckDB spills to the temp directory)
``EDUQ_DUCKDB_THREADS``         DuckDB worker threads (default: the machine's cores)
``EDUQ_DUCKDB_TEMP_DIR``        where DuckDB spills (default ``$EDUQ_WAREHOUSE_DIR/tmp``)
``EDUQ_SCHOOL_CODE_PATTERN``    regular expression a Код ОО must match (default: Latin letters,
                                digits, ``_ . -``)
``EDUQ_DAGSTER_HISTORY``        ``1``: `eduq run` records its runs in DAGSTER_HOME's instance (the
                                Dagster UI lists them); default: in memory (faster), the run's
                                record being its audit folder and log
``EDUQ_PG_URL``                 an existing PostgreSQL server to publish the marts to
                                (``postgresql://user:pw@host:port/db``); unset: the project's own
                                cluster under ``$EDUQ_HOME/postgres`` (``make postgres``)
``EDUQ_PG_PORT``                port of the project's PostgreSQL cluster on 127.0.0.1 (default 5433)
``EDUQ_PG_BI_ROLE``             the read-only role BI tools log in as (default ``eduq_bi``)
``EDUQ_SUPERSET_PORT``          port of Superset on 127.0.0.1 (``make bi-serve``; default 8088)
``EDUQ_DOCS_PORT``              port of the dbt docs on 127.0.0.1 (``eduq docs``; default 8580)
``EDUQ_LANDING_SETTLE_SECONDS`` a landing file modified less than this many seconds ago is left for
                                the next run (still being copied in; default 0: files named
                                ``*.part``, ``*.tmp``, ``*.partial``, ``*.crdownload`` always are)
``EDUQ_LOAD_WORKERS``           files of one source read and checked at once while the previous one is
                                written (default 2; 1: one file after the other)
``EDUQ_LOAD_BATCH_FILES``       at most this many small files of one source with the same layout are
                                checked and written together (default 64; 1: each file alone;
                                ``ingestion/batches.py``)
``EDUQ_LOCK_WAIT_SECONDS``      how long a writer waits for another writer on the same home to finish
                                before it refuses (default 10; ``core/run_lock.py``), and how long a
                                connection waits for a warehouse file another process holds open
                                (``core/duck.py``)
``EDUQ_SMALL_NUMBER_MIN``       small-number protection: a published figure about fewer pupils than
                                this is suppressed (default 5; ``publishing/small_numbers.py``)
=============================== ===========================================================
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from core.errors import EduqError

DEFAULT_PROFILE = "fioko_2025"
DEFAULT_SCHOOL_CODE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$"
# DuckDB reads «2816MB» as 2.8 GB: with Python (dbt, Dagster) and the checks worker beside it a
# country build's whole process tree stays under 4 GB (at «3072MB» it peaked at 4.02-4.12 GB)
MEMORY_LIMIT_CAP_BYTES = 2816 * 1024**2
TRUE_WORDS = ("1", "true", "yes", "on")
DEFAULT_PG_PORT = 5433
DEFAULT_PG_BI_ROLE = "eduq_bi"
DEFAULT_SUPERSET_PORT = 8088
DEFAULT_DOCS_PORT = 8580
DEFAULT_LOCK_WAIT_SECONDS = 10.0
DEFAULT_SMALL_NUMBER_MIN = 5


# dbt builds 4 nodes at once: most of a small node's time is dbt's own Python, which overlaps
# another node's DuckDB query; 25–40% off the build on 2 cores, the same marts (docs/performance.md)
DEFAULT_DBT_THREADS = 4
DEFAULT_LOAD_WORKERS = 2  # files of a source checked at once (EDUQ_LOAD_WORKERS)
DEFAULT_LOAD_BATCH_FILES = 64  # small files of a source loaded together (EDUQ_LOAD_BATCH_FILES)


@dataclass(frozen=True)
class Settings:
    home: Path
    landing_dir: Path
    warehouse_dir: Path
    publications_dir: Path
    methodology_profile: str
    today: dt.date
    full_refresh: bool = False
    duckdb_memory_limit: str = "3GB"
    duckdb_threads: int = 2
    duckdb_temp_dir: Path | None = None
    # dbt nodes built at once (each a DuckDB query on its own cursor); 1 builds them one by one
    dbt_threads: int = DEFAULT_DBT_THREADS
    load_workers: int = DEFAULT_LOAD_WORKERS
    load_batch_files: int = DEFAULT_LOAD_BATCH_FILES
    school_code_pattern: str = DEFAULT_SCHOOL_CODE_PATTERN
    dagster_history: bool = False
    pg_url: str | None = field(default=None, repr=False)  # may hold a password
    pg_port: int = DEFAULT_PG_PORT
    pg_bi_role: str = DEFAULT_PG_BI_ROLE
    superset_port: int = DEFAULT_SUPERSET_PORT
    docs_port: int = DEFAULT_DOCS_PORT
    lock_wait_seconds: float = DEFAULT_LOCK_WAIT_SECONDS
    landing_settle_seconds: float = 0.0
    # publications suppress every figure about a group of 1 .. small_number_min - 1 pupils
    small_number_min: int = DEFAULT_SMALL_NUMBER_MIN

    @property
    def candidate_db(self) -> Path:
        """The warehouse file the pipeline writes (write side of write-audit-publish)."""
        return self.warehouse_dir / "candidate.duckdb"

    @property
    def serving_db(self) -> Path:
        """The audited warehouse file analysts and BI tools open read-only."""
        return self.warehouse_dir / "serving.duckdb"

    @property
    def rejected_dir(self) -> Path:
        return self.landing_dir / "rejected"

    @property
    def archive_dir(self) -> Path:
        return self.home / "archive"

    @property
    def withdrawn_dir(self) -> Path:
        """Archived deliveries withdrawn by `eduq withdraw` (not reloaded by `eduq rebuild`)."""
        return self.home / "withdrawn"

    @property
    def dagster_home(self) -> Path:
        return self.home / "dagster"

    @property
    def spill_dir(self) -> Path:
        return self.duckdb_temp_dir or self.warehouse_dir / "tmp"

    def duckdb_config(self) -> dict[str, str]:
        """DuckDB configuration for every connection the pipeline opens (memory, threads, spilling)."""
        return {
            "memory_limit": self.duckdb_memory_limit,
            "threads": str(self.duckdb_threads),
            "temp_directory": str(self.spill_dir),
        }

    def with_overrides(
        self,
        methodology_profile: str | None = None,
        full_refresh: bool | None = None,
        dagster_history: bool | None = None,
    ) -> Settings:
        """The same settings with what a run chooses (a CLI flag, the Dagster launchpad)."""
        return replace(
            self,
            methodology_profile=methodology_profile or self.methodology_profile,
            full_refresh=self.full_refresh if full_refresh is None else full_refresh,
            dagster_history=self.dagster_history if dagster_history is None else dagster_history,
        )

    @property
    def pg_dir(self) -> Path:
        """The project's own PostgreSQL cluster (``scripts/postgres.sh``): data, log, credentials."""
        return self.home / "postgres"

    @property
    def superset_dir(self) -> Path:
        """Superset's metadata database, configuration secret and admin credentials."""
        return self.home / "superset"

    def writer_lock(self, purpose: str = "this run"):
        """The home's writer lock (``core/run_lock.py``): one writer at a time on this home."""
        from core.run_lock import writer_lock

        return writer_lock(self.home, purpose, self.lock_wait_seconds)

    def ensure_dirs(self) -> None:
        for path in (
            self.landing_dir,
            self.warehouse_dir,
            self.publications_dir,
            self.archive_dir,
            self.spill_dir,
        ):
            path.mkdir(parents=True, exist_ok=True)


def _path(env: Mapping[str, str], name: str, default: Path) -> Path:
    value = env.get(name)
    return Path(value).expanduser().resolve() if value else default.resolve()


def default_memory_limit() -> str:
    """Half the machine's memory, at most 2816 MB (DuckDB spills beyond it)."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        total = 2 * MEMORY_LIMIT_CAP_BYTES
    limit = min(total // 2, MEMORY_LIMIT_CAP_BYTES)
    return f"{max(limit // 1024**2, 256)}MB"


def _port(env: Mapping[str, str], name: str, default: int) -> int:
    value = env.get(name, "").strip()
    if not value:
        return default
    if not value.isdigit() or not 0 < int(value) < 65536:
        raise SettingsError(f"{name}={value!r} is not a TCP port (a number from 1 to 65535)")
    return int(value)


class SettingsError(EduqError, ValueError):
    """An EDUQ_* variable has a value that cannot be used (the message names it)."""


def _number(
    env: Mapping[str, str], name: str, kind: type[int | float], default: float, what: str
) -> float:
    """The number setting ``name`` of ``env`` (``default`` when unset or blank); a value that is
    not ``what`` is one clear line."""
    text = env.get(name, "").strip()
    try:
        return kind(text) if text else default
    except ValueError as exc:
        raise SettingsError(f"{name}={text!r} is not {what}") from exc


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Settings from ``env`` (default: the process environment), read once."""
    env = os.environ if env is None else env
    home = _path(env, "EDUQ_HOME", Path.cwd() / ".eduq")
    today_text = env.get("EDUQ_TODAY")
    try:
        today = dt.date.fromisoformat(today_text) if today_text else dt.date.today()
    except ValueError as exc:
        raise SettingsError(f"EDUQ_TODAY={today_text!r} is not a date like 2025-11-01") from exc
    threads = _number(env, "EDUQ_DUCKDB_THREADS", int, os.cpu_count() or 2, "a whole number")
    temp_dir = env.get("EDUQ_DUCKDB_TEMP_DIR")
    dbt_threads = _number(env, "EDUQ_DBT_THREADS", int, DEFAULT_DBT_THREADS, "a whole number")
    load_workers = _number(env, "EDUQ_LOAD_WORKERS", int, DEFAULT_LOAD_WORKERS, "a whole number")
    batch_files = _number(
        env, "EDUQ_LOAD_BATCH_FILES", int, DEFAULT_LOAD_BATCH_FILES, "a whole number"
    )
    settle = _number(env, "EDUQ_LANDING_SETTLE_SECONDS", float, 0.0, "a number of seconds")
    lock_wait = _number(
        env, "EDUQ_LOCK_WAIT_SECONDS", float, DEFAULT_LOCK_WAIT_SECONDS, "a number of seconds"
    )
    small_text = env.get("EDUQ_SMALL_NUMBER_MIN", "").strip()
    if small_text and (not small_text.isdigit() or int(small_text) < 1):
        raise SettingsError(
            f"EDUQ_SMALL_NUMBER_MIN={small_text!r} is not a whole number of pupils from 1 up "
            f"(default {DEFAULT_SMALL_NUMBER_MIN}: figures about fewer than 5 pupils are not published)"
        )

    return Settings(
        home=home,
        landing_dir=_path(env, "EDUQ_LANDING_DIR", home / "landing"),
        warehouse_dir=_path(env, "EDUQ_WAREHOUSE_DIR", home / "warehouse"),
        publications_dir=_path(env, "EDUQ_PUBLICATIONS_DIR", home / "publications"),
        methodology_profile=env.get("EDUQ_METHODOLOGY_PROFILE") or DEFAULT_PROFILE,
        today=today,
        full_refresh=env.get("EDUQ_DBT_FULL_REFRESH", "").strip().lower() in TRUE_WORDS,
        duckdb_memory_limit=env.get("EDUQ_DUCKDB_MEMORY_LIMIT") or default_memory_limit(),
        duckdb_threads=max(threads, 1),
        duckdb_temp_dir=Path(temp_dir).expanduser().resolve() if temp_dir else None,
        dbt_threads=max(dbt_threads, 1),
        load_workers=max(load_workers, 1),
        load_batch_files=max(batch_files, 1),
        school_code_pattern=env.get("EDUQ_SCHOOL_CODE_PATTERN") or DEFAULT_SCHOOL_CODE_PATTERN,
        dagster_history=env.get("EDUQ_DAGSTER_HISTORY", "").strip().lower() in TRUE_WORDS,
        pg_url=env.get("EDUQ_PG_URL") or None,
        pg_port=_port(env, "EDUQ_PG_PORT", DEFAULT_PG_PORT),
        pg_bi_role=env.get("EDUQ_PG_BI_ROLE") or DEFAULT_PG_BI_ROLE,
        superset_port=_port(env, "EDUQ_SUPERSET_PORT", DEFAULT_SUPERSET_PORT),
        docs_port=_port(env, "EDUQ_DOCS_PORT", DEFAULT_DOCS_PORT),
        lock_wait_seconds=max(lock_wait, 0.0),
        landing_settle_seconds=max(settle, 0.0),
        small_number_min=int(small_text) if small_text else DEFAULT_SMALL_NUMBER_MIN,
    )
