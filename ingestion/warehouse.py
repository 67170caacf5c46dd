"""The raw schema of the warehouse: per-source tables built from contracts, the load log
and the quarantine. Plain DuckDB; dbt reads these tables as sources."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import duckdb

from core import duck
from core.files import fsync_dir
from core.settings import Settings
from ingestion.contract import Contract, load_contracts

SQL_TYPES = {
    "string": "varchar",
    "code": "varchar",
    "enum": "varchar",
    "academic_year": "varchar",
    "integer": "bigint",
    "number": "double",
    "percent": "double",
    "boolean": "boolean",
    "date": "date",
}

METADATA_COLUMNS = (
    ("_extra", "json"),  # columns of the file that the contract does not know, kept as delivered
    ("_file_id", "bigint"),  # delivery sequence: higher = later; the latest delivery wins
    ("_source_file", "varchar"),
    ("_file_hash", "varchar"),
    ("_row_number", "bigint"),
    ("_loaded_at", "timestamp"),
    # rows released from quarantine (ingestion.release): the file that delivered them, whose place
    # in the delivery order they keep (the latest delivery wins by it, not by _file_id)
    ("_released_from_file_id", "bigint"),
)

LOAD_LOG_DDL = """
create table if not exists raw._load_log (
    file_id bigint primary key,
    source varchar,
    file_name varchar,
    landing_path varchar,
    archived_path varchar,
    file_hash varchar,
    size_bytes bigint,
    status varchar,          -- loaded | rejected | duplicate | released | withdrawn
    rows_read bigint,
    rows_loaded bigint,
    rows_quarantined bigint,
    message varchar,
    layout json,
    years varchar,
    received_at timestamp,
    loaded_at timestamp,
    run_id varchar,
    -- status released: the file whose quarantined rows these are (ingestion.release)
    released_from_file_id bigint,
    -- status withdrawn (was loaded or released; ingestion.withdraw): when, why, by which command
    withdrawn_at timestamp,
    withdrawn_reason varchar
)
"""

QUARANTINE_DDL = """
create table if not exists raw._quarantine (
    file_id bigint,
    source varchar,
    file_name varchar,
    file_hash varchar,
    row_number bigint,
    column_name varchar,
    value varchar,
    reason varchar,
    row_values json,
    quarantined_at timestamp,
    reason_code varchar,     -- stable code of the reason (see ingestion.validate), added in v2
    -- an unknown_school line whose code the registry or crosswalk later gave: the load-log line
    -- (status released) that re-checked the row (ingestion.release)
    resolved_in_file_id bigint
)
"""

# columns added after the first release: (table, column, type), applied to existing warehouses
MIGRATIONS = (
    ("raw._quarantine", "reason_code", "varchar"),
    ("raw._quarantine", "resolved_in_file_id", "bigint"),
    ("raw._load_log", "released_from_file_id", "bigint"),
    ("raw._load_log", "withdrawn_at", "timestamp"),
    ("raw._load_log", "withdrawn_reason", "varchar"),
)


def column_sql_type(contract: Contract, name: str) -> str:
    if name == "year":
        return "integer"
    return SQL_TYPES[contract.column(name).type]


def raw_table_ddl(contract: Contract) -> str:
    cols = [f'"{n}" {column_sql_type(contract, n)}' for n in contract.table_columns]
    cols += [f"{n} {t}" for n, t in METADATA_COLUMNS]
    return f"create table if not exists raw.{contract.source} ({', '.join(cols)})"


def connect(
    path: Path, read_only: bool = False, settings: Settings | None = None
) -> duckdb.DuckDBPyConnection:
    """A connection to a warehouse file, with DuckDB's memory limit, threads and spill folder of
    ``settings`` (DuckDB's own defaults without them)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if settings is not None:
        settings.spill_dir.mkdir(parents=True, exist_ok=True)
    if not read_only and not path.exists():
        _create_empty(path)
    return duck.connect(path, settings, read_only=read_only)


def connect_for_loading(path: Path, settings: Settings) -> duckdb.DuckDBPyConnection:
    """The connection a load writes the raw tables with: :func:`connect`, and no row groups merged
    when it checkpoints (DuckDB's ``max_vacuum_tasks`` = 0; dbt's profile sets the same).

    A large file's rows are written to row groups of their own as they are inserted, and small
    files' rows fill a row group until a checkpoint; DuckDB merges partly filled row groups at a
    later checkpoint, up to ``max_vacuum_tasks`` of them each time, reading and compressing them
    again on one core. After a whole country's first load every later checkpoint went on with that
    merging: 1.1 s of the first night after a full build, 6 s when only the load left it to dbt's
    checkpoint. A load never deletes rows from the source tables (only from the small landing
    queue; a rare `eduq withdraw` deletes one file's rows through a connection of its own): there
    is nothing to reclaim there, and a checkpoint now writes only what is new
    (0.01 s that night). dbt's tables are replaced whole, or a year (a file) at a time by the
    incremental models: a row group left partly deleted stays as it is (a wholly deleted one is
    still dropped) until `--full-refresh` replaces the table. The file grows by what is loaded and
    by ~1 MB a night more than with the merging (a country's re-delivered region, six nights:
    docs/performance.md); `eduq rebuild` writes it anew. The setting belongs to the database, not
    the connection: it holds until the file is closed."""
    con = connect(path, settings=settings)
    try:
        con.execute("set max_vacuum_tasks = 0")
    except BaseException:
        con.close()
        raise
    return con


def _create_empty(path: Path) -> None:
    """A new warehouse file appears whole or not at all: DuckDB writes its header beside the target
    and the file is renamed into place. A disk that fills up (or a kill) while DuckDB creates it
    leaves no half-written file that the next run could not open."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.new")
    wal = tmp.with_name(tmp.name + ".wal")
    try:
        with duckdb.connect(str(tmp)) as con:
            con.execute("checkpoint")
        os.rename(tmp, path)
        fsync_dir(path.parent)
    finally:
        tmp.unlink(missing_ok=True)
        wal.unlink(missing_ok=True)


_FEW_ROWS = 4  # insert_rows: up to this many rows as VALUES
_ERROR_WORDS = 600  # insert_rows: a refusal's message cut to this many characters


def insert_rows(
    con: duckdb.DuckDBPyConnection, insert: str, rows: Sequence[Sequence[object]]
) -> None:
    """``insert`` («insert into t (a, b)») with ``rows``, each row's values in the insert's column
    order (a column's values of one Python type, or None). A few rows go as VALUES; more as one list
    a column, unnested: DuckDB's ``executemany`` runs the statement once per row, and VALUES of
    many rows bind every value — 64 load-log lines took 12–27 ms as VALUES, 4 ms unnested, and 822
    rows of the landing queue 0.58 s by ``executemany``."""
    if not rows:
        return
    if len(rows) <= _FEW_ROWS:
        values = ", ".join("(" + ", ".join("?" * len(row)) + ")" for row in rows)
        con.execute(f"{insert} values {values}", [value for row in rows for value in row])
        return
    columns = [list(column) for column in zip(*rows, strict=True)]
    try:
        con.execute(f"{insert} select {', '.join('unnest(?)' for _ in columns)}", columns)
    except duckdb.Error as exc:  # its words quote the whole column's list: cut for a log line
        words = str(exc)
        if len(words) <= _ERROR_WORDS:
            raise
        raise type(exc)(words[:_ERROR_WORDS] + " …") from exc


def _raw_columns(con: duckdb.DuckDBPyConnection) -> set[tuple[str, str]]:
    rows = con.execute(
        "select table_name, column_name from duckdb_columns() "
        "where schema_name = 'raw' and database_name = current_database()"
    ).fetchall()
    return {(t, c) for t, c in rows}


def ensure_raw_schema(
    con: duckdb.DuckDBPyConnection,
    extra_ddl: tuple[str, ...] = (),
    extra_columns: tuple[tuple[str, str, str], ...] = (),
) -> None:
    """Create what is missing of the raw schema (idempotent; one catalog query when all is there).

    ``extra_ddl`` / ``extra_columns``: further ``create table if not exists`` statements and
    ``(table, column, type)`` columns, e.g. the loader's landing queue.
    """
    contracts = load_contracts().values()
    migrations = (
        *MIGRATIONS,
        # the metadata columns added since (raw_table_ddl creates new tables with all of them)
        *((f"raw.{c.source}", "_released_from_file_id", "bigint") for c in contracts),
        *extra_columns,
    )
    have = _raw_columns(con)
    tables = {t for t, _ in have}
    wanted = {"_load_log", "_quarantine", *(c.source for c in contracts)}
    wanted |= {ddl.split("raw.", 1)[1].split()[0] for ddl in extra_ddl}
    missing_columns = [m for m in migrations if (m[0].removeprefix("raw."), m[1]) not in have]
    if wanted <= tables and not missing_columns:
        return
    con.execute("create schema if not exists raw")
    con.execute(LOAD_LOG_DDL)
    con.execute(QUARANTINE_DDL)
    for ddl in extra_ddl:
        con.execute(ddl)
    for contract in contracts:
        con.execute(raw_table_ddl(contract))
    for table, column, sql_type in migrations:
        con.execute(f"alter table {table} add column if not exists {column} {sql_type}")


def next_file_id(con: duckdb.DuckDBPyConnection) -> int:
    return con.execute("select coalesce(max(file_id), 0) + 1 from raw._load_log").fetchone()[0]
