"""Export the public schemas of a warehouse into a new DuckDB file that DuckDB 1.x can open.

The pipeline runs DuckDB 2.0, whose files DuckDB 1.x refuses ("Trying to read a database file
with version number 69, but we can only read versions between 64 and 68"), and most BI tools that
speak DuckDB embed 1.x (Superset 6.1 pins ``duckdb<2``). :func:`export_warehouse` writes the
schemas readers need (e.g. ``marts``, ``reference``, ``audit``; never ``raw``) through
``ATTACH … (STORAGE_VERSION 'v1.4.0')``, a format DuckDB 1.4 and later read:

- every table, created from its own DDL (column types, NOT NULL, CHECK, PRIMARY KEY and UNIQUE
  constraints) and filled with its rows in their stored order;
- the table and column comments;
- every view whose query only reads exported schemas (a view over ``raw`` is left out and
  reported in :attr:`ExportResult.skipped_views`).

The target must not exist; the caller renames it into place (promotion writes a temporary file
beside the serving warehouse, then renames it in one step).

Given an earlier export of the same warehouse (:class:`PreviousExport`: the serving file promotion
put in place, and what its year-local tables were built from), the export starts from a copy of it
and writes again only what may have changed: the rows of a year-local table (a mart with
``intermediate.<table>__built_from``, macros/year_local.sql) are kept for every year whose record
(input fingerprint and the time the year was computed) is the one the earlier export's source had;
that table's other years, and every other table, are written anew. A year-local model leaves a
year it does not compute untouched, so those rows are the earlier export's. The caller vouches that
the earlier export is of this source as it was at its last audited build (gate.promote).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from core import duck
from core.duck import quote_identifier as _quote
from core.duck import quote_literal as _literal
from core.files import copy_hashing
from gate.errors import GateError

log = logging.getLogger(__name__)

SOURCE, TARGET = "export_source", "export_target"
YEAR_RECORD_SUFFIX = "__built_from"  # intermediate.<table>__built_from (macros/year_local.sql)
STORAGE_VERSION = re.compile(r"^v\d+\.\d+\.\d+$")
IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class ExportFailed(GateError):
    """The warehouse could not be exported for DuckDB 1.x readers."""


# "schema.table" -> {year: what the year was built from}: a year-local table's record
YearRecords = Mapping[str, Mapping[int, str]]


@dataclass(frozen=True)
class PreviousExport:
    """An earlier export of the same warehouse, the year records of its source then, and the
    SHA-256 the file must have (checked as it is copied: another file is not started from)."""

    path: Path
    year_records: YearRecords
    sha256: str | None


@dataclass(frozen=True)
class ExportResult:
    target: Path
    storage_version: str
    tables: dict[str, int]  # "schema.table" -> rows
    views: list[str] = field(default_factory=list)
    skipped_views: dict[str, str] = field(default_factory=dict)  # "schema.view" -> why
    # the year records of the source's year-local tables (for the next export to start from this one)
    year_records: dict[str, dict[int, str]] = field(default_factory=dict)
    # rows kept from the earlier export, per year-local table (empty: everything written anew)
    kept_rows: dict[str, int] = field(default_factory=dict)


def export_warehouse(
    source_db: Path,
    target_db: Path,
    schemas: Sequence[str],
    storage_version: str = "v1.4.0",
    previous: PreviousExport | None = None,
    config: Mapping[str, str] | None = None,
) -> ExportResult:
    """Copy ``schemas`` of ``source_db`` into the new file ``target_db`` written in
    ``storage_version`` (see the module docstring), from ``previous`` where it can; ``config``: the
    DuckDB configuration of the database that copies (core.duck.resources; default DuckDB's)."""
    source_db, target_db = Path(source_db), Path(target_db)
    if not STORAGE_VERSION.match(storage_version):
        raise ExportFailed(f"storage version {storage_version!r} is not of the form v1.4.0")
    if not source_db.exists():
        raise ExportFailed(f"no warehouse to export at {source_db}")
    if target_db.exists() or target_db.with_name(target_db.name + ".wal").exists():
        raise ExportFailed(
            f"{target_db} already exists: the export writes a new file (remove it or choose another)"
        )
    for schema in schemas:
        if not IDENTIFIER.match(schema):
            raise ExportFailed(f"schema name {schema!r} is not a plain identifier")
    if previous is not None:
        try:
            return _export(source_db, target_db, schemas, storage_version, previous, config)
        except (duckdb.Error, OSError) as exc:  # the export from scratch says what is wrong
            log.warning("exporting from the earlier serving file failed (%s): exporting anew", exc)
    return _export(source_db, target_db, schemas, storage_version, None, config)


def _export(
    source_db: Path,
    target_db: Path,
    schemas: Sequence[str],
    storage_version: str,
    previous: PreviousExport | None,
    config: Mapping[str, str] | None = None,
) -> ExportResult:
    con = duck.connect(config=config)
    try:
        if previous is not None:
            if previous.path.with_name(previous.path.name + ".wal").exists():
                raise OSError(f"{previous.path} has a write-ahead log")
            if copy_hashing(previous.path, target_db) != previous.sha256:
                raise OSError(f"{previous.path} is not the file expected (another SHA-256)")
            # an existing file keeps the storage version it was written in (the serving one)
            con.execute(f"attach {_literal(str(target_db))} as {TARGET}")
        else:
            con.execute(
                f"attach {_literal(str(target_db))} as {TARGET} "
                f"(storage_version {_literal(storage_version)})"
            )
        con.execute(f"attach {_literal(str(source_db))} as {SOURCE} (read_only)")
        records = year_records(con, schemas, SOURCE)
        kept_years = _kept_years(records, previous.year_records) if previous is not None else {}
        con.execute(f"use {TARGET}")
        # the tables and their comments in one transaction: hundreds of statements committed one
        # by one were as many writes of the target's log (a second or more of every promotion);
        # the views after it, one by one (a view that cannot bind would end a transaction)
        con.execute("begin transaction")
        if previous is not None:
            _clear_for_export(con, schemas)
        tables, kept_rows = _copy_tables(con, schemas, kept_years)
        con.execute("commit")
        views, skipped = _copy_views(con, schemas)
        con.execute("use memory")
        con.execute(f"checkpoint {TARGET}")
        con.execute(f"detach {TARGET}")
    except (duckdb.Error, OSError) as exc:
        con.close()
        target_db.unlink(missing_ok=True)
        target_db.with_name(target_db.name + ".wal").unlink(missing_ok=True)
        if previous is not None:
            raise
        raise ExportFailed(f"exporting {source_db} to {target_db} failed: {exc}") from exc
    con.close()
    return ExportResult(target_db, storage_version, tables, views, skipped, records, kept_rows)


def year_records(
    con: duckdb.DuckDBPyConnection, schemas: Sequence[str], database: str | None = None
) -> dict[str, dict[int, str]]:
    """The record of every table of ``schemas`` that has one (intermediate.<table>__built_from,
    macros/year_local.sql), by "schema.table": each year's input fingerprint and the time it was
    computed («fingerprint@computed_at»: the same while the year's rows are left as they are).
    ``database``: the attached database to read (default the connection's own)."""
    database = database or con.execute("select current_database()").fetchall()[0][0]
    found = con.execute(
        f"""select t.schema_name, t.table_name from duckdb_tables() as t
            inner join duckdb_tables() as r
                on r.database_name = t.database_name and r.schema_name = 'intermediate'
                and r.table_name = t.table_name || '{YEAR_RECORD_SUFFIX}'
            inner join duckdb_columns() as c
                on c.database_name = t.database_name and c.schema_name = t.schema_name
                and c.table_name = t.table_name and c.column_name = 'year'
            where t.database_name = {_literal(database)} and t.schema_name in ({_in(schemas)})
            order by 1, 2"""
    ).fetchall()
    records: dict[str, dict[int, str]] = {}
    for schema, table in found:
        rows = con.execute(
            f"""select year, input_fingerprint, cast(computed_at as varchar)
                from {_quote(database)}.intermediate.{_quote(table + YEAR_RECORD_SUFFIX)}
                where year is not null"""
        ).fetchall()
        records[f"{schema}.{table}"] = {int(y): f"{fp}@{at}" for y, fp, at in rows}
    return records


def _kept_years(now: YearRecords, before: YearRecords) -> dict[str, set[int]]:
    """Per year-local table, the years recorded now exactly as before (their rows unchanged)."""
    kept = {}
    for table, years in now.items():
        earlier = {int(y): v for y, v in (before.get(table) or {}).items()}
        same = {y for y, v in years.items() if earlier.get(y) == v}
        if same:
            kept[table] = same
    return kept


def _clear_for_export(con: duckdb.DuckDBPyConnection, schemas: Sequence[str]) -> None:
    """In a copy of an earlier export: drop what the export writes anew (the views) and the schemas
    it does not write (what promotion added: the audit record, the delivery history)."""
    for schema, view in con.execute(
        f"""select schema_name, view_name from duckdb_views()
            where database_name = '{TARGET}' and not internal"""
    ).fetchall():
        con.execute(f"drop view {TARGET}.{_quote(schema)}.{_quote(view)}")
    for (schema,) in con.execute(
        f"""select schema_name from duckdb_schemas() where database_name = '{TARGET}'
            and not internal and schema_name not in ({_in(schemas)}, 'main')"""
    ).fetchall():
        con.execute(f"drop schema {TARGET}.{_quote(schema)} cascade")
    for (table,) in con.execute(
        f"""select table_name from duckdb_tables()
            where database_name = '{TARGET}' and schema_name = 'main'"""
    ).fetchall():
        con.execute(f"drop table {TARGET}.main.{_quote(table)}")


def _in(schemas: Sequence[str]) -> str:
    return ", ".join(_literal(s) for s in schemas)


def _copy_tables(
    con: duckdb.DuckDBPyConnection, schemas: Sequence[str], kept_years: Mapping[str, set[int]]
) -> tuple[dict[str, int], dict[str, int]]:
    present = {
        r[0]
        for r in con.execute(
            f"select schema_name from duckdb_schemas() where database_name = '{SOURCE}' "
            f"and schema_name in ({_in(schemas)})"
        ).fetchall()
    }
    for schema in schemas:
        if schema in present:
            con.execute(f"create schema if not exists {TARGET}.{_quote(schema)}")
    rows = con.execute(
        f"""select schema_name, table_name, sql, comment from duckdb_tables()
            where database_name = '{SOURCE}' and schema_name in ({_in(schemas)})
            order by schema_name, table_name"""
    ).fetchall()
    # what the target holds already (a copy of an earlier export): its tables and their DDL
    existing = {
        (schema, table): ddl
        for schema, table, ddl in con.execute(
            f"""select schema_name, table_name, sql from duckdb_tables()
                where database_name = '{TARGET}'"""
        ).fetchall()
    }
    for schema, table in sorted(set(existing) - {(r[0], r[1]) for r in rows}):
        con.execute(f"drop table {TARGET}.{_quote(schema)}.{_quote(table)}")
    out, kept_rows = {}, {}
    for schema, table, ddl, comment in rows:
        qualified = f"{_quote(schema)}.{_quote(table)}"
        years = kept_years.get(f"{schema}.{table}")
        if years and existing.get((schema, table)) == ddl:
            # the rows of the years recorded as before stay; the other years' are written again
            # (rows without a year are never recomputed by a year-local model: they stay too)
            listed = ", ".join(str(y) for y in sorted(years))
            rest = f'"year" is not null and "year" not in ({listed})'
            con.execute(f"delete from {TARGET}.{qualified} where {rest}")
            (copied,) = con.execute(
                f"insert into {TARGET}.{qualified} select * from {SOURCE}.{qualified} where {rest}"
            ).fetchone()
            (total,) = con.execute(f"select count(*) from {TARGET}.{qualified}").fetchone()
            out[f"{schema}.{table}"], kept_rows[f"{schema}.{table}"] = total, total - copied
            continue
        if (schema, table) in existing:
            con.execute(f"drop table {TARGET}.{qualified}")
        # the DDL names the table schema.table: with the target as the default database, it is
        # created there, with the source's types and constraints
        con.execute(ddl)
        (copied,) = con.execute(
            f"insert into {TARGET}.{qualified} select * from {SOURCE}.{qualified}"
        ).fetchone()
        if comment:
            con.execute(f"comment on table {TARGET}.{qualified} is {_literal(comment)}")
        columns = con.execute(
            """select column_name, comment from duckdb_columns()
               where database_name = ? and schema_name = ? and table_name = ? and comment is not null""",
            [SOURCE, schema, table],
        ).fetchall()
        for column, text in columns:
            con.execute(
                f"comment on column {TARGET}.{qualified}.{_quote(column)} is {_literal(text)}"
            )
        out[f"{schema}.{table}"] = copied  # the rows the insert wrote
    return out, kept_rows


def _copy_views(
    con: duckdb.DuckDBPyConnection, schemas: Sequence[str]
) -> tuple[list[str], dict[str, str]]:
    """Views are created in the target alone (the source detached from name resolution by the
    default database): a view that reads a schema that was not exported fails to bind, and is
    left out."""
    rows = con.execute(
        f"""select schema_name, view_name, sql, comment from duckdb_views()
            where database_name = '{SOURCE}' and not internal and schema_name in ({_in(schemas)})
            order by schema_name, view_name"""
    ).fetchall()
    created, skipped = [], {}
    pending = list(rows)
    # a view may read another view: create in rounds until nothing more can be created
    while pending:
        left = []
        for schema, view, ddl, comment in pending:
            try:
                con.execute(ddl)
            except duckdb.Error as exc:
                left.append((schema, view, ddl, comment, str(exc).splitlines()[0]))
                continue
            if comment:
                con.execute(
                    f"comment on view {TARGET}.{_quote(schema)}.{_quote(view)} is {_literal(comment)}"
                )
            created.append(f"{schema}.{view}")
        if len(left) == len(pending):
            skipped = {f"{s}.{v}": why for s, v, _, _, why in left}
            break
        pending = [row[:4] for row in left]
    return created, skipped
