"""Small files of one source checked and written together, as loading them one by one would.

A region's reference and survey files are small (a few hundred to a few ten thousand rows) and
many (a country's 1,104 of them: 20 of an 80 s load). Each cost a dozen statements of its own
whatever its size, most of it DuckDB planning the typing statement. Consecutive queued files of a
source with the same layout (same header, delimiter, encoding: one template) form a batch:

- each file is staged as it would be alone (DuckDB's CSV reader), then the batch's rows are typed
  and checked in one statement set, each row keyed ``part * PART + its row number``
  (:data:`ingestion.validate.PART`: duplicates are judged within a file) and carrying its file's
  year (``_file_year``, where the contract takes the year from the file name);
- the batch is written in one transaction: every file its own file id (in queue order, as file by
  file), its rows, its quarantined rows, its line in the load log; then each file is archived.

What the batch loads is what loading each file alone would: the same rows, row numbers, file
ids, quarantine reasons and load-log lines (a property test compares both). Anything that would
make a file's outcome its own — a file DuckDB's reader cannot stage, one without data rows, one
whose every row fails, an enum column with more distinct texts across the batch than a file's
map holds (VALUE_MAP_LIMIT), a file changed while it was being loaded, any error before the
commit — sends the batch back to loading file by file (:func:`check_batch` returns None;
:func:`write_batch` raises, nothing written). The files are archived after the commit
(:func:`archive_batch`): an error there stops the run, as it does after a file written alone.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from core.settings import Settings
from ingestion import readers
from ingestion.contract import Contract
from ingestion.errors import IngestionError
from ingestion.loader import (
    Bookkeeping,
    FileOutcome,
    _drop_tables,
    _now,
    archive_loaded,
    record_loaded,
    write_transaction,
    year_from_filename,
)
from ingestion.validate import PART, Validated, ValidationContext, Validator, validate
from ingestion.warehouse import insert_rows, next_file_id

log = logging.getLogger(__name__)

FILE_YEAR = "_file_year"
# a file larger than this is loaded alone: its own statements are a small part of its cost
MAX_FILE_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True)
class BatchFile:
    """One queued file of a batch (what :class:`ingestion.loader._Queued` knows of it)."""

    landing_path: str
    file_hash: str
    size: int
    layout: readers.FileLayout
    queued_at: object
    file_identity: str | None

    @property
    def path(self) -> Path:
        return Path(self.landing_path)


@dataclass
class CheckedBatch:
    """A batch staged and validated, not written: per file (part) its rows read, quarantined rows
    and years; ``validated`` holds every file's rows (temp tables of the cursor)."""

    contract: Contract
    files: list[BatchFile]
    relation: str
    validated: Validated
    validator: Validator
    rows_read: list[int]
    rows_quarantined: list[int]
    years: list[str | None]
    tables: list[str] = field(default_factory=list)


def can_join(layout: readers.FileLayout, size: int) -> bool:
    """A file that may be loaded with others of its layout: a CSV file (staged by DuckDB's reader
    when its lines are records) small enough, whose columns without a header are none (which of
    them hold anything is a file's own: its rows' ``_extra``)."""
    if layout.kind != "csv" or layout.sheet or size > MAX_FILE_BYTES:
        return False
    if layout.newline != "\n" or layout.header_lines is None:
        return False
    unmapped = [i for i in range(layout.width) if i not in layout.mapping]
    return all(layout.headers[i].strip() for i in unmapped)


def check_batch(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    contract: Contract,
    files: list[BatchFile],
    number: int,
    known_codes_table: str | None,
    registry_empty: bool,
) -> CheckedBatch | None:
    """Stage and validate ``files`` together; None when any of them must be loaded alone."""
    prefix = f"_batch_{number}"
    tables: list[str] = []
    try:
        parts = []
        for i, item in enumerate(files):
            staged = readers.stage(con, item.path, item.layout, f"{prefix}_{i}")
            tables += staged.tables
            if staged.method != "duckdb" or staged.rows_read == 0:
                _drop_tables(con, tables)
                return None
            parts.append(staged)
        width = files[0].layout.width
        cells = ", ".join(f"c{i}" for i in range(width))
        union = " union all ".join(
            f"select _row_number + {i * PART} as _row_number, _overflow, {cells}, "
            f"cast({_file_year(contract, item)} as integer) as {FILE_YEAR} from {staged.relation}"
            for i, (item, staged) in enumerate(zip(files, parts, strict=True))
        )
        con.execute(f"create or replace temp table {prefix} as {union}")
        _drop_tables(con, tables)
        tables = [prefix]
        together = readers.StagedFile(
            prefix,
            sum(p.rows_read for p in parts),
            [prefix],
            "duckdb",
            plain_cells=all(p.plain_cells for p in parts),
        )
        ctx = ValidationContext(
            max_year=settings.today.year,
            known_school_codes_table=known_codes_table,
            registry_empty=registry_empty,
            file_year_column=FILE_YEAR if contract.year.from_filename else None,
        )
        validated = validate(con, contract, together, files[0].layout, ctx, prefix)
        tables += validated.tables
        if not validated.value_maps_complete:  # more distinct texts than one file alone has
            _drop_tables(con, tables)
            return None
        # rows read: staged rows but blank ones, as for a file alone
        rows_read = [p.rows_read - validated.blank_by_part.get(i, 0) for i, p in enumerate(parts)]
        quarantined = (
            _per_part(
                con,
                f"select _row_number // {PART}, count(distinct _row_number) "
                f"from {validated.failures} group by 1",
                files,
            )
            if validated.has_failures
            else [0] * len(files)
        )
        # a file with no data rows is rejected, one whose rows all fail may be: alone, as ever
        if any(n == 0 or q == n for n, q in zip(rows_read, quarantined, strict=True)):
            _drop_tables(con, tables)
            return None
        years: list[str | None] = [None] * len(files)
        if contract.has_year:
            found: dict[int, list[str]] = {}
            for part, year in con.execute(
                f"select distinct _row_number // {PART}, year from {validated.typed} "
                "where year is not null order by 1, 2"
            ).fetchall():
                found.setdefault(int(part), []).append(str(year))
            years = [",".join(found[i]) if i in found else "" for i in range(len(files))]
    except (IngestionError, duckdb.Error):  # loaded file by file, each with its own outcome
        _drop_tables(con, tables)
        return None
    except BaseException:
        _drop_tables(con, tables)
        raise
    validator = Validator(contract, files[0].layout, ctx, together.plain_cells)
    validator.extra_keys = validated.extra_keys
    return CheckedBatch(
        contract, files, prefix, validated, validator, rows_read, quarantined, years, tables
    )


