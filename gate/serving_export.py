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
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from gate.errors import GateError

SOURCE, TARGET = "export_source", "export_target"
STORAGE_VERSION = re.compile(r"^v\d+\.\d+\.\d+$")
IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class ExportFailed(GateError):
    """The warehouse could not be exported for DuckDB 1.x readers."""


@dataclass(frozen=True)
class ExportResult:
    target: Path
    storage_version: str
    tables: dict[str, int]  # "schema.table" -> rows
    views: list[str] = field(default_factory=list)
    skipped_views: dict[str, str] = field(default_factory=dict)  # "schema.view" -> why


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def export_warehouse(
    source_db: Path,
    target_db: Path,
    schemas: Sequence[str],
    storage_version: str = "v1.4.0",
) -> ExportResult:
    """Copy ``schemas`` of ``source_db`` into the new file ``target_db`` written in
    ``storage_version`` (see the module docstring)."""
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
    con = duckdb.connect()
    try:
        con.execute(f"attach {_literal(str(source_db))} as {SOURCE} (read_only)")
        con.execute(
            f"attach {_literal(str(target_db))} as {TARGET} "
            f"(storage_version {_literal(storage_version)})"
        )
        con.execute(f"use {TARGET}")
        # the tables and their comments in one transaction: hundreds of statements committed one
        # by one were as many writes of the target's log (a second or more of every promotion);
        # the views after it, one by one (a view that cannot bind would end a transaction)
        con.execute("begin transaction")
        tables = _copy_tables(con, schemas)
        con.execute("commit")
        views, skipped = _copy_views(con, schemas)
        con.execute("use memory")
        con.execute(f"checkpoint {TARGET}")
        con.execute(f"detach {TARGET}")
    except duckdb.Error as exc:
        con.close()
        target_db.unlink(missing_ok=True)
        target_db.with_name(target_db.name + ".wal").unlink(missing_ok=True)
        raise ExportFailed(f"exporting {source_db} to {target_db} failed: {exc}") from exc
    con.close()
    return ExportResult(target_db, storage_version, tables, views, skipped)


def _in(schemas: Sequence[str]) -> str:
    return ", ".join(_literal(s) for s in schemas)


def _copy_tables(con: duckdb.DuckDBPyConnection, schemas: Sequence[str]) -> dict[str, int]:
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
    out = {}
    for schema, table, ddl, comment in rows:
        # the DDL names the table schema.table: with the target as the default database, it is
        # created there, with the source's types and constraints
        con.execute(ddl)
        qualified = f"{_quote(schema)}.{_quote(table)}"
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
    return out


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
