"""`eduq sql`: a query on the serving warehouse that cannot change anything.

Three locks on one door: every statement is classified by DuckDB's own parser and anything but a
reading statement is refused with a message before the database is opened; the serving file is
opened read-only (DuckDB refuses INSERT, UPDATE, CREATE, DROP …); and file-system access from SQL is
off (a read-only connection would still let ``COPY … TO``, ``EXPORT DATABASE`` or ``ATTACH`` write
files elsewhere, and ``INSTALL`` download), as is installing or loading extensions.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from core import duck
from core.errors import EduqError
from core.settings import Settings

READING = {"SELECT", "EXPLAIN", "PRAGMA", "CALL"}  # select, with, from, values, describe, show …
READ_ONLY_CONFIG = {
    "enable_external_access": False,
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
}


class WritingStatementRefused(EduqError):
    """`eduq sql` was given a statement that writes (or reaches outside the warehouse)."""


def check_read_only(query: str) -> int:
    """The number of statements of ``query``; raises :class:`WritingStatementRefused` naming the
    first one that is not a reading statement, and ``duckdb.ParserException`` for bad SQL."""
    statements = duckdb.extract_statements(query)
    if not statements:
        raise WritingStatementRefused("eduq sql: the query is empty")
    for statement in statements:
        kind = statement.type.name
        if kind not in READING:
            text = " ".join(statement.query.split())[:80]
            raise WritingStatementRefused(
                f"eduq sql только читает: оператор {kind} («{text}») изменил бы данные или файлы и "
                f"не выполнен; витрину обновляет только `eduq run`.\n"
                f"eduq sql is read-only: the {kind} statement «{text}» would change data or files "
                f"and was refused (allowed: select, with, from, values, describe, show, explain, "
                f"pragma). The serving warehouse is changed only by `eduq run`."
            )
    return len(statements)


def connect_read_only(path: Path, settings: Settings) -> duckdb.DuckDBPyConnection:
    """The serving warehouse opened read-only, without file-system access or extensions, with
    DuckDB's resources of ``settings`` (core.duck: an analyst's query spills beyond the memory
    limit instead of taking the machine)."""
    # (in this order: DuckDB refuses a spill folder given before external access is turned off)
    return duck.connect(
        path, read_only=True, config={**READ_ONLY_CONFIG, **duck.resources(settings)}
    )