def _file_year(contract: Contract, item: BatchFile) -> str:
    year = year_from_filename(item.path) if contract.year.from_filename else None
    return "null" if year is None else str(int(year))


def _per_part(con: duckdb.DuckDBPyConnection, sql: str, files: list[BatchFile]) -> list[int]:
    counts = dict(con.execute(sql).fetchall())
    return [int(counts.get(i, 0)) for i in range(len(files))]


def write_batch(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    batch: CheckedBatch,
    run_id: str | None,
) -> tuple[list[FileOutcome], list[Path]]:
    """Write a checked batch in one transaction, each file with the next file id in order; returns
    the outcomes and where :func:`archive_batch` moves the files. Raises (nothing written) when
    any file changed since it was hashed or the counts do not add up: the caller loads the batch's
    files one by one."""
    contract, files = batch.contract, batch.files
    typed, failures = batch.validated.typed, batch.validated.failures
    parts = f"{batch.relation}_parts"
    try:
        first_id = next_file_id(con)
        ids = [first_id + i for i in range(len(files))]
        con.execute(
            f"create or replace temp table {parts} "
            "(part bigint, file_id bigint, file_name varchar, file_hash varchar)"
        )
        insert_rows(
            con,
            f"insert into {parts}",
            [[i, ids[i], f.path.name, f.file_hash] for i, f in enumerate(files)],
        )
        columns = ", ".join(f't."{c}"' for c in contract.table_columns)
        names = ", ".join(f'"{c}"' for c in contract.table_columns)
        good = (
            f"from {typed} as t join {parts} as p on t._row_number // {PART} = p.part where t._ok"
        )
        if batch.validated.has_failures:
            good += f" and t._row_number not in (select _row_number from {failures})"
        loaded = _per_part(con, f"select p.part, count(*) {good} group by 1", files)
        loaded_at = _now()
        for item in files:
            item.layout.extra["parsed_by"] = "duckdb"
        with write_transaction(con):
            con.execute(
                f"""
                insert into raw.{contract.source} ({names}, _extra, _file_id, _source_file, _file_hash,
                    _row_number, _loaded_at)
                select {columns}, t._extra, p.file_id, p.file_name, p.file_hash, t._row_number % {PART}, ?
                {good}
                order by t._row_number
                """,
                [loaded_at],
            )
            if batch.validated.has_failures:
                failing = (
                    f"(select * from {batch.relation} "
                    f"where _row_number in (select _row_number from {failures}))"
                )
                con.execute(
                    f"""
                    insert into raw._quarantine (file_id, source, file_name, file_hash, row_number,
                        column_name, value, reason, row_values, quarantined_at, reason_code)
                    select p.file_id, ?, p.file_name, p.file_hash, f._row_number % {PART}, f.column_name,
                        f.value, f.reason, v.row_values, ?, f.reason_code
                    from {failures} as f
                    join {parts} as p on f._row_number // {PART} = p.part
                    left join ({batch.validator.row_values_sql(failing)}) as v using (_row_number)
                    order by f._row_number, f.column_name
                    """,
                    [contract.source, loaded_at],
                )
            outcomes, destinations = [], []
            book = Bookkeeping()
            for i, item in enumerate(files):
                outcome, dest = record_loaded(
                    con,
                    settings,
                    contract=contract,
                    path=item.path,
                    file_id=ids[i],
                    file_hash=item.file_hash,
                    size=item.size,
                    read=batch.rows_read[i],
                    loaded=loaded[i],
                    quarantined=batch.rows_quarantined[i],
                    failures=f"(select * from {failures} where _row_number // {PART} = {i})",
                    layout=item.layout,
                    years=batch.years[i],
                    received_at=item.queued_at,
                    run_id=run_id,
                    dequeue=item.landing_path,
                    file_identity=item.file_identity,
                    bookkeeping=book,
                )
                outcomes.append(outcome)
                destinations.append(dest)
            book.write(con)
    finally:
        try:
            con.execute(f"drop table if exists {parts}")
        except duckdb.Error as exc:  # a temp table: the cursor's close drops it anyway
            log.debug("could not drop %s: %s", parts, exc)
    return outcomes, destinations


def archive_batch(
    batch: CheckedBatch, outcomes: list[FileOutcome], destinations: list[Path]
) -> None:
    """Move a written batch's files to the archive (after the commit, as a file loaded alone:
    killed in between, a file is loaded and still in the landing folder, and the next run skips
    it as already delivered)."""
    for item, outcome, dest in zip(batch.files, outcomes, destinations, strict=True):
        archive_loaded(item.path, dest, outcome)
