"""`eduq withdraw`: a delivered file taken back, as if it had never been delivered.

A region sometimes sends a file that should not count at all: another year's results under this
year's name, another region's file, a test export. A later file cannot undo it: the latest delivery
replaces only the partitions (year, school, subject…) it delivers again, so the wrong file's other
rows, or a year it alone brought, stay. A withdrawal, holding the home's writer lock, in one
transaction of the candidate warehouse:

- deletes the file's rows from its raw table, and the rows released from its quarantine later
  (``_released_from_file_id``, ingestion.release): the deliveries it had replaced count again;
- marks its load-log lines (the delivered file's and its releases') ``withdrawn``, with when and
  why (``withdrawn_at``, ``withdrawn_reason``); their counts stay as they were loaded. Its
  quarantined rows stay in ``raw._quarantine`` and are never released;
- then moves its archived copy from ``archive/<source>/`` to ``withdrawn/<source>/``, and the
  archived copies of the same bytes that were skipped as its duplicates to
  ``withdrawn/_duplicates/``, so that `eduq rebuild` does not load any of them as a delivery that
  counts; nothing is deleted. A move that failed after the commit is said, and `eduq withdraw` of
  the same file finishes it;
- leaves ``warehouse/withdrawals-pending.json``: until the next promotion (a build without the
  file) nothing is published from the serving warehouse, which still holds its rows
  (gate.publishable.require_intact);
- appends the withdrawal to ``withdrawn/withdrawals.jsonl`` (the file, why, when, the last file
  delivered before it and the copies moved): `eduq rebuild` loads the withdrawn copies again in
  their places among the deliveries and withdraws each at its point, so the rebuilt warehouse
  keeps the withdrawal (its load-log line, the lists' manifests) and what was delivered after it.

The same bytes may be delivered again afterwards (under the right name): a withdrawn file is not a
delivery the duplicate check knows. The candidate warehouse has changed since its audit, so the
next `eduq run` builds and judges everything again and publishes the lists that changed (a new
version; the versions published before stay as they were).
"""

from __future__ import annotations

import datetime as dt
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from core.errors import EduqError
from core.settings import Settings

WITHDRAWN = "withdrawn"
WITHDRAWABLE = ("loaded", "released")
RECORDS = "withdrawals.jsonl"  # in the withdrawn folder: what `eduq rebuild` withdraws again
REQUIRED = {"file_id", "reason", "withdrawn_at", "after_file_id", "copies"}


class WithdrawRefused(EduqError):
    """The file named cannot be withdrawn (unknown, not loaded, or no reason given)."""


