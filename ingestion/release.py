"""Rows quarantined for an unknown school code, loaded once the registry or the crosswalk knows it.

A fact file's school codes are checked against every code the warehouse knows when the file loads
(the registry, the code crosswalk, the reorganisations: :data:`ingestion.loader.KNOWN_CODE_SOURCES`).
Regions do not send the registry first: a new school's results, or an exam system's code, often
arrive a night before the registry or crosswalk line that names the school. Those rows go to
quarantine (``unknown_school``); when a later delivery makes their code known, the same facts must
give the same marts as a single run over every file, which loads the reference sources first.

So before a fact source loads its new files, :func:`release_known_codes` looks for its quarantined
rows whose only reason is an unknown school code that is known now. It checks each such file again,
from its archived copy (the bytes that were delivered, verified by their SHA-256), with the codes
known now, and in one transaction:

- the rows that now pass every rule are written to ``raw.<source>`` under a new file id, with the
  delivered file's name, hash and row numbers, and a line of status ``released`` in
  ``raw._load_log`` (rows read = loaded = those rows; ``released_from_file_id`` names the file);
- their ``unknown_school`` lines in ``raw._quarantine`` get that id (``resolved_in_file_id``) and
  stay there, so the delivered file's own line keeps rows read = loaded + quarantined;
- a row that now fails another rule (none does unless a rule depends on the date) stays
  quarantined, with its current reasons added under the delivered file's id.

The new file id is later than every file loaded before, and that is the order a single run gives:
the codes known only grow, and this runs before any later fact file of the source loads, so no file
loaded since the delivered one can hold rows with the code that was unknown. Every step that finds
what changed by file id (the build plan, the checks judged file by file, the results' key checks and
year fingerprints) sees the released rows as a new delivery.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path

import duckdb

from core.files import sha256_file
from core.settings import Settings
from ingestion import readers
from ingestion.contract import Contract
from ingestion.errors import IngestionError
from ingestion.validate import UNKNOWN_SCHOOL, parse_expr

log = logging.getLogger(__name__)

RELEASED = "released"


@dataclass(frozen=True)
class Release:
    """What re-checking one delivered file released (``file_id``: the released rows' new id)."""

    source: str
    file_name: str
    from_file_id: int
    file_id: int | None
    rows_released: int
    rows_still_quarantined: int
    codes: tuple[str, ...]
    message: str


@dataclass(frozen=True)
class _Delivered:
    file_id: int
    file_name: str
    archived_path: str | None
    file_hash: str
    size_bytes: int
    layout: dict
    received_at: dt.datetime | None


def _pending_rows_sql(contract: Contract, known_codes_table: str) -> str:
    """The (file, row) of the source's quarantined rows whose only reason is an unknown school code
    that is known now (the quarantined text typed as the loader types the code column)."""
    code = parse_expr(contract.column(contract.school_column), "value")
    return f"""
        select file_id, row_number
        from raw._quarantine
        where source = {_literal(contract.source)} and resolved_in_file_id is null
        group by file_id, row_number
        having bool_and(reason_code = '{UNKNOWN_SCHOOL}')
            and bool_and({code} in (select code from {known_codes_table}))
    """


def _literal(text: str) -> str:
    from core.duck import quote_literal

    return quote_literal(text)


def release_known_codes(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    contract: Contract,
    run_id: str | None,
) -> list[Release]:
    """Load the source's quarantined rows whose school code is known now (see the module
    docstring); one :class:`Release` per delivered file re-checked, in delivery order."""
    if not (contract.school_column and contract.validate_school):
        return []
    if not con.execute(
        "select count(*) > 0 from (select 1 from raw._quarantine where source = ? and "
        "reason_code = ? and resolved_in_file_id is null limit 1)",
        [contract.source, UNKNOWN_SCHOOL],
    ).fetchone()[0]:
        return []  # the usual night: nothing waits for a code
    from ingestion.loader import _known_codes_table

    known_codes_table = _known_codes_table(con)
    pending = _pending_rows_sql(contract, known_codes_table)
    con.execute(f"create or replace temp table _release_pending as {pending}")
    try:
        files = [
            _Delivered(fid, name, archived, digest, size, json.loads(layout), received)
            for fid, name, archived, digest, size, layout, received in con.execute(
                """select file_id, file_name, archived_path, file_hash, size_bytes, layout, received_at
                   from raw._load_log
                   where status = 'loaded' and file_id in (select file_id from _release_pending)
                   order by file_id"""
            ).fetchall()
        ]
        return [
            _release_file(con, settings, contract, delivered, known_codes_table, run_id)
            for delivered in files
        ]
    finally:
        con.execute("drop table if exists _release_pending")


def _release_file(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    contract: Contract,
    delivered: _Delivered,
    known_codes_table: str,
    run_id: str | None,
) -> Release:
    from ingestion.loader import _drop_tables, check_file

    codes = tuple(
        r[0]
        for r in con.execute(
            """select distinct q.value from raw._quarantine as q
               join _release_pending as p using (file_id, row_number)
               where q.file_id = ? order by 1""",
            [delivered.file_id],
        ).fetchall()
    )
    archived = Path(delivered.archived_path) if delivered.archived_path else None
    problem = None
    if archived is None or not archived.is_file():
        problem = f"its archived copy {archived} is missing"
    elif sha256_file(archived) != delivered.file_hash:
        problem = f"its archived copy {archived} is not the delivered file (another SHA-256)"
    if problem is not None:
        message = (
            f"{delivered.file_name} (file {delivered.file_id}): rows quarantined for school codes "
            f"known now ({', '.join(codes)}) cannot be checked again: {problem}. Send the file "
            "again to load them."
        )
        log.warning("%s", message)
        return Release(
            contract.source, delivered.file_name, delivered.file_id, None, 0, 0, codes, message
        )
    layout = readers.FileLayout.from_json(delivered.layout)
    with tempfile.TemporaryDirectory(prefix="eduq-release-") as folder:
        # staged under its delivered name (a year in the name counts as at delivery)
        path = Path(folder) / delivered.file_name
        path.symlink_to(archived.resolve())
        try:
            checked = check_file(
                con,
                settings,
                contract,
                path,
                layout,
                # a provisional number, naming the temp tables only
                1_000_000_000 + delivered.file_id,
                known_codes_table,
            )
        except IngestionError as exc:  # it loaded when delivered: the archive is not that file
            message = (
                f"{delivered.file_name} (file {delivered.file_id}): rows quarantined for school "
                f"codes known now cannot be checked again: {exc}"
            )
            log.warning("%s", message)
            return Release(
                contract.source, delivered.file_name, delivered.file_id, None, 0, 0, codes, message
            )
        try:
            return _write_release(con, contract, delivered, checked, codes, run_id)
        finally:
            _drop_tables(con, checked.tables)


def _write_release(con, contract, delivered, checked, codes, run_id) -> Release:
    from ingestion.loader import _log_file, _now, insert_quarantine, write_transaction
    from ingestion.warehouse import next_file_id

    rows = f"select row_number from _release_pending where file_id = {int(delivered.file_id)}"
    typed, failures = checked.validated.typed, checked.validated.failures
    passing = f"select _row_number from {typed} where _ok and _row_number in ({rows})"
    if checked.validated.has_failures:
        passing += f" and _row_number not in (select _row_number from {failures})"
    columns = ", ".join(f'"{c}"' for c in contract.table_columns)
    at = _now()
    with write_transaction(con):
        file_id = next_file_id(con)
        released = con.execute(
            f"""insert into raw.{contract.source} ({columns}, _extra, _file_id, _source_file,
                    _file_hash, _row_number, _loaded_at)
                select {columns}, _extra, ?, ?, ?, _row_number, ?
                from {typed} where _row_number in ({passing})""",
            [file_id, delivered.file_name, delivered.file_hash, at],
        ).fetchone()[0]
        pending = con.execute(f"select count(*) from ({rows})").fetchone()[0]
        still = pending - released
        if still:
            insert_quarantine(
                con,
                checked,
                delivered.file_id,
                delivered.file_name,
                delivered.file_hash,
                at,
                rows=f"{rows} except {passing}",
            )
        con.execute(
            f"""update raw._quarantine set resolved_in_file_id = ?
                where file_id = ? and reason_code = '{UNKNOWN_SCHOOL}'
                  and resolved_in_file_id is null and row_number in ({rows})""",
            [file_id, delivered.file_id],
        )
        years = None
        if contract.has_year:
            years = ",".join(
                str(r[0])
                for r in con.execute(
                    f"""select distinct year from {typed}
                        where _row_number in ({passing}) and year is not null order by 1"""
                ).fetchall()
            )
        message = (
            f"{released} rows of {delivered.file_name} (file {delivered.file_id}) released from "
            f"quarantine: their school codes are known now ({', '.join(codes)})"
        )
        if still:
            message += f"; {still} rows stay quarantined for other reasons"
        _log_file(
            con,
            file_id=file_id,
            source=contract.source,
            path=Path(delivered.file_name),  # no landing path: it was delivered before
            archived=delivered.archived_path,
            file_hash=delivered.file_hash,
            size=delivered.size_bytes,
            status=RELEASED,
            read=released,
            loaded=released,
            quarantined=0,
            message=message,
            layout=delivered.layout,
            years=years or None,
            received_at=delivered.received_at,
            run_id=run_id,
            released_from=delivered.file_id,
        )
    log.info("%s: %s", contract.source, message)
    return Release(
        contract.source,
        delivered.file_name,
        delivered.file_id,
        file_id,
        released,
        still,
        codes,
        message,
    )
