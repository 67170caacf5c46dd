"""``eduq check-files``: what the loader would do with a folder of files, without loading them.

A regional analyst checks a delivery before the night: for every file, which source it is
recognised as, its year(s), the rows read, the rows that would be quarantined and the first
reasons, or why it would be rejected, or that it was delivered already.

It is the loader itself (:func:`ingestion.loader.ingest_all` with ``dry_run=True``), run
against a scratch in-memory database: the same recognition, staging, validation and
delivery rules, no second implementation. Nothing is written anywhere: the files stay where
they are, the warehouse is only read.

School codes are checked as the night run would check them: against the registry, crosswalk
and successors already in the warehouse the loader writes (``candidate.duckdb``, opened read-only,
if there is one; the serving file holds the public marts only) and against the reference files of
the same folder, which the loader loads before the facts. Files whose content the warehouse has
loaded already are reported as duplicates, as the night run would skip them.

Rows of earlier deliveries that wait in the warehouse's quarantine for a school code are said too
when their code is known with the folder's reference files: the night run releases them
(:mod:`ingestion.release`, the same selection of rows), unless another rule now refuses them.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from core import duck
from core.errors import EduqError
from core.settings import Settings
from ingestion.contract import load_contracts
from ingestion.loader import KNOWN_CODE_SOURCES, FileOutcome, ingest_all
from ingestion.validate import UNKNOWN_SCHOOL
from ingestion.warehouse import ensure_raw_schema

FIRST_REASONS = 3


class CheckFilesError(EduqError):
    """The folder to check cannot be checked (it does not exist, or is not a folder)."""


@dataclass
class FileCheck:
    """What the loader would do with one file."""

    path: str  # relative to the checked folder
    outcome: FileOutcome
    reasons: list[str] = field(default_factory=list)  # the first quarantine reasons

    @property
    def status(self) -> str:
        """``load`` | ``rejected`` | ``duplicate``."""
        return {"loaded": "load"}.get(self.outcome.status, self.outcome.status)

    def render(self) -> str:
        o = self.outcome
        lines = [self.path]
        if o.status == "rejected":
            lines.append(f"  → REJECTED: {_without_name(o.message, o.file_name)}")
        elif o.status == "duplicate":
            lines.append(
                "  → DUPLICATE: the same content as a file already delivered: it would be skipped"
            )
        else:
            contract = load_contracts()[o.source]
            years = (o.years or "").split(",") if o.years else []
            year = f", year{'s' if len(years) > 1 else ''} {', '.join(years)}" if years else ""
            quarantined = "0 quarantined"
            if o.rows_quarantined:
                by_reason = o.message.partition(" (")[2].removesuffix(")")
                quarantined = f"{o.rows_quarantined} would be quarantined ({by_reason})"
            lines.append(
                f"  → {o.source} «{contract.title_ru}»{year}: {_n(o.rows_read, 'row')} read, "
                f"{o.rows_loaded} would load, {quarantined}"
            )
            lines += [f"      {r}" for r in self.reasons]
            more = o.rows_quarantined - len(self.reasons)
            if self.reasons and more > 0:
                lines.append(f"      … and {_n(more, 'more row')}")
        return "\n".join(lines)


@dataclass
class Releasable:
    """Rows of earlier deliveries of one source, quarantined for a school code known now."""

    source: str
    rows: int
    files: list[str]  # the delivered files' names
    codes: list[str]

    def render(self) -> str:
        shown = ", ".join(self.codes[:5]) + (", …" if len(self.codes) > 5 else "")
        return (
            f"  {self.source}: {_n(self.rows, 'row')} of {_n(len(self.files), 'earlier file')} "
            f"({', '.join(self.files[:3])}{', …' if len(self.files) > 3 else ''}), codes {shown}"
        )


@dataclass
class CheckReport:
    folder: Path
    files: list[FileCheck]
    warehouse: Path | None  # the loader's warehouse, read for known codes and earlier deliveries
    warehouse_problem: str = ""  # why it could not be read, if it could not
    releasable: list[Releasable] = field(default_factory=list)

    def by_status(self, status: str) -> list[FileCheck]:
        return [f for f in self.files if f.status == status]

    @property
    def exit_code(self) -> int:
        """0 when every file would load or be skipped as a duplicate, 1 when one is rejected."""
        return 1 if self.by_status("rejected") else 0

    def render(self) -> str:
        if self.warehouse_problem:
            known = f"not the warehouse ({self.warehouse_problem}); only "
        elif self.warehouse:
            known = f"the warehouse ({self.warehouse}, read-only) and "
        else:
            known = "no warehouse yet; "
        head = [
            f"Checked {_n(len(self.files), 'file')} in {self.folder} "
            + "(a dry run: nothing was loaded, moved or written).",
            f"School codes and earlier deliveries: {known}the reference files of this folder.",
            "",
        ]
        load = self.by_status("load")
        rows = sum(f.outcome.rows_read for f in load)
        quarantined = sum(f.outcome.rows_quarantined for f in load)
        summary = (
            f"{_n(len(load), 'file')} would load ({_n(rows, 'row')} read, {quarantined} would be "
            "quarantined), "
            f"{len(self.by_status('rejected'))} would be rejected, "
            f"{len(self.by_status('duplicate'))} duplicate."
        )
        released = []
        if self.releasable:
            released = [
                "",
                (
                    "Rows of earlier deliveries in quarantine for a school code that is known now "
                    "(with this folder's reference files): the night run would load them, unless "
                    "another rule refuses them now:"
                ),
                *(r.render() for r in self.releasable),
            ]
        return "\n".join([*head, *(f.render() for f in self.files), "", summary, *released])


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _without_name(message: str, name: str) -> str:
    return message.removeprefix(f"{name}: ")


# which rows of the warehouse's tables are copied (all when not named): the loaded files' log lines;
# the quarantine lines of the rows of loaded files that wait for a school code, every reason of such
# a row (the release takes only rows with no other reason), when the quarantine has the columns
COPIED_ROWS = {
    "_load_log": "status = 'loaded'",
    "_quarantine": f"""resolved_in_file_id is null
        and file_id in (select file_id from warehouse.raw._load_log where status = 'loaded')
        and exists (
            select 1 from warehouse.raw._quarantine as u
            where u.file_id = _quarantine.file_id and u.row_number = _quarantine.row_number
                and u.reason_code = '{UNKNOWN_SCHOOL}' and u.resolved_in_file_id is null
        )""",
}
QUARANTINE_NEEDS = {"file_id", "row_number", "reason_code", "resolved_in_file_id"}


def _attach_warehouse(con: duckdb.DuckDBPyConnection, warehouse: Path) -> None:
    """Copy what the loader reads of an existing warehouse into the scratch database: the codes
    of the registry, crosswalk and successors, the log of loaded files (duplicates), and the
    quarantined rows that wait for a school code (the release's preview)."""
    con.execute(f"attach {duck.quote_literal(str(warehouse))} as warehouse (read_only)")
    con.execute("begin transaction")
    try:
        have = {}
        for table, column in con.execute(
            "select table_name, column_name from duckdb_columns() "
            "where database_name = 'warehouse' and schema_name = 'raw'"
        ).fetchall():
            have.setdefault(table, set()).add(column)
        ours = {}
        for table, column in con.execute(
            "select table_name, column_name from duckdb_columns() "
            "where database_name = current_database() and schema_name = 'raw'"
        ).fetchall():
            ours.setdefault(table, []).append(column)
        for table in (*KNOWN_CODE_SOURCES, "_load_log", "_quarantine"):
            columns = [c for c in ours.get(table, []) if c in have.get(table, set())]
            if not columns or (table == "_quarantine" and not QUARANTINE_NEEDS <= set(columns)):
                continue
            names = ", ".join(f'"{c}"' for c in columns)
            where = f" where {COPIED_ROWS[table]}" if table in COPIED_ROWS else ""
            con.execute(
                f"insert into raw.{table} ({names}) select {names} from warehouse.raw.{table}{where}"
            )
        con.execute("commit")
    except duckdb.Error:
        con.execute("rollback")  # all or nothing of the warehouse
        raise
    finally:
        # held no longer than the copy: while it is attached, a run cannot write it
        con.execute("detach warehouse")


def releasable_rows(con: duckdb.DuckDBPyConnection, up_to_file: int) -> list[Releasable]:
    """Per fact source, the rows of the warehouse's files (ids up to ``up_to_file``) that the night
    run's release would re-check: quarantined for a school code alone, the code known now."""
    from ingestion.loader import _known_codes_table
    from ingestion.release import pending_rows_sql

    known = None
    found = []
    for contract in load_contracts().values():
        if not contract.checks_school_codes:
            continue
        known = known or _known_codes_table(con)
        rows = con.execute(
            f"""select count(*), list(distinct log.file_name order by log.file_name),
                       list(distinct pending.code::varchar order by pending.code::varchar)
                from ({pending_rows_sql(contract, known)}) as pending
                join raw._load_log as log on log.file_id = pending.file_id
                where pending.file_id <= ?""",
            [up_to_file],
        ).fetchone()
        if rows[0]:
            found.append(Releasable(contract.source, rows[0], rows[1], rows[2]))
    return found


def quarantine_reasons(con: duckdb.DuckDBPyConnection, file_id: int, limit: int) -> list[str]:
    rows = con.execute(
        "select row_number, column_name, value, reason from raw._quarantine where file_id = ? "
        "and row_number in (select distinct row_number from raw._quarantine where file_id = ? "
        "order by row_number limit ?) order by row_number, column_name",
        [file_id, file_id, limit],
    ).fetchall()
    out = []
    for row, column, value, reason in rows:
        if column == "*":
            out.append(f"row {row}: {reason}")
        else:
            shown = f" «{value}»" if value is not None else ""
            out.append(f"row {row}, {column}{shown}: {reason}")
    return out


def check_files(
    folder: Path, settings: Settings, first_reasons: int = FIRST_REASONS
) -> CheckReport:
    """Run the loader over ``folder`` as a dry run and say, per file, what it would do."""
    folder = Path(folder).expanduser()
    if not folder.exists():
        raise CheckFilesError(f"no folder {folder}: give the folder of the files to check")
    if not folder.is_dir():
        raise CheckFilesError(f"{folder} is a file, not a folder: give the folder that holds it")
    folder = folder.resolve()
    scratch = dataclasses.replace(settings, landing_dir=folder)
    # the loader's own warehouse: the night run checks codes and duplicates against it
    warehouse = settings.candidate_db if settings.candidate_db.is_file() else None
    problem = ""
    with duck.connect(settings=settings) as con:
        ensure_raw_schema(con)
        if warehouse is not None:
            try:
                _attach_warehouse(con, warehouse)
            except duckdb.Error as exc:  # locked, damaged, another DuckDB version
                problem = (
                    f"cannot read {warehouse} now: another process holds it for writing (a run, "
                    "a withdrawal, a rebuild or a DuckDB session); check again when it is done"
                    if duck.is_lock_conflict(exc)
                    else f"cannot read {warehouse}: {str(exc).splitlines()[0]}"
                )
        # the warehouse's files end where the check's own begin
        (warehouse_files,) = con.execute(
            "select coalesce(max(file_id), 0) from raw._load_log"
        ).fetchone()
        survey, reports = ingest_all(con, scratch, dry_run=True)
        releasable = releasable_rows(con, warehouse_files) if warehouse_files else []
        outcomes = [o for o in survey.outcomes if o.status != "queued"]
        outcomes += [f for r in reports for f in r.files]
        files = []
        for o in outcomes:
            reasons = (
                quarantine_reasons(con, o.file_id, first_reasons)
                if o.status == "loaded" and o.rows_quarantined
                else []
            )
            relative = Path(o.landing_path).relative_to(folder).as_posix()
            files.append(FileCheck(relative, o, reasons))
    files.sort(key=lambda f: f.path)
    return CheckReport(folder, files, warehouse, problem, releasable)