@dataclass
class Withdrawal:
    file_id: int
    source: str
    file_name: str
    years: str | None
    reason: str
    rows_removed: int  # the delivered file's rows and those released from its quarantine
    released_lines: list[int] = field(default_factory=list)  # load-log lines of its releases
    rows_quarantined: int = 0
    archived_to: Path | None = None  # where its own archived copy is kept
    # (archived copy, where it goes, its archived_path in the load log): its own and those of its
    # duplicates
    moves: list[tuple[Path, Path, str]] = field(default_factory=list)
    not_moved: list[tuple[Path, str]] = field(default_factory=list)  # (archived copy, why)
    # a registry, crosswalk or successors file: (source, rows, files) of other files' rows whose
    # school code only it made known (they will count for no school)
    orphaned: list[tuple[str, int, int]] = field(default_factory=list)
    # a registry file: the years it leaves without a registry while results of them are loaded
    years_without_registry: list[int] = field(default_factory=list)
    dry_run: bool = False
    finishing: bool = False  # withdrawn before: only its archived copies still to move
    withdrawn_at: dt.datetime = field(
        default_factory=lambda: dt.datetime.now().replace(microsecond=0)
    )
    after_file_id: int = (
        0  # the last file delivered before the withdrawal (its place, for a rebuild)
    )
    not_recorded: str = ""  # why withdrawals.jsonl could not be written, if it could not

    @property
    def moved(self) -> list[Path]:
        """Where the archived copies went that were moved (the failed moves left out)."""
        failed = {copy for copy, _ in self.not_moved}
        return [target for copy, target, _ in self.moves if copy not in failed]

    def note(self) -> dict[str, object]:
        """What core.withdrawals keeps of it until the next promotion."""
        return {
            "file_id": self.file_id,
            "file_name": self.file_name,
            "source": self.source,
            "reason": self.reason,
            "withdrawn_at": self.withdrawn_at.isoformat(),
        }

    def render(self) -> str:
        years = f", years {self.years}" if self.years else ""
        would = "would be " if self.dry_run else ""
        if self.finishing:
            head = f"File {self.file_id} «{self.file_name}» was withdrawn before ({self.reason})"
            lines = [head + ("; its archived copies are in place." if not self.moves else ".")]
        else:
            done = "Would withdraw" if self.dry_run else "Withdrawn"
            lines = [
                f"{done}: file {self.file_id} «{self.file_name}» ({self.source}{years}), "
                + f"reason: {self.reason}",
                f"  {self.rows_removed} rows {would}removed from raw.{self.source}"
                + (
                    " (with those released from its quarantine by load-log line(s) "
                    + ", ".join(map(str, self.released_lines))
                    + ")"
                    if self.released_lines
                    else ""
                )
                + (
                    f"; its {self.rows_quarantined} quarantined rows stay in raw._quarantine and "
                    "are never released"
                    if self.rows_quarantined
                    else ""
                ),
            ]
        moved = self.moved
        if moved:
            lines.append(
                f"  archived {'copy' if len(moved) == 1 else 'copies'} {would or ''}moved to "
                + ", ".join(map(str, moved))
                + " (`eduq rebuild` does not load them again)"
            )
        for source, rows, files in self.orphaned:
            lines.append(
                f"  WARNING: {rows} rows of {files} {source} file(s) name schools only this file "
                f"made known: they {'would' if self.dry_run else 'will'} count for no school (their "
                "results leave the marts; the completeness checks report the schools without them). "
                "Deliver the right file for those codes, or withdraw those files too"
            )
        for year in self.years_without_registry:
            lines.append(
                f"  WARNING: results of {year} are loaded and no registry of {year} "
                f"{'would be' if self.dry_run else 'is'} left: the lists built on {year} wait for "
                f"its registry (deliver the registry of {year})"
            )
        for copy, problem in self.not_moved:
            lines.append(
                f"  NOT MOVED: {copy} ({problem}). `eduq rebuild` would load it again: run "
                f"`eduq withdraw {self.file_id}` again, or move it out of the archive by hand"
            )
        if self.not_recorded:
            lines.append(
                f"  NOT RECORDED for `eduq rebuild` ({self.not_recorded}): a rebuild would not load "
                f"the file, and would not keep its withdrawal either. Run `eduq withdraw "
                f"{self.file_id}` again to record it"
            )
        if self.dry_run:
            lines.append("Nothing was changed (--dry-run).")
        elif not self.finishing:
            lines.append(
                "Nothing is published from the serving warehouse until the next `eduq run` has "
                "built and checked it without the file; that run publishes the lists it changes as "
                "new versions (the versions published before stay)."
            )
        return "\n".join(lines)


def withdraw(
    settings: Settings,
    file: str,
    reason: str,
    dry_run: bool = False,
    at: dt.datetime | None = None,
) -> Withdrawal:
    """Withdraw the delivered file ``file`` (its file id, or its name as delivered) for ``reason``
    (see the module docstring); ``at``: when it was withdrawn (a rebuild's replay), else now."""
    if not settings.candidate_db.exists():
        raise WithdrawRefused(
            f"there is no warehouse in {settings.warehouse_dir}: nothing was delivered"
        )
    from core.duck import WarehouseHeld
    from ingestion.warehouse import connect

    with settings.writer_lock("`eduq withdraw`"):
        try:
            con = connect(settings.candidate_db, settings=settings)
        except WarehouseHeld:  # held open by another process: waited for, and said
            raise
        except duckdb.IOException as exc:  # a file it cannot write
            raise WithdrawRefused(
                f"the warehouse {settings.candidate_db} cannot be opened for writing ({exc}); "
                "close what holds it and withdraw again"
            ) from exc
        try:
            if not dry_run:
                return withdraw_on(con, settings, file, reason, at)
            # a dry run in a transaction it rolls back: not even the schema's new columns stay
            con.execute("begin transaction")
            try:
                return _withdraw(con, settings, file, reason, dry_run=True)
            finally:
                con.execute("rollback")
        finally:
            con.close()


