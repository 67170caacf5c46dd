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
- moves its archived copy from ``archive/<source>/`` to ``withdrawn/<source>/`` (back again if the
  transaction fails), so that `eduq rebuild` does not load it again; nothing is deleted.

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

import duckdb

from core.errors import EduqError
from core.settings import Settings

WITHDRAWN = "withdrawn"
WITHDRAWABLE = ("loaded", "released")


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
    archived_from: Path | None = None
    archived_to: Path | None = None
    dry_run: bool = False

    def render(self) -> str:
        years = f", years {self.years}" if self.years else ""
        done = "Would withdraw" if self.dry_run else "Withdrawn"
        lines = [
            f"{done}: file {self.file_id} «{self.file_name}» ({self.source}{years}), "
            + f"reason: {self.reason}",
            f"  {self.rows_removed} rows {'would be ' if self.dry_run else ''}removed from "
            f"raw.{self.source}"
            + (
                f" (with those released from its quarantine by load-log line(s) "
                f"{', '.join(map(str, self.released_lines))})"
                if self.released_lines
                else ""
            )
            + (
                f"; its {self.rows_quarantined} quarantined rows stay in raw._quarantine and are "
                "never released"
                if self.rows_quarantined
                else ""
            ),
        ]
        if self.archived_from is not None:
            lines.append(
                f"  archived copy {'would move' if self.dry_run else 'moved'} to "
                f"{self.archived_to} (`eduq rebuild` does not load it again)"
            )
        if self.dry_run:
            lines.append("Nothing was changed (--dry-run).")
        else:
            lines.append(
                "The next `eduq run` builds and checks the warehouse without it and publishes the "
                "lists it changes as new versions (the versions published before stay)."
            )
        return "\n".join(lines)


def withdraw(settings: Settings, file: str, reason: str, dry_run: bool = False) -> Withdrawal:
    """Withdraw the delivered file ``file`` (its file id, or its name as delivered) for ``reason``
    (see the module docstring)."""
    if not reason.strip():
        raise WithdrawRefused("say why the file is withdrawn (--reason): it is kept with the file")
    if not settings.candidate_db.exists():
        raise WithdrawRefused(
            f"there is no warehouse in {settings.warehouse_dir}: nothing was delivered"
        )
    from ingestion.loader import write_transaction
    from ingestion.warehouse import connect, ensure_raw_schema

    with settings.writer_lock("`eduq withdraw`"):
        con = connect(settings.candidate_db, settings=settings)
        try:
            ensure_raw_schema(con)
            found = _find(con, file)
            withdrawal = _describe(con, settings, found, reason.strip(), dry_run)
            if dry_run:
                return withdrawal
            moved = _move_archived(withdrawal)
            try:
                with write_transaction(con):
                    _write(con, withdrawal)
                con.execute("checkpoint")
            except BaseException:
                if moved:
                    shutil.move(str(withdrawal.archived_to), withdrawal.archived_from)
                raise
            return withdrawal
        finally:
            con.close()


def _find(con: duckdb.DuckDBPyConnection, file: str) -> tuple:
    """The load-log line of the delivered file named by its id or its name."""
    columns = "file_id, source, file_name, status, years, archived_path, released_from_file_id"
    text = file.strip()
    if text.isdigit():
        rows = con.execute(
            f"select {columns} from raw._load_log where file_id = ?", [int(text)]
        ).fetchall()
    else:
        rows = con.execute(
            f"select {columns} from raw._load_log where file_name = ? and status <> 'released' "
            "order by file_id",
            [Path(text).name],
        ).fetchall()
    if not rows:
        raise WithdrawRefused(
            f'no delivered file {text!r} in the load log (raw._load_log; `eduq sql "select '
            'file_id, file_name, status from meta.load_log"` lists them)'
        )
    loaded = [r for r in rows if r[3] in WITHDRAWABLE]
    if len(loaded) > 1:
        listed = "; ".join(f"file {r[0]} ({r[1]}, years {r[4]})" for r in loaded)
        raise WithdrawRefused(
            f"{len(loaded)} loaded files are named {text!r}: {listed}. Name one by its file id"
        )
    if not loaded:
        row = rows[-1]
        raise WithdrawRefused(
            f"file {row[0]} «{row[2]}» was not loaded (status {row[3]}): it has no rows to withdraw"
        )
    row = loaded[0]
    if row[3] == "released":
        # a release is part of its delivered file: the file is withdrawn whole
        return _find(con, str(row[6]))
    return row


def _describe(
    con: duckdb.DuckDBPyConnection, settings: Settings, row: tuple, reason: str, dry_run: bool
) -> Withdrawal:
    from core.duck import quote_identifier

    file_id, source, file_name, _status, years, archived, _ = row
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
    archived_from = Path(archived) if archived else None
    archived_to = None
    if archived_from is not None and archived_from.exists():
        archived_to = settings.withdrawn_dir / source / archived_from.name
    else:
        archived_from = None  # nothing archived (or already moved by hand): nothing to move
    return Withdrawal(
        file_id=file_id,
        source=source,
        file_name=file_name,
        years=years,
        reason=reason,
        rows_removed=rows,
        released_lines=released,
        rows_quarantined=quarantined,
        archived_from=archived_from,
        archived_to=archived_to,
        dry_run=dry_run,
    )


def _move_archived(withdrawal: Withdrawal) -> bool:
    if withdrawal.archived_from is None or withdrawal.archived_to is None:
        return False
    withdrawal.archived_to.parent.mkdir(parents=True, exist_ok=True)
    if withdrawal.archived_to.exists():
        raise WithdrawRefused(
            f"{withdrawal.archived_to} exists already: move it away and withdraw the file again"
        )
    shutil.move(str(withdrawal.archived_from), withdrawal.archived_to)
    return True


def _write(con: duckdb.DuckDBPyConnection, withdrawal: Withdrawal) -> None:
    from core.duck import quote_identifier

    file_id = withdrawal.file_id
    con.execute(
        f"delete from raw.{quote_identifier(withdrawal.source)} "
        "where _file_id = ? or _released_from_file_id = ?",
        [file_id, file_id],
    )
    archived = str(withdrawal.archived_to) if withdrawal.archived_to is not None else None
    con.execute(
        f"""update raw._load_log
            set status = '{WITHDRAWN}', withdrawn_at = ?, withdrawn_reason = ?,
                archived_path = case when file_id = ? and ? is not null then ? else archived_path end
            where (file_id = ? or released_from_file_id = ?) and status in ('loaded', 'released')""",
        [
            dt.datetime.now().replace(microsecond=0),
            withdrawal.reason,
            file_id,
            archived,
            archived,
            file_id,
            file_id,
        ],
    )
