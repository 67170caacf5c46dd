"""DuckDB connections the pipeline opens, with the resources of its settings.

Every DuckDB database the pipeline opens — the warehouse files and the in-memory ones that attach
them (the serving export, the promotion, the publications) — gets ``EDUQ_DUCKDB_MEMORY_LIMIT``,
``EDUQ_DUCKDB_THREADS`` and ``EDUQ_DUCKDB_TEMP_DIR`` (:meth:`core.settings.Settings.duckdb_config`).
The limit is each database's: two open at once (the audit's and the serving export beside it) may
each use it.

One process opens a file with one configuration: DuckDB refuses a second connection to a file that
is open with another («Can't open a connection to same database file with a different
configuration»; no configuration at all is another one). So the pipeline's connections to a
warehouse file go through :func:`connect` with the same settings; the two that differ are dbt's
(profiles.yml adds its checkpoint options; orchestration.dbt_build releases it before the audit
opens the candidate) and `eduq sql`'s (read-only options, in its own process). ``threads`` is for
in-memory databases only (a file's connections share one instance). The spill folder is not made
here: DuckDB makes it when it first spills (the load and the night make it with the warehouse);
a command that writes nothing (`eduq check-files`) leaves no folder behind.

A warehouse file held open by another process (a reader outside eduq's writer lock: an analyst's
DuckDB session on the candidate, `eduq check-files` copying its codes) cannot be opened for writing,
nor read while another process writes it: with settings, :func:`connect` waits for it up to
``EDUQ_LOCK_WAIT_SECONDS`` and then says who holds it (:class:`WarehouseHeld`), instead of DuckDB's
lock error."""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from pathlib import Path

import duckdb

from core.errors import EduqError
from core.settings import Settings

LOCK_CONFLICT = re.compile(r"Could not set lock on file|Conflicting lock is held")
LOCK_HOLDER = re.compile(r"Conflicting lock is held in (.+?\(PID \d+\))")


class WarehouseHeld(EduqError, duckdb.IOException):
    """A warehouse file stayed held open by another process for longer than eduq waits (a DuckDB
    I/O error too: what falls back when a file cannot be read still does)."""


def resources(settings: Settings | None, threads: int | None = None) -> dict[str, str]:
    """DuckDB's configuration for ``settings`` (empty without them: DuckDB's defaults), with
    ``threads`` instead of the settings' when given."""
    config = settings.duckdb_config() if settings is not None else {}
    if threads is not None:
        config["threads"] = str(max(1, threads))
    return config


def connect(
    database: Path | str | None = None,
    settings: Settings | None = None,
    *,
    read_only: bool = False,
    threads: int | None = None,
    config: Mapping[str, str] | None = None,
) -> duckdb.DuckDBPyConnection:
    """A connection to ``database`` (None or ``:memory:``: a new in-memory database) with the
    resources of ``settings`` (or ``config`` as it is, e.g. :func:`resources` with options of its
    own)."""
    in_memory = database is None or str(database) == ":memory:"
    if threads is not None and not in_memory:
        raise ValueError("threads are set for an in-memory database only")
    if config is not None and (settings is not None or threads is not None):
        raise ValueError("give the settings (and threads) or a configuration, not both")
    chosen = dict(config) if config is not None else resources(settings, threads)
    if in_memory:
        return duckdb.connect(":memory:", config=chosen)
    wait = settings.lock_wait_seconds if settings is not None else 0.0
    deadline = time.monotonic() + wait
    pause = 0.05
    while True:
        try:
            return duckdb.connect(str(database), read_only=read_only, config=chosen)
        except duckdb.IOException as exc:
            if not is_lock_conflict(exc):
                raise
            if time.monotonic() >= deadline:
                raise WarehouseHeld(held_message(Path(database), exc, wait, read_only)) from exc
            time.sleep(min(pause, max(deadline - time.monotonic(), 0.0)))
            pause = min(pause * 2, 1.0)


def is_lock_conflict(exc: BaseException) -> bool:
    """Whether ``exc`` is DuckDB's refusal of a file another process holds."""
    return isinstance(exc, duckdb.IOException) and bool(LOCK_CONFLICT.search(str(exc)))


def held_message(path: Path, exc: BaseException, waited: float, read_only: bool) -> str:
    """In words: ``path`` is held by another process (named when DuckDB names it), and what to do."""
    holder = LOCK_HOLDER.search(str(exc))
    who = f"another process ({holder.group(1)})" if holder else "another process"
    doing = "read" if read_only else "written"
    waited_for = f" (waited {waited:g} s, EDUQ_LOCK_WAIT_SECONDS)" if waited > 0 else ""
    advice = (
        "; analysts and BI tools read serving.duckdb (`eduq sql`), which a run never holds"
        if path.name.startswith("candidate")
        else ""
    )
    return (
        f"the warehouse file {path} is held open by {who}, so it cannot be {doing} now"
        f"{waited_for}. Close what holds it and try again{advice}"
    )


def quote_identifier(name: str) -> str:
    """``name`` as a quoted SQL identifier (a double quote in it doubled)."""
    return '"' + name.replace('"', '""') + '"'


def quote_literal(text: str) -> str:
    """``text`` as an SQL string literal (a single quote in it doubled)."""
    return "'" + text.replace("'", "''") + "'"