def withdraw_on(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    file: str,
    reason: str,
    at: dt.datetime | None = None,
    hold_publications: bool = True,
) -> Withdrawal:
    """The withdrawal through ``con`` (the caller holds the writer lock): one transaction, then the
    archived copies moved and the withdrawal recorded. ``hold_publications``: note it until the
    next promotion (a rebuild's replay does not: its pipeline builds without the file at once)."""
    con.execute("begin transaction")
    try:
        withdrawal = _withdraw(con, settings, file, reason, False, at, hold_publications)
    except BaseException:
        con.execute("rollback")
        raise
    con.execute("commit")
    # after the commit: a copy left in the archive is said, and withdrawing again moves it (the
    # other order could lose a delivery that is still loaded: `eduq rebuild` would skip it)
    _move_archived(withdrawal)
    _record(settings, withdrawal)
    return withdrawal


def _withdraw(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    file: str,
    reason: str,
    dry_run: bool,
    at: dt.datetime | None = None,
    hold_publications: bool = True,
) -> Withdrawal:
    """The withdrawal in the open transaction of ``con``; the note that holds publications back
    is written before the commit (a commit that then fails leaves a note too many: publications
    wait for a run, which is safe; the other order could publish the withdrawn rows)."""
    from core.withdrawals import note_pending, pending_withdrawals
    from ingestion.warehouse import ensure_raw_schema

    ensure_raw_schema(con)
    found = _find(con, file)
    if found[3] == WITHDRAWN:  # withdrawn before: its archived copies may still be to move
        withdrawal = _describe(con, settings, found, found[7] or reason.strip(), dry_run)
        withdrawal.finishing = True
        # when it was withdrawn, and the last file delivered before (for its record)
        at, after = con.execute(
            "select w.withdrawn_at, (select max(file_id) from raw._load_log "
            "where loaded_at <= w.withdrawn_at) from raw._load_log as w where w.file_id = ?",
            [found[0]],
        ).fetchone()
        withdrawal.withdrawn_at = at or withdrawal.withdrawn_at
        withdrawal.after_file_id = after or found[0]
        pending = {w.get("file_id") for w in pending_withdrawals(settings.serving_db)}
        lost = found[0] not in pending and _served_as_loaded(settings, found[0])
        if not dry_run and hold_publications and lost:
            note_pending(settings.serving_db, withdrawal.note())  # its note was lost
        return withdrawal
    if not reason.strip():
        raise WithdrawRefused("say why the file is withdrawn (--reason): it is kept with the file")
    _refuse_personal_reason(con, found, reason)
    withdrawal = _describe(con, settings, found, reason.strip(), dry_run)
    if at is not None:
        withdrawal.withdrawn_at = at.replace(microsecond=0)
    (withdrawal.after_file_id,) = con.execute("select max(file_id) from raw._load_log").fetchone()
    _write(con, withdrawal)
    if not dry_run and hold_publications:
        note_pending(settings.serving_db, withdrawal.note())
    return withdrawal


def _served_as_loaded(settings: Settings, file_id: int) -> bool:
    """Whether the serving warehouse still holds the rows of ``file_id`` (built before it was
    withdrawn)."""
    from core import duck

    if not settings.serving_db.exists():
        return False
    try:
        with duck.connect(settings.serving_db, settings, read_only=True) as serving:
            row = serving.execute(
                "select status from meta.load_log where file_id = ?", [file_id]
            ).fetchone()
    except duckdb.Error:
        return True  # cannot tell: hold publications back
    return row is not None and row[0] != WITHDRAWN


