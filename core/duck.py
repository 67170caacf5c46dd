"""DuckDB connections the pipeline opens, with the resources of its settings.

Every DuckDB database the pipeline opens — the warehouse files and the in-memory ones that attach
them (the serving export, the promotion, the publications) — gets ``EDUQ_DUCKDB_MEMORY_LIMIT``,
``EDUQ_DUCKDB_THREADS`` and ``EDUQ_DUCKDB_TEMP_DIR`` (:meth:`core.settings.Settings.duckdb_config`).
One process must open a file with one configuration: DuckDB refuses a second connection to a file
that is open with another («Can't open a connection to same database file with a different
configuration»), so every connection to a warehouse file goes through :func:`connect` with the same
settings. ``threads`` is for in-memory databases only (a file's connections share one instance)."""

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
    """A connection to ``database`` (None: a new in-memory database) with the resources of
    ``settings`` (or ``config`` as it is, e.g. another process's :func:`resources`)."""
    if threads is not None and database is not None:
        raise ValueError("threads are set for an in-memory database only")
    chosen = dict(config) if config is not None else resources(settings, threads)
    if "temp_directory" in chosen:
        try:  # DuckDB makes the folder itself when it first spills, but not its parents
            Path(chosen["temp_directory"]).mkdir(parents=True, exist_ok=True)
        except OSError:
            pass  # (a read-only home: the connection only fails if it has to spill)
    return duckdb.connect(
        ":memory:" if database is None else str(database), read_only=read_only, config=chosen
    )
