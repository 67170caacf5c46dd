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
  delivered file's name, hash and row numbers and ``_released_from_file_id`` = the delivered file,
  and a line of status ``released`` in ``raw._load_log`` (rows read = loaded = those rows;
  ``released_from_file_id`` names the file);
- their ``unknown_school`` lines in ``raw._quarantine`` get that id (``resolved_in_file_id``) and
  stay there, so the delivered file's own line keeps rows read = loaded + quarantined;
- a row that now fails another rule (none does unless a rule depends on the date) stays
  quarantined, with its current reasons added under the delivered file's id.

The latest-delivery rule orders deliveries by ``_released_from_file_id`` where it is set, else by
``_file_id`` (dbt macro ``delivery_order``): the released rows keep the place of the file that
delivered them. So a file delivered since, under the school's other code, still replaces them, and
they and the rest of their file (the same school under its registry code) stay one delivery: what
one run over every file gives. Every step that finds what changed by file id (the build plan, the
checks judged file by file, the results' key checks and year fingerprints) sees them as new rows.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from core.duck import quote_literal
from core.files import sha256_file
from core.settings import Settings
from ingestion import readers
from ingestion.contract import Contract
from ingestion.errors import IngestionError
from ingestion.validate import UNKNOWN_SCHOOL, parse_expr

if TYPE_CHECKING:
    from ingestion.loader import CheckedFile

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


def pending_rows_sql(contract: Contract, known_codes_table: str) -> str:
    """The (file, row, code) of the source's quarantined rows whose only reason is an unknown school
    code that is known now (the quarantined text typed as the loader types the code column): the
    unresolved unknown_school lines with a known code first, then those of their rows with no other
    reason (a night costs what waits for a code, not the whole quarantine)."""
    code = parse_expr(contract.column(contract.school_column), "q.value")
    source = quote_literal(contract.source)
    return f"""
        with candidates as (
            select q.file_id, q.row_number, {code} as code
            from raw._quarantine as q
            where q.source = {source} and q.reason_code = '{UNKNOWN_SCHOOL}'
                and q.resolved_in_file_id is null
                and {code} in (select code from {known_codes_table})
        )
        select * from candidates as c
        where not exists (
            select 1 from raw._quarantine as other
            where other.source = {source} and other.file_id = c.file_id
                and other.row_number = c.row_number
                and other.reason_code is distinct from '{UNKNOWN_SCHOOL}'
        )
    """


def release_known_codes(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    contract: Contract,
    run_id: str | None,
) -> list[Release]:
    """Load the source's quarantined rows whose school code is known now (see the module
    docstring); one :class:`Release` per delivered file re-checked, in delivery order."""
    if not contract.checks_school_codes:
        return []
    if not con.execute(
        "select count(*) > 0 from (select 1 from raw._quarantine where source = ? and "
        "reason_code = ? and resolved_in_file_id is null and file_id in (select file_id from "
        "raw._load_log where status = 'loaded') limit 1)",
        [contract.source, UNKNOWN_SCHOOL],
    ).fetchone()[0]:
        return []  # the usual night: nothing waits for a code
    from ingestion.loader import _known_codes_table

    known_codes_table = _known_codes_table(con)
    pending = pending_rows_sql(contract, known_codes_table)
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
        releases = []
        for delivered in files:
            try:
                release = _release_file(
                    con, settings, contract, delivered, known_codes_table, run_id
                )
            except Exception as exc:  # noqa: BLE001 — a night's new files must not wait for it
                # nothing of it written (one transaction): its rows stay quarantined, and it is said
                release = _not_released(
                    contract, delivered, _codes(con, delivered), f"re-checking it failed ({exc})"
                )
            releases.append(release)
        return releases
    finally:
        con.execute("drop table if exists _release_pending")


def _codes(con: duckdb.DuckDBPyConnection, delivered: _Delivered) -> tuple[str, ...]:
    return tuple(
        r[0]
        for r in con.execute(
            "select distinct code from _release_pending where file_id = ? order by 1",
            [delivered.file_id],
        ).fetchall()
    )


def _listed(codes: tuple[str, ...], shown: int = 5) -> str:
    more = f" and {len(codes) - shown} more" if len(codes) > shown else ""
    return ", ".join(codes[:shown]) + more


def _not_released(
    contract: Contract, delivered: _Delivered, codes: tuple[str, ...], problem: str
) -> Release:
    message = (
        f"{delivered.file_name} (file {delivered.file_id}): its rows quarantined for school codes "
        f"known now ({_listed(codes)}) stay quarantined: {problem}"
    )
    log.warning("%s", message)
    return Release(
        contract.source, delivered.file_name, delivered.file_id, None, 0, 0, codes, message
    )


def _release_file(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    contract: Contract,
    delivered: _Delivered,
    known_codes_table: str,
    run_id: str | None,
) -> Release:
    from ingestion.loader import _drop_tables, check_file

    codes = _codes(con, delivered)
    archived = Path(delivered.archived_path) if delivered.archived_path else None
    restore = (
        f"put the delivered file (SHA-256 {delivered.file_hash}) back at {archived} and run "
        "again (sent again, the same bytes are skipped as already delivered)"
    )
    if archived is None or not archived.is_file():
        return _not_released(contract, delivered, codes, f"its archived copy is missing: {restore}")
    if sha256_file(archived) != delivered.file_hash:
        return _not_released(
            contract, delivered, codes, f"its archived copy is another file: {restore}"
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
            return _not_released(contract, delivered, codes, f"it cannot be read again ({exc})")
        try:
            return _write_release(con, contract, delivered, checked, codes, run_id)
        finally:
            _drop_tables(con, checked.tables)


def _write_release(
    con: duckdb.DuckDBPyConnection,
    contract: Contract,
    delivered: _Delivered,
    checked: CheckedFile,
    codes: tuple[str, ...],
    run_id: str | None,
) -> Release:
    from ingestion.loader import _log_file, _now, insert_quarantine, write_transaction
    from ingestion.warehouse import next_file_id

    typed, failures = checked.validated.typed, checked.validated.failures
    school = f'"{contract.school_column}"'
    # the quarantined rows read again: the same row number holding the same code (else the file
    # read is not the file delivered, and the row is left as it is)
    found = (
        f"select t._row_number from {typed} as t join _release_pending as p "
        f"on p.file_id = {int(delivered.file_id)} and t._row_number = p.row_number "
        f"and t.{school} = p.code"
    )
    passing = f"select _row_number from {typed} where _ok and _row_number in ({found})"
    if checked.validated.has_failures:
        passing += f" and _row_number not in (select _row_number from {failures})"
        failing = f"select _row_number from {failures} where _row_number in ({found})"
    else:
        failing = "select null::bigint as _row_number where false"
    columns = ", ".join(f'"{c}"' for c in contract.table_columns)
    at = _now()
    with write_transaction(con):
        file_id = next_file_id(con)
        released = con.execute(
            f"""insert into raw.{contract.source} ({columns}, _extra, _file_id, _source_file,
                    _file_hash, _row_number, _loaded_at, _released_from_file_id)
                select {columns}, _extra, ?, ?, ?, _row_number, ?, ?
                from {typed} where _row_number in ({passing})""",
            [file_id, delivered.file_name, delivered.file_hash, at, delivered.file_id],
        ).fetchone()[0]
        still = con.execute(f"select count(distinct _row_number) from ({failing})").fetchone()[0]
        if still:  # quarantined now for their other reasons
            insert_quarantine(
                con,
                checked,
                delivered.file_id,
                delivered.file_name,
                delivered.file_hash,
                at,
                rows=failing,
            )
        con.execute(
            f"""update raw._quarantine set resolved_in_file_id = ?
                where file_id = ? and reason_code = '{UNKNOWN_SCHOOL}'
                  and resolved_in_file_id is null
                  and row_number in ({passing} union all {failing})""",
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
            f"quarantine: their school codes are known now ({_listed(codes)})"
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