def _find(con: duckdb.DuckDBPyConnection, file: str) -> tuple:
    """The load-log line of the delivered file named by its id or its name."""
    columns = (
        "file_id, source, file_name, status, years, archived_path, released_from_file_id, "
        "withdrawn_reason, file_hash, layout"
    )
    text = file.strip()
    if text.isdigit():
        rows = con.execute(
            f"select {columns} from raw._load_log where file_id = ?", [int(text)]
        ).fetchall()
    else:
        rows = con.execute(
            f"select {columns} from raw._load_log where file_name = ? "
            "and released_from_file_id is null order by file_id",  # (not its releases' lines)
            [Path(text).name],
        ).fetchall()
    if not rows:
        raise WithdrawRefused(
            f'no delivered file {text!r} in the load log (raw._load_log; `eduq sql "select '
            'file_id, file_name, status from meta.load_log"` lists them)'
        )
    # a loaded file of the name before one withdrawn already (whose archived copies may still be
    # to move: withdrawing it again finishes that)
    loaded = [r for r in rows if r[3] in WITHDRAWABLE] or [r for r in rows if r[3] == WITHDRAWN]
    if len(loaded) > 1:
        listed = "; ".join(f"file {r[0]} ({r[1]}, years {r[4]}, {r[3]})" for r in loaded)
        raise WithdrawRefused(
            f"{len(loaded)} {loaded[0][3]} files are named {text!r}: {listed}. Name one by its "
            "file id"
        )
    if not loaded:
        row = rows[-1]
        raise WithdrawRefused(
            f"file {row[0]} «{row[2]}» was not loaded (status {row[3]}): it has no rows to withdraw"
        )
    row = loaded[0]
    if row[6] is not None:
        # a release is part of its delivered file: the file is withdrawn whole
        return _find(con, str(row[6]))
    return row


def _refuse_personal_reason(con: duckdb.DuckDBPyConnection, row: tuple, reason: str) -> None:
    """A reason is kept with the file and published in the lists' manifests: it may not name a
    participant code of the file (personal data)."""
    import re

    from core.duck import quote_identifier
    from ingestion.contract import load_contracts

    file_id, source = row[0], row[1]
    words = sorted(set(re.findall(r"[\w-]+", reason)))
    if not words or "participant_code" not in load_contracts()[source].table_columns:
        return
    named = con.execute(
        f"select distinct cast(participant_code as varchar) from raw.{quote_identifier(source)} "
        "where (_file_id = ? or _released_from_file_id = ?) and cast(participant_code as varchar) "
        "in (select unnest(?::varchar[]))",
        [file_id, file_id, words],
    ).fetchall()
    if named:
        raise WithdrawRefused(
            f"the reason names {len(named)} participant code(s) of the file: it is kept with the file "
            "and published in the lists' manifests, so say why without personal data"
        )


def _describe(
    con: duckdb.DuckDBPyConnection, settings: Settings, row: tuple, reason: str, dry_run: bool
) -> Withdrawal:
    from core.duck import quote_identifier

    file_id, source, file_name, _status, years, archived, _, _, file_hash, layout = row
    released = [
        r[0]
        for r in con.execute(
            "select file_id from raw._load_log where released_from_file_id = ? and status = "
            "'released' order by file_id",
            [file_id],
        ).fetchall()
    ]
    table = f"raw.{quote_identifier(source)}"
    (rows,) = con.execute(
        f"select count(*) from {table} where _file_id = ? or _released_from_file_id = ?",
        [file_id, file_id],
    ).fetchone()
    (quarantined,) = con.execute(
        "select count(distinct row_number) from raw._quarantine where file_id = ? "
        "and resolved_in_file_id is null",
        [file_id],
    ).fetchone()
    moves = []
    for path in [archived, *_duplicates_of(con, source, file_id, file_name, file_hash, layout)]:
        if not path:
            continue
        # where it is archived (a withdrawal whose move failed recorded where it was to go)
        copy = settings.archive_dir / Path(path).parent.name / Path(path).name
        if copy.exists():
            moves.append((copy, settings.withdrawn_dir / copy.parent.name / copy.name, path))
    archived_to = settings.withdrawn_dir / source / Path(archived).name if archived else None
    return Withdrawal(
        file_id=file_id,
        source=source,
        file_name=file_name,
        years=years,
        reason=reason,
        rows_removed=rows,
        released_lines=released,
        rows_quarantined=quarantined,
        archived_to=archived_to,
        moves=moves,
        dry_run=dry_run,
    )


