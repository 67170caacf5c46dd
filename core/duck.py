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
a command that writes nothing (`eduq check-files`) leaves no folder behind."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import duckdb

from core.settings import Settings


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
    return duckdb.connect(
        ":memory:" if in_memory else str(database), read_only=read_only, config=chosen
    )


def quote_identifier(name: str) -> str:
    """``name`` as a quoted SQL identifier (a double quote in it doubled)."""
    return '"' + name.replace('"', '""') + '"'


def quote_literal(text: str) -> str:
    """``text`` as an SQL string literal (a single quote in it doubled)."""
    return "'" + text.replace("'", "''") + "'"