def _duplicates_of(
    con: duckdb.DuckDBPyConnection,
    source: str,
    file_id: int,
    file_name: str,
    file_hash: str,
    layout: str | None,
) -> list[str]:
    """The archived copies of the files skipped as duplicates of this one: the same bytes delivered
    after it under a name that gives the same delivery (ingestion.loader.delivery_key)."""
    import json

    from ingestion import readers
    from ingestion.contract import load_contracts
    from ingestion.loader import delivery_key

    contract = load_contracts().get(source)
    parsed = readers.FileLayout.from_json(json.loads(layout)) if layout else None
    key = delivery_key(contract, parsed, Path(file_name), file_hash)
    return [
        archived
        for name, archived in con.execute(
            "select file_name, archived_path from raw._load_log where status = 'duplicate' "
            "and file_hash = ? and file_id > ? order by file_id",
            [file_hash, file_id],
        ).fetchall()
        if archived and delivery_key(contract, parsed, Path(name), file_hash) == key
    ]


def _move_archived(withdrawal: Withdrawal) -> None:
    """Move the archived copies aside (after the commit). A copy that cannot be moved is said."""
    if withdrawal.dry_run:
        return
    for copy, target, _ in withdrawal.moves:
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            if target.exists():
                raise FileExistsError(f"{target} exists already")
            shutil.move(str(copy), target)
        except OSError as exc:
            withdrawal.not_moved.append((copy, str(exc)))


def withdrawal_records(withdrawn_dir: Path) -> list[dict[str, Any]]:
    """The withdrawals recorded in ``withdrawn_dir`` (withdrawals.jsonl), one per file in the order
    they were made, with every copy moved for it (withdrawing again records the copies it moved
    then); a line that cannot be read is skipped (its copies stay aside: not loaded again)."""
    import json

    try:
        lines = (withdrawn_dir / RECORDS).read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return []
    records: dict[int, dict[str, Any]] = {}
    for line in lines:
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if not _well_formed(record):
            continue
        if record["file_id"] in records:
            known = records[record["file_id"]]["copies"]
            known += [c for c in record["copies"] if c not in known]
        else:
            records[record["file_id"]] = record
    return list(records.values())


def _well_formed(record: object) -> bool:
    """Whether a line of withdrawals.jsonl can be withdrawn again: ids that are whole numbers, a
    reason, an ISO time, and copies named by relative paths."""
    if not isinstance(record, dict) or not REQUIRED <= record.keys():
        return False
    ids = (record["file_id"], record["after_file_id"])
    if not all(isinstance(i, int) and not isinstance(i, bool) for i in ids):
        return False
    if not isinstance(record["reason"], str) or not record["reason"].strip():
        return False
    copies = record["copies"]
    if not isinstance(copies, list) or not all(
        isinstance(c, str) and c and not Path(c).is_absolute() and ".." not in Path(c).parts
        for c in copies
    ):
        return False
    try:
        dt.datetime.fromisoformat(str(record["withdrawn_at"]))
    except ValueError:
        return False
    return True


def _record(settings: Settings, withdrawal: Withdrawal) -> None:
    """Append the withdrawal to withdrawals.jsonl (after the moves: the copies it names are moved;
    withdrawing a file again appends the copies moved then)."""
    import json
    import os

    if withdrawal.dry_run:
        return
    directory = settings.withdrawn_dir
    record = {
        "file_id": withdrawal.file_id,
        "file_name": withdrawal.file_name,
        "source": withdrawal.source,
        "reason": withdrawal.reason,
        "withdrawn_at": withdrawal.withdrawn_at.isoformat(),
        "after_file_id": withdrawal.after_file_id,
        "copies": [target.relative_to(directory).as_posix() for target in withdrawal.moved],
    }
    own = withdrawal.archived_to
    if withdrawal.finishing and own is not None and own.is_file():  # moved by the first withdrawal
        mine = own.relative_to(directory).as_posix()
        record["copies"] = [mine] + [c for c in record["copies"] if c != mine]
    try:
        directory.mkdir(parents=True, exist_ok=True)
        with open(directory / RECORDS, "a", encoding="utf-8") as out:
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
            out.flush()
            os.fsync(out.fileno())
    except OSError as exc:
        withdrawal.not_recorded = str(exc)


def _write(con: duckdb.DuckDBPyConnection, withdrawal: Withdrawal) -> None:
    """The withdrawal in the open transaction of ``con`` (with what it leaves without a school)."""
    from core.duck import quote_identifier
    from ingestion.contract import load_contracts
    from ingestion.loader import _known_codes_table

    file_id = withdrawal.file_id
    reference = load_contracts()[withdrawal.source].role == "reference"
    if reference:
        con.execute(f"create or replace temp table _known_before as from {_known_codes_table(con)}")
    con.execute(
        f"delete from raw.{quote_identifier(withdrawal.source)} "
        "where _file_id = ? or _released_from_file_id = ?",
        [file_id, file_id],
    )
    if reference:
        withdrawal.orphaned = _orphaned(con, _known_codes_table(con))
    if withdrawal.source == "schools":
        withdrawal.years_without_registry = _years_without_registry(con)
    con.execute(
        f"""update raw._load_log
            set status = '{WITHDRAWN}', withdrawn_at = ?, withdrawn_reason = ?
            where (file_id = ? or released_from_file_id = ?) and status in ('loaded', 'released')""",
        [withdrawal.withdrawn_at, withdrawal.reason, file_id, file_id],
    )
    # where its archived copy and its duplicates' copies are kept from now on
    for _copy, target, recorded in withdrawal.moves:
        con.execute(
            "update raw._load_log set archived_path = ? where archived_path = ? "
            "and (file_id = ? or status = 'duplicate')",
            [str(target), recorded, file_id],
        )


def _orphaned(con: duckdb.DuckDBPyConnection, known_now: str) -> list[tuple[str, int, int]]:
    """(source, rows, files) of the fact rows whose school code was known before the reference
    file's rows left (temp table _known_before) and is not now."""
    from core.duck import quote_identifier
    from ingestion.contract import load_contracts

    con.execute(
        "create or replace temp table _known_lost as "
        f"select code from _known_before except select code from {known_now}"
    )
    found = []
    if con.execute("select count(*) from _known_lost").fetchone()[0]:
        for contract in load_contracts().values():
            if not contract.checks_school_codes:
                continue
            rows, files = con.execute(
                f"select count(*), count(distinct _file_id) from raw.{quote_identifier(contract.source)} "
                f"where {quote_identifier(contract.school_column)} in (select code from _known_lost)"
            ).fetchone()
            if rows:
                found.append((contract.source, rows, files))
    con.execute("drop table if exists _known_lost")
    con.execute("drop table if exists _known_before")
    return found


def _years_without_registry(con: duckdb.DuckDBPyConnection) -> list[int]:
    """Results years with loaded results (ВПР, ОГЭ/ЕГЭ) and no registry row."""
    return [
        r[0]
        for r in con.execute(
            """select distinct year from (
                   select distinct year from raw.vpr_results
                   union select distinct year from raw.gia_results
                   union select distinct year from raw.vpr_school_stats
               ) as results
               where year is not null
                 and year not in (select distinct year from raw.schools where year is not null)
               order by 1"""
        ).fetchall()
    ]
