"""Landing folder → raw schema, exactly once per file content.

Two steps, each callable from a test, the CLI or a Dagster asset:

1. :func:`survey_landing` hashes every new file in the landing folder, skips (and archives)
   contents already loaded, recognises the source of the rest from the folder name, the file
   name or the header, and rejects what cannot be read (moved to ``landing/rejected/`` with
   a ``.reason.txt`` beside it). Recognised files wait in ``raw._landing_queue``.
2. :func:`load_source` loads the queued files of one source: rows that satisfy the contract
   go to ``raw.<source>``, the others to ``raw._quarantine``; every file gets a line in
   ``raw._load_log`` with rows read = loaded + quarantined, and is moved to the archive.

Loading one file is two steps, :func:`check_file` (stage, validate: what loading would do) and
:func:`write_file` (rows to ``raw``, quarantine, load log, archive). With ``dry_run=True`` every
function here runs the same way against a scratch database and leaves the files where they are:
nothing is moved, archived or rejected on disk (``eduq check-files``, :mod:`ingestion.check_files`).
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import itertools
import json
import logging
import re
import shutil
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Self

import duckdb

from core import progress
from core.files import file_identity, identity_of, sha256_file
from core.settings import Settings
from ingestion import readers
from ingestion.contract import Contract, get_contract, load_contracts, normalise_label
from ingestion.errors import (
    FileChangedWhileLoading,
    IngestionError,
    MissingYearError,
    NoDataRowsError,
    RowCountMismatchError,
)
from ingestion.release import Release, release_known_codes
from ingestion.validate import (
    NOT_DATA,
    REPEATED_HEADER,
    ROW_LEVEL,
    TOTAL_ROW,
    Validated,
    ValidationContext,
    Validator,
    validate,
)
from ingestion.warehouse import ensure_raw_schema, insert_rows, next_file_id

if TYPE_CHECKING:
    from ingestion.batches import CheckedBatch

log = logging.getLogger(__name__)

QUEUE_DDL = """
create table if not exists raw._landing_queue (
    landing_path varchar primary key,
    file_hash varchar,
    size_bytes bigint,
    source varchar,
    layout json,
    queued_at timestamp,
    modified_at timestamp,  -- the file's modification time: files of one batch load in this order
    file_identity varchar   -- core.files.file_identity when it was hashed (NULL: hash it again)
)
"""
YEAR_IN_NAME = re.compile(r"(?<!\d)(20\d{2}|19\d{2})(?!\d)")
# a date in a file name (a letter's, an export's): 15.01.2025, 15-01-2025, 15/01/2025, 2025-01-15
DATE_IN_NAME = re.compile(
    r"(?<!\d)\d{1,2}[./-]\d{1,2}[./-](?:19|20)\d{2}(?!\d)|(?<!\d)(?:19|20)\d{2}-\d{1,2}-\d{1,2}(?!\d)"
)
IGNORED_NAMES = {".ds_store", "thumbs.db", "region_manifest.json"}
# a file still being copied in: copy it as «name.xlsx.part», rename it when complete
PARTIAL_SUFFIXES = (".part", ".partial", ".tmp", ".crdownload", ".filepart", ".download")


@dataclass
class FileOutcome:
    file_name: str
    source: str | None
    status: str  # queued | loaded | rejected | duplicate
    rows_read: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    message: str = ""
    file_id: int | None = None
    years: str | None = None  # the years of the file's rows, e.g. "2023,2024"
    landing_path: str | None = None


@dataclass
class SurveyReport:
    outcomes: list[FileOutcome] = field(default_factory=list)

    def by_status(self, status: str) -> list[FileOutcome]:
        return [o for o in self.outcomes if o.status == status]


@dataclass
class SourceLoadReport:
    source: str
    files: list[FileOutcome] = field(default_factory=list)
    deferred: list[str] = field(default_factory=list)  # changed while loading: left for next run
    # quarantined rows of earlier files loaded now that their school code is known
    released: list[Release] = field(default_factory=list)

    @property
    def rows_read(self) -> int:
        return sum(f.rows_read for f in self.files)

    @property
    def rows_loaded(self) -> int:
        return sum(f.rows_loaded for f in self.files)

    @property
    def rows_quarantined(self) -> int:
        return sum(f.rows_quarantined for f in self.files)

    @property
    def rejected(self) -> list[FileOutcome]:
        return [f for f in self.files if f.status == "rejected"]


def _files(n: int) -> str:
    return f"{n} file{'' if n == 1 else 's'}"


def rejected_summary(messages: list[str]) -> str:
    """In words, for a check and the audit: «2 files rejected: a.csv: …; b.xlsx: … — …»."""
    if not messages:
        return "no file rejected"
    return (
        f"{_files(len(messages))} rejected: {'; '.join(messages)} — each waits in "
        "landing/rejected/ with <name>.reason.txt; fix it and drop it into the landing folder again"
    )


def quarantine_summary(
    by_reason: list[tuple[str, int]], files: int, rows_read: int, files_read: int
) -> str:
    """In words, for a check and the audit: «12 rows of 2 files quarantined: 8 unknown_school,
    4 total_row — see raw._quarantine»; ``by_reason``: (reason code, rows), most frequent first."""
    rows = sum(n for _, n in by_reason)
    if not rows:
        return (
            f"no row quarantined ({rows_read} row{'' if rows_read == 1 else 's'} read from "
            f"{_files(files_read)})"
            if files_read
            else "no row quarantined (no new file)"
        )
    reasons = ", ".join(f"{n} {code}" for code, n in by_reason)
    return (
        f"{rows} row{'' if rows == 1 else 's'} of {_files(files)} quarantined: {reasons} — see "
        "raw._quarantine (file, row, column, value, reason)"
    )


def file_sha256(path: Path) -> str:
    return sha256_file(path)


# a file changed within this many seconds before its identity was taken keeps no identity: the
# change time moves once per clock tick of the kernel (milliseconds), so a write in the same tick as
# the survey's stat would leave it equal (git's «racily clean» files); such a file is hashed again
RECENT_CHANGE_SECONDS = 2.0


def hash_with_identity(path: Path) -> tuple[str, str | None]:
    """The file's SHA-256 and its identity (core.files.file_identity), or None for the identity when
    the file changed while it was read or too recently to tell (:data:`RECENT_CHANGE_SECONDS`): an
    equal identity later then means the same bytes, without reading them again."""
    before = file_identity(path)
    file_hash = file_sha256(path)
    st = path.stat()
    after = identity_of(st)
    if after != before or time.time_ns() - st.st_ctime_ns < RECENT_CHANGE_SECONDS * 1e9:
        return file_hash, None
    return file_hash, after


def _hashed_in_order(paths: list[Path]) -> Iterator[tuple[Path, str, str | None]]:
    """Each path with :func:`hash_with_identity`, in order; hashing lets go of Python's lock, so the
    next files are hashed on other threads while the caller works on this one (a survey's time is
    mostly hashing). Leaving early cancels the hashing not yet started."""
    with ThreadPoolExecutor(2, thread_name_prefix="eduq-hash") as pool:
        hashing = [pool.submit(hash_with_identity, p) for p in paths]
        try:
            for path, hashed in zip(paths, hashing):
                yield path, *hashed.result()
        finally:
            for future in hashing:
                future.cancel()


def unchanged_since(path: Path, file_hash: str, identity: str | None) -> bool:
    """Whether ``path`` still holds the bytes hashed as ``file_hash``: by its identity when one was
    recorded with the hash (a stat), else by hashing it again."""
    try:
        if identity is not None and file_identity(path) == identity:
            return True
        return file_sha256(path) == file_hash
    except FileNotFoundError:
        return False


def changed_while_loading(path: Path) -> FileChangedWhileLoading:
    return FileChangedWhileLoading(
        f"{path.name} changed while it was being loaded (still being copied in, or "
        "replaced): nothing of it was kept; it stays in the landing folder for the next run"
    )


def name_order(path: Path) -> tuple[str, str, str]:
    """The order of files saved at the same time (unpacked from one archive, copied together): by
    folder, then by name without its extension, so that a name that extends another («ВПР 2024
    (исправленный).csv», «ВПР 2024_2.csv») comes after it («ВПР 2024.csv»), as the copies and
    corrections people name that way were made after it; the whole path compared, «ВПР 2024
    (…)» came first (a space sorts before the dot)."""
    return (str(path.parent), path.stem, path.suffix)


def year_from_filename(path: Path) -> int | None:
    """The year a file's name gives: its last year that is not part of a date («Реестр ОО 2024
    (письмо от 15.01.2025)» is 2024); a date's year only when the name has no other («Реестр на
    01.09.2024» is 2024)."""
    stem = path.stem
    years = YEAR_IN_NAME.findall(DATE_IN_NAME.sub(" ", stem)) or YEAR_IN_NAME.findall(stem)
    return int(years[-1]) if years else None


def delivery_key(
    contract: Contract | None, layout: readers.FileLayout | None, path: Path, file_hash: str
) -> str:
    """What makes a delivery unique: its content, and the year of its file name when the rows take
    their year from it (``schools_2023.xlsx`` and ``schools_2024.xlsx`` may hold the same bytes)."""
    if (
        contract is not None
        and layout is not None
        and contract.year.from_filename
        and "year" not in layout.mapping.values()
    ):
        return f"{file_hash}@{year_from_filename(path)}"
    return file_hash


def candidate_contracts(path: Path, landing_dir: Path) -> list[Contract]:
    """Contracts worth trying for a file: by folder name, then by file-name pattern, else all."""
    contracts = load_contracts()
    for parent in path.relative_to(landing_dir).parents:
        if parent.name in contracts:
            return [contracts[parent.name]]
    stem = normalise_label(path.stem)
    by_pattern = [
        c
        for c in contracts.values()
        if any(fnmatch.fnmatch(stem, normalise_label(p)) for p in c.filename_patterns)
    ]
    return by_pattern or list(contracts.values())


def landing_files(settings: Settings) -> list[Path]:
    """The files waiting in the landing folder: not hidden, not a partial copy (``*.part`` …), not
    modified within the last ``EDUQ_LANDING_SETTLE_SECONDS``, not in ``rejected/``."""
    rejected = settings.rejected_dir.resolve()
    settle = settings.landing_settle_seconds
    now = time.time()
    files = []
    for path in sorted(settings.landing_dir.rglob("*")):
        if (
            not path.is_file()
            or path.name.lower() in IGNORED_NAMES
            or path.name.startswith((".", "~$"))
            or path.name.lower().endswith(PARTIAL_SUFFIXES)
        ):
            continue
        if rejected in path.resolve().parents:
            continue
        if settle and now - path.stat().st_mtime < settle:
            continue  # still being copied in: the next run takes it
        files.append(path)
    return files


def _now() -> dt.datetime:
    return dt.datetime.now().replace(microsecond=0)


LOAD_LOG_INSERT = (
    "insert into raw._load_log (file_id, source, file_name, landing_path, archived_path, "
    "file_hash, size_bytes, status, rows_read, rows_loaded, rows_quarantined, message, layout, "
    "years, received_at, loaded_at, run_id, released_from_file_id)"
)


def _log_row(
    *,
    file_id,
    source,
    path: Path,
    archived,
    file_hash,
    size,
    status,
    read=0,
    loaded=0,
    quarantined=0,
    message="",
    layout=None,
    years=None,
    received_at=None,
    run_id=None,
    released_from=None,
) -> list:
    """A file's line of the load log, as the values of LOAD_LOG_INSERT."""
    return [
        file_id,
        source,
        path.name,
        str(path),
        archived,
        file_hash,
        size,
        status,
        read,
        loaded,
        quarantined,
        message,
        json.dumps(layout, ensure_ascii=False) if layout else None,
        years,
        received_at or _now(),
        _now(),
        run_id,
        released_from,
    ]


def _log_file(con, **line) -> None:
    """Write a file's line of the load log (the arguments of :func:`_log_row`)."""
    insert_rows(con, LOAD_LOG_INSERT, [_log_row(**line)])


def _unique_destination(folder: Path, name: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    dest = folder / name
    n = 1
    while dest.exists():
        dest = folder / f"{Path(name).stem}.{n}{Path(name).suffix}"
        n += 1
    return dest


def reject_file(settings: Settings, path: Path, reason: str) -> Path:
    """Move a file that cannot be loaded to ``landing/rejected/`` with the reason beside it."""
    dest = _unique_destination(settings.rejected_dir, path.name)
    shutil.move(str(path), dest)
    dest.with_name(dest.name + ".reason.txt").write_text(
        f"{path.name}\n{reason}\nrejected at {_now().isoformat()}\n", encoding="utf-8"
    )
    return dest


def archive_file(settings: Settings, path: Path, source: str, file_id: int) -> Path:
    dest = _unique_destination(settings.archive_dir / source, f"{file_id:06d}_{path.name}")
    shutil.move(str(path), dest)
    return dest


def _require_year(contract: Contract, layout: readers.FileLayout, path: Path) -> None:
    if (
        contract.year.from_filename
        and "year" not in layout.mapping.values()
        and year_from_filename(path) is None
    ):
        raise MissingYearError(
            path,
            f"«{contract.title_ru}» ({contract.source}) needs the year: put it in the file name "
            f"(e.g. {contract.source}_2024.xlsx) or add a «Год» column",
        )


def survey_landing(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    run_id: str | None = None,
    dry_run: bool = False,
    schema_ready: bool = False,
) -> SurveyReport:
    """Hash, deduplicate, recognise or reject every file waiting in the landing folder.

    ``dry_run``: the same decisions, recorded in ``con`` only; no file is moved or written.
    ``schema_ready``: the caller made sure of the raw schema on ``con`` (:func:`ensure_load_schema`).
    """
    if not schema_ready:
        ensure_load_schema(con)
    report = SurveyReport()
    contracts = load_contracts()
    delivered: set[str] = set()  # delivery keys of loaded and queued files
    hashes: set[str] = set()
    for source, name, file_hash, layout_json in con.execute(
        "select source, file_name, file_hash, layout from raw._load_log where status = 'loaded' "
        "union all select source, landing_path, file_hash, layout from raw._landing_queue"
    ).fetchall():
        hashes.add(file_hash)
        layout = readers.FileLayout.from_json(json.loads(layout_json)) if layout_json else None
        delivered.add(delivery_key(contracts.get(source), layout, Path(name), file_hash))
    queued = {r[0] for r in con.execute("select landing_path from raw._landing_queue").fetchall()}
    to_queue: list[list] = []  # rows of raw._landing_queue, written at the end (_queue)
    # oldest first: of two copies in one batch the earlier one is the delivery, the other the duplicate
    paths = [
        p
        for p in sorted(landing_files(settings), key=lambda p: (p.stat().st_mtime, *name_order(p)))
        if str(p) not in queued
    ]
    try:
        for path, file_hash, identity in _hashed_in_order(paths):
            size = path.stat().st_size
            sniffed: tuple[Contract, readers.FileLayout] | None = None
            candidates = candidate_contracts(path, settings.landing_dir)
            # the same bytes: a duplicate, unless its file name gives another year
            if file_hash in hashes:
                try:
                    sniffed = readers.sniff(path, candidates)
                except IngestionError:
                    sniffed = None
                key = delivery_key(*sniffed, path, file_hash) if sniffed else file_hash
            else:
                key = file_hash
            if key in delivered:
                message = "same content as a file already delivered: skipped"
                file_id, _ = _set_aside(
                    con, path, file_hash, size, None, "duplicate", message, run_id,
                    None if dry_run else partial(archive_file, settings, path, "_duplicates"),
                )  # fmt: skip
                report.outcomes.append(
                    FileOutcome(
                        path.name,
                        None,
                        "duplicate",
                        message=message,
                        file_id=file_id,
                        landing_path=str(path),
                    )
                )
                continue
            try:
                contract, layout = sniffed or readers.sniff(path, candidates)
                _require_year(contract, layout, path)
            except IngestionError as exc:
                source = candidates[0].source if len(candidates) == 1 else None
                _reject(
                    con, settings, path, file_hash, size, source, str(exc), run_id, report, dry_run
                )
                continue
            modified = dt.datetime.fromtimestamp(path.stat().st_mtime).replace(microsecond=0)
            to_queue.append(
                [
                    str(path),
                    file_hash,
                    size,
                    contract.source,
                    json.dumps(layout.to_json(), ensure_ascii=False),
                    _now(),
                    modified,
                    identity,
                ]
            )
            hashes.add(file_hash)
            delivered.add(delivery_key(contract, layout, path, file_hash))
            report.outcomes.append(
                FileOutcome(path.name, contract.source, "queued", landing_path=str(path))
            )
    except BaseException:
        # stopped half-way (an unreadable file, an interruption): what was recognised is queued, as
        # a survey that queued file by file had done
        try:
            _queue(con, to_queue)
        except duckdb.Error as exc:
            log.warning("the files surveyed before the error could not be queued: %s", exc)
        raise
    _queue(con, to_queue)
    return report


def _queue(con: duckdb.DuckDBPyConnection, rows: list[list]) -> None:
    """Queue the surveyed files in one transaction (a commit per file cost more than sniffing
    it). Killed before, nothing is queued and the files are still in the landing folder: the
    next run surveys them again."""
    if not rows:
        return
    with write_transaction(con):
        insert_rows(
            con,
            "insert into raw._landing_queue (landing_path, file_hash, size_bytes, source, layout, "
            "queued_at, modified_at, file_identity)",
            rows,
        )


@contextmanager
def write_transaction(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """One transaction: committed when the block ends, rolled back when it raises (a commit that
    failed, e.g. on a full disk, already ended it: the cause is the error being raised)."""
    con.execute("begin transaction")
    try:
        yield
        con.execute("commit")
    except BaseException:
        try:
            con.execute("rollback")
        except duckdb.Error:
            pass
        raise


def ensure_load_schema(con: duckdb.DuckDBPyConnection) -> None:
    """The raw schema with the landing queue (idempotent: one catalog query when all is there, ~5 ms;
    a load step makes sure of it once, not for every source)."""
    ensure_raw_schema(
        con,
        (QUEUE_DDL,),
        (
            ("raw._landing_queue", "modified_at", "timestamp"),
            ("raw._landing_queue", "file_identity", "varchar"),
        ),
    )


def _set_aside(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    file_hash: str,
    size: int,
    source: str | None,
    status: str,
    message: str,
    run_id: str | None,
    move: Callable[[int], Path] | None,
) -> tuple[int, Path | None]:
    """A file not loaded (a duplicate, a rejection): the next file id, the file moved by ``move``
    (None: a dry run moves nothing), a line in the load log. Returns the id and where it went."""
    file_id = next_file_id(con)
    dest = move(file_id) if move is not None else None
    _log_file(
        con,
        file_id=file_id,
        source=source,
        path=path,
        archived=str(dest) if dest else None,
        file_hash=file_hash,
        size=size,
        status=status,
        message=message,
        run_id=run_id,
    )
    return file_id, dest


def _reject(
    con, settings, path, file_hash, size, source, message, run_id, report, dry_run=False
) -> FileOutcome:
    file_id, _ = _set_aside(
        con, path, file_hash, size, source, "rejected", message, run_id,
        None if dry_run else lambda _: reject_file(settings, path, message),
    )  # fmt: skip
    if not dry_run:
        log.warning("rejected %s", message)
    outcome = FileOutcome(
        path.name, source, "rejected", message=message, file_id=file_id, landing_path=str(path)
    )
    report.outcomes.append(outcome) if isinstance(report, SurveyReport) else report.files.append(
        outcome
    )
    return outcome


# the sources whose codes a fact file's school codes are checked against (_known_codes_table)
KNOWN_CODE_SOURCES = ("schools", "school_codes", "school_successors")


def _known_codes_table(con: duckdb.DuckDBPyConnection) -> str:
    """Every school code a fact file may use: registry codes, crosswalk codes of other systems
    (applied at staging) and the codes of reorganised schools and their successors."""
    con.execute(
        """
        create or replace temp table _known_school_codes as
        select code from (
            select school_id as code from raw.schools
            union select external_code from raw.school_codes
            union select school_id from raw.school_codes
            union select new_school_id from raw.school_successors
            union select old_school_id from raw.school_successors
        ) where code is not null
        """
    )
    return "_known_school_codes"


def _registry_empty(con: duckdb.DuckDBPyConnection) -> bool:
    return con.execute("select count(*) = 0 from (select 1 from raw.schools limit 1)").fetchone()[0]


def load_source(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    source: str,
    run_id: str | None = None,
    dry_run: bool = False,
    schema_ready: bool = False,
) -> SourceLoadReport:
    """Load every queued file of ``source`` into ``raw.<source>`` (``dry_run``: see :func:`write_file`;
    ``schema_ready``: see :func:`survey_landing`).

    The files are written one after the other in the order they were delivered (each gets the next
    file id, so the latest delivery wins as it would file by file); up to ``settings.load_workers``
    of the next ones are read and checked meanwhile (:class:`_AheadChecker`). Consecutive small
    files with the same layout are checked and written together, up to
    ``settings.load_batch_files`` at once, with the outcome of loading each alone
    (:mod:`ingestion.batches`)."""
    if not schema_ready:
        ensure_load_schema(con)
    contract = get_contract(source)
    report = SourceLoadReport(source)
    if not dry_run:
        # first the rows of earlier files that waited for a school code known now (the reference
        # sources load before the fact sources): a later file of this source then wins over them
        report.released = release_known_codes(con, settings, contract, run_id)
    queued = [
        _Queued(*row)
        for *row, _ in sorted(
            con.execute(
                "select landing_path, file_hash, size_bytes, layout, queued_at, file_identity, "
                "modified_at from raw._landing_queue where source = ?",
                [source],
            ).fetchall(),
            # saved earlier first; saved at the same time, by name (name_order)
            key=lambda r: (r[-1] is not None, r[-1] or dt.datetime.min, *name_order(Path(r[0]))),
        )
    ]
    if not queued:
        return report
    checks_codes = contract.checks_school_codes
    registry_empty = checks_codes and _registry_empty(con)

    def load_checked(item: _Queued, ahead: _Ahead) -> None:
        try:
            if ahead.missing:
                _dequeue(con, item.landing_path)
                return
            # the file leaves the queue in the transaction that writes it
            outcome = checker.write(ahead, item, run_id, dry_run)
        except FileChangedWhileLoading as exc:
            _dequeue(con, item.landing_path)  # surveyed again next run, with its new content
            log.warning("%s", exc)
            report.deferred.append(item.path.name)
            return
        except IngestionError as exc:
            _dequeue(con, item.landing_path)
            _reject(
                con, settings, item.path, item.file_hash, item.size, source, str(exc), run_id,
                report, dry_run,
            )  # fmt: skip
            if not dry_run:
                progress.file_loaded(
                    item.path.name, source, item.size, 0, time.perf_counter() - ahead.started
                )
            return
        report.files.append(outcome)
        if not dry_run:
            progress.file_loaded(
                item.path.name,
                source,
                item.size,
                outcome.rows_read,
                time.perf_counter() - ahead.started,
            )

    batch_files = 1 if dry_run else settings.load_batch_files
    with _AheadChecker(
        con, settings, contract, checks_codes, registry_empty, settings.load_workers
    ) as checker:
        for unit, ahead in checker.in_order(_units(queued, batch_files)):
            if isinstance(ahead, _Ahead):
                load_checked(unit[0], ahead)
                continue
            outcomes = checker.write_batch(ahead, run_id)
            if outcomes is not None:
                for item, outcome in zip(unit, outcomes, strict=True):
                    report.files.append(outcome)
                    progress.file_loaded(
                        item.path.name,
                        source,
                        item.size,
                        outcome.rows_read,
                        (time.perf_counter() - ahead.started) / len(unit),
                    )
                continue
            for item in unit:  # the batch's files one by one, each checked now on its cursor
                single = checker.check(ahead.cursor, item)
                if single.missing and ahead.checked is not None:
                    # there when the batch was checked, gone before it was written: as a file
                    # alone whose bytes changed meanwhile
                    _dequeue(con, item.landing_path)
                    log.warning("%s", changed_while_loading(item.path))
                    report.deferred.append(item.path.name)
                    continue
                try:
                    load_checked(item, single)
                finally:
                    if single.checked is not None:
                        _drop_tables(ahead.cursor, single.checked.tables)
    return report


def _units(queued: list[_Queued], batch_files: int) -> list[list[_Queued]]:
    """The queued files in order, consecutive small files with the same layout grouped (at most
    ``batch_files`` a group; ingestion.batches.can_join), every other file alone."""
    from ingestion.batches import can_join

    units: list[list[_Queued]] = []
    for item in queued:
        joins = batch_files > 1 and can_join(
            readers.FileLayout.from_json(json.loads(item.layout_json)), item.size
        )
        last = units[-1] if units else None
        if (
            joins
            and last is not None
            and len(last) < batch_files
            and last[0].layout_json == item.layout_json
            and last[0].joins
        ):
            last.append(item)
        else:
            units.append([replace(item, joins=joins)] if joins else [item])
    return units


def _dequeue(con: duckdb.DuckDBPyConnection, *landing_paths: str) -> None:
    """Take these files off the landing queue (one statement however many)."""
    if landing_paths:
        con.execute(
            "delete from raw._landing_queue where list_contains(?::varchar[], landing_path)",
            [list(landing_paths)],
        )


@dataclass
class Bookkeeping:
    """The load-log lines and landing-queue rows of the files one transaction writes, written
    together (a batch of small files: two statements instead of two a file)."""

    log_lines: list[list] = field(default_factory=list)
    dequeued: list[str] = field(default_factory=list)

    def write(self, con: duckdb.DuckDBPyConnection) -> None:
        insert_rows(con, LOAD_LOG_INSERT, self.log_lines)
        _dequeue(con, *self.dequeued)
        self.log_lines, self.dequeued = [], []


@dataclass(frozen=True)
class _Queued:
    """A file waiting in raw._landing_queue."""

    landing_path: str
    file_hash: str
    size: int
    layout_json: str
    queued_at: dt.datetime | None
    file_identity: str | None
    joins: bool = False  # may be loaded with the next files of its layout (a batch's first file)

    @property
    def path(self) -> Path:
        return Path(self.landing_path)


@dataclass
class _Ahead:
    """A queued file checked ahead of its turn: on which cursor (its temp tables live there), with
    what result (or the reason it is rejected), since when."""

    cursor: duckdb.DuckDBPyConnection
    started: float
    checked: CheckedFile | None = None
    error: IngestionError | None = None
    missing: bool = False


@dataclass
class _BatchAhead:
    """A batch of queued files checked ahead of its turn (None: its files load one by one)."""

    cursor: duckdb.DuckDBPyConnection
    started: float
    checked: CheckedBatch | None = None


class _AheadChecker:
    """Checks the queued files of one source ahead of the writer.

    Staging and validating a file is most of its cost and runs in DuckDB, which lets go of
    Python's lock while it works, but a file of a few ten thousand rows is one unit of DuckDB's
    parallel work: one core. So up to ``workers`` of the next files are checked at once, each on a
    cursor of its own (temp tables belong to a cursor), while the caller writes the checked ones
    strictly in queue order on the cursor that checked them. File ids are taken at writing time,
    so they are those of loading file by file. ``workers`` 1: each file is checked when its turn
    comes, one after the other.
    """

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        settings: Settings,
        contract: Contract,
        checks_codes: bool,
        registry_empty: bool,
        workers: int,
    ) -> None:
        self.con, self.settings, self.contract = con, settings, contract
        self.checks_codes, self.registry_empty = checks_codes, registry_empty
        self.workers = max(workers, 1)
        self._cursors: list[duckdb.DuckDBPyConnection] = []
        self._idle: list[duckdb.DuckDBPyConnection] = []
        self._known: dict[int, str | None] = {}  # id(cursor) -> its table of known school codes
        # id(cursor) -> the temp tables of the file it last checked, once written: dropped by the
        # cursor's next check (in a worker), not by the writer, whose turn every file waits for
        self._written: dict[int, list[str]] = {}
        self._pool: ThreadPoolExecutor | None = None
        self._numbers = itertools.count(1)  # provisional numbers: the checks' temp table names

    def __enter__(self) -> Self:
        if self.workers > 1:
            self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="eduq-check")
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._pool is not None:  # checks under way finish before their cursors close
            self._pool.shutdown(wait=True, cancel_futures=True)
        for cursor in self._cursors:
            cursor.close()

    def _cursor(self) -> duckdb.DuckDBPyConnection:
        """An idle cursor, or a new one (made in the caller's thread) with the codes a fact file
        may use, once per cursor."""
        if self._idle:
            return self._idle.pop()
        cursor = self.con.cursor()
        self._cursors.append(cursor)
        self._known[id(cursor)] = _known_codes_table(cursor) if self.checks_codes else None
        return cursor

    def check(self, cursor: duckdb.DuckDBPyConnection, item: _Queued) -> _Ahead:
        """Check one file on ``cursor`` (in a worker, or in the caller's thread for a file of a
        batch that loads file by file)."""
        ahead = _Ahead(cursor, time.perf_counter())
        _drop_tables(cursor, self._written.pop(id(cursor), ()))
        if not item.path.exists():
            ahead.missing = True
            return ahead
        layout = readers.FileLayout.from_json(json.loads(item.layout_json))
        try:
            ahead.checked = check_file(
                cursor,
                self.settings,
                self.contract,
                item.path,
                layout,
                # a provisional id (temp table names); the file's own is taken at writing
                next(self._numbers),
                self._known[id(cursor)],
                self.registry_empty,
            )
        except IngestionError as exc:
            ahead.error = exc
        return ahead

    def _check_unit(
        self, cursor: duckdb.DuckDBPyConnection, unit: list[_Queued]
    ) -> _Ahead | _BatchAhead:
        if len(unit) == 1:
            return self.check(cursor, unit[0])
        from ingestion.batches import BatchFile, check_batch

        ahead = _BatchAhead(cursor, time.perf_counter())
        _drop_tables(cursor, self._written.pop(id(cursor), ()))
        if not all(item.path.exists() for item in unit):
            return ahead  # file by file: the missing one leaves the queue
        files = [
            BatchFile(
                item.landing_path,
                item.file_hash,
                item.size,
                readers.FileLayout.from_json(json.loads(item.layout_json)),
                item.queued_at,
                item.file_identity,
            )
            for item in unit
        ]
        ahead.checked = check_batch(
            cursor,
            self.settings,
            self.contract,
            files,
            next(self._numbers),
            self._known[id(cursor)],
            self.registry_empty,
        )
        return ahead

    def in_order(
        self, units: list[list[_Queued]]
    ) -> Iterator[tuple[list[_Queued], _Ahead | _BatchAhead]]:
        """Each unit of queued files (one file, or a batch) with its check, in queue order; the
        next ones are checked meanwhile. A unit's cursor checks another once the caller is done
        with the unit (the next step)."""
        waiting: deque[
            tuple[list[_Queued], duckdb.DuckDBPyConnection, Future[_Ahead | _BatchAhead] | None]
        ]
        waiting = deque()
        upcoming = iter(units)
        limit = self.workers + 1 if self._pool is not None else 1  # + the one being written
        while True:
            while len(waiting) < limit and (unit := next(upcoming, None)) is not None:
                cursor = self._cursor()
                future = None
                if self._pool is not None:
                    future = self._pool.submit(self._check_unit, cursor, unit)
                waiting.append((unit, cursor, future))
            if not waiting:
                return
            unit, cursor, future = waiting.popleft()
            yield unit, future.result() if future else self._check_unit(cursor, unit)
            self._idle.append(cursor)

    def write_batch(self, ahead: _BatchAhead, run_id: str | None) -> list[FileOutcome] | None:
        """Write a checked batch (ingestion.batches.write_batch); None when its files must load
        one by one (its check found one that must, or writing it failed: nothing was written)."""
        from ingestion.batches import archive_batch, write_batch

        if ahead.checked is None:
            return None
        self._written[id(ahead.cursor)] = ahead.checked.tables
        try:
            outcomes, destinations = write_batch(ahead.cursor, self.settings, ahead.checked, run_id)
        except Exception as exc:  # noqa: BLE001 — nothing written: each file gets its own outcome
            log.info(
                "%s: %d files loaded one by one instead of together (%s)",
                self.contract.source,
                len(ahead.checked.files),
                exc,
            )
            return None
        # committed: an error from here on is the run's, as after a file written alone
        archive_batch(ahead.checked, outcomes, destinations)
        return outcomes

    def write(self, ahead: _Ahead, item: _Queued, run_id: str | None, dry_run: bool) -> FileOutcome:
        """Write a checked file with the next file id (raises its check's IngestionError)."""
        if ahead.error is not None:
            raise ahead.error
        assert ahead.checked is not None
        self._written[id(ahead.cursor)] = ahead.checked.tables  # (a cursor's close drops them too)
        return _write_with_next_id(
            ahead.cursor, self.settings, ahead.checked, item.file_hash, item.size, run_id,
            item.queued_at, dry_run, item.file_identity, dequeue=item.landing_path,
        )  # fmt: skip


@dataclass
class CheckedFile:
    """A file staged and validated but not written yet: what loading it would do.

    ``validated.typed`` and ``validated.failures`` are temp tables of the connection (see
    :mod:`ingestion.validate`); ``tables`` lists every temp table to drop when done.
    """

    contract: Contract
    path: Path
    layout: readers.FileLayout
    file_id: int
    staged: readers.StagedFile
    validated: Validated
    extra_keys: dict[int, str]
    ctx: ValidationContext
    rows_quarantined: int
    years: str | None
    tables: list[str]

    @property
    def rows_read(self) -> int:
        return self.validated.rows_read


# row-level reasons of rows that are not data at all: a file with nothing else has no data rows
NOT_DATA_REASONS = (TOTAL_ROW, NOT_DATA, REPEATED_HEADER)
_NOT_DATA_WORDS = {
    TOTAL_ROW: "a total row «Итого»",
    NOT_DATA: "a note or a signature",
    REPEATED_HEADER: "the header repeated",
}


def check_file(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    contract: Contract,
    path: Path,
    layout: readers.FileLayout,
    file_id: int,
    known_codes_table: str | None,
    registry_empty: bool = False,
) -> CheckedFile:
    """Stage and validate one file: which rows would load and which would be quarantined, why.

    Writes nothing but temp tables (dropped here on error, else by the caller via
    ``CheckedFile.tables``). Raises :class:`IngestionError` (the caller rejects the file) when
    the file cannot be staged or has no data rows: nothing under its header, or only rows
    that are not data (a closing «Итого», a signature, the header again).
    """
    prefix = f"_stage_{file_id}"
    tables: list[str] = [prefix]
    try:
        staged = readers.stage(con, path, layout, prefix)
        tables += staged.tables
        where = f" of sheet «{layout.sheet}»" if layout.sheet else ""
        if staged.rows_read == 0:  # nothing at all under the header: no need to validate
            raise _no_data_rows(path, layout, where)
        ctx = ValidationContext(
            max_year=settings.today.year,
            file_year=year_from_filename(path) if contract.year.from_filename else None,
            known_school_codes_table=known_codes_table,
            registry_empty=registry_empty,
        )
        checked = validate(con, contract, staged, layout, ctx, prefix)
        tables += checked.tables
        if checked.rows_read == 0:  # only blank rows
            raise _no_data_rows(path, layout, where)
        rows_quarantined = (
            con.execute(f"select count(distinct _row_number) from {checked.failures}").fetchone()[0]
            if checked.has_failures
            else 0
        )
        if rows_quarantined == checked.rows_read:
            _reject_without_data(con, path, layout, where, checked)
        years = None
        if contract.has_year:
            years = ",".join(
                str(r[0])
                for r in con.execute(
                    f"select distinct year from {checked.typed} where year is not null order by 1"
                ).fetchall()
            )
    except BaseException:
        _drop_tables(con, tables)
        raise
    return CheckedFile(
        contract,
        path,
        layout,
        file_id,
        staged,
        checked,
        checked.extra_keys,
        ctx,
        rows_quarantined,
        years,
        tables,
    )


def _no_data_rows(path: Path, layout: readers.FileLayout, where: str) -> NoDataRowsError:
    return NoDataRowsError(
        path,
        f"the header (row {layout.header_row}{where}) has no data rows below it: "
        "an empty template? Fill it in and resend",
    )


def _reject_without_data(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    layout: readers.FileLayout,
    where: str,
    checked: Validated,
) -> None:
    """Raise :class:`NoDataRowsError` when every row under the header is not data."""
    rows = con.execute(
        f"select _row_number, reason_code from {checked.failures} where column_name = '{ROW_LEVEL}' "
        f"and reason_code in ({', '.join(repr(r) for r in NOT_DATA_REASONS)}) order by 1"
    ).fetchall()
    if len({r for r, _ in rows}) != checked.rows_read:
        return
    found = "; ".join(f"{_NOT_DATA_WORDS[code]} in row {row}" for row, code in rows[:3])
    more = f" and {len(rows) - 3} more" if len(rows) > 3 else ""
    raise NoDataRowsError(
        path,
        f"the header (row {layout.header_row}{where}) has no data rows below it, only {found}{more}: "
        "an empty template? Fill it in and resend",
    )


def write_file(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    checked: CheckedFile,
    file_hash: str,
    size: int,
    run_id: str | None = None,
    received_at: dt.datetime | None = None,
    dry_run: bool = False,
    file_identity: str | None = None,
    dequeue: str | None = None,
) -> FileOutcome:
    """Write a checked file in one transaction: good rows to ``raw.<source>``, the others to
    ``raw._quarantine``, a line in ``raw._load_log``, and the file moved to the archive.
    ``dequeue``: its row of ``raw._landing_queue`` goes in the same transaction.

    ``dry_run``: the same statements against a scratch database, except that the file stays
    where it is and only the rows of the sources that later files are checked against (the
    registry, the code crosswalk, the successors) are inserted; the others are counted.
    ``file_identity``: the file's identity when ``file_hash`` was taken (:func:`hash_with_identity`);
    the file is then known unchanged by a stat instead of hashing it again.
    """
    contract, path, layout, file_id = (
        checked.contract,
        checked.path,
        checked.layout,
        checked.file_id,
    )
    typed, failures = checked.validated.typed, checked.validated.failures
    layout.extra["parsed_by"] = checked.staged.method
    columns = ", ".join(f'"{c}"' for c in contract.table_columns)
    good = f"from {typed} where _ok"
    if checked.validated.has_failures:
        good += f" and _row_number not in (select _row_number from {failures})"
    loaded_at = _now()
    with write_transaction(con):
        if dry_run and contract.source not in KNOWN_CODE_SOURCES:
            rows_loaded = con.execute(f"select count(*) {good}").fetchone()[0]
        else:
            rows_loaded = con.execute(
                f"""
                insert into raw.{contract.source} ({columns}, _extra, _file_id, _source_file, _file_hash,
                    _row_number, _loaded_at)
                select {columns}, _extra, ?, ?, ?, _row_number, ? {good}
                """,
                [file_id, path.name, file_hash, loaded_at],
            ).fetchone()[0]
        if checked.validated.has_failures:  # else nothing to quarantine
            insert_quarantine(con, checked, file_id, path.name, file_hash, loaded_at)
        outcome, dest = record_loaded(
            con,
            settings,
            contract=contract,
            path=path,
            file_id=file_id,
            file_hash=file_hash,
            size=size,
            read=checked.rows_read,
            loaded=rows_loaded,
            quarantined=checked.rows_quarantined,
            failures=failures,
            layout=layout,
            years=checked.years,
            received_at=received_at,
            run_id=run_id,
            dequeue=dequeue,
            file_identity=file_identity,
            dry_run=dry_run,
        )
    if not dry_run:
        archive_loaded(path, dest, outcome)
    return outcome


def insert_quarantine(
    con: duckdb.DuckDBPyConnection,
    checked: CheckedFile,
    file_id: int,
    file_name: str,
    file_hash: str,
    at: dt.datetime,
    rows: str | None = None,
) -> None:
    """The failure lines of a checked file into ``raw._quarantine`` under ``file_id``, with each
    failing row as delivered; ``rows``: only the rows whose ``_row_number`` this SQL selects."""
    failures = checked.validated.failures
    if rows is not None:
        failures = f"(select * from {failures} where _row_number in ({rows}))"
    validator = Validator(checked.contract, checked.layout, checked.ctx)
    validator.extra_keys = checked.extra_keys
    failing = f"(select * from {checked.staged.relation} where _row_number in (select _row_number from {failures}))"
    con.execute(
        f"""
        insert into raw._quarantine (file_id, source, file_name, file_hash, row_number, column_name, value,
            reason, row_values, quarantined_at, reason_code)
        select ?, ?, ?, ?, f._row_number, f.column_name, f.value, f.reason, v.row_values, ?, f.reason_code
        from {failures} as f left join ({validator.row_values_sql(failing)}) as v using (_row_number)
        order by f._row_number, f.column_name
        """,
        [file_id, checked.contract.source, file_name, file_hash, at],
    )


def record_loaded(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    *,
    contract: Contract,
    path: Path,
    file_id: int,
    file_hash: str,
    size: int,
    read: int,
    loaded: int,
    quarantined: int,
    failures: str,
    layout: readers.FileLayout,
    years: str | None,
    received_at: dt.datetime | None,
    run_id: str | None,
    dequeue: str | None,
    file_identity: str | None,
    dry_run: bool = False,
    bookkeeping: Bookkeeping | None = None,
) -> tuple[FileOutcome, Path | None]:
    """In the transaction that wrote a file's rows (alone, or in a batch: ingestion.batches):
    check rows read = loaded + quarantined, write its load-log line (``failures``: its failure
    lines, for the reasons' summary), take it off the queue and check it did not change since it
    was hashed. Returns its outcome and where :func:`archive_loaded` moves it (None: a dry run).
    ``bookkeeping``: the load-log line and the queue's row are left there, for the caller to write
    with those of the other files of its transaction (:meth:`Bookkeeping.write`)."""
    if loaded + quarantined != read:
        raise RowCountMismatchError(
            f"{path.name}: {read} rows read but {loaded} loaded + "
            f"{quarantined} quarantined; nothing was written (please report this bug)"
        )
    message = f"{loaded} rows loaded, {quarantined} quarantined"
    if quarantined:
        message += " (" + _reason_summary(con, failures) + ")"
    dest = (
        None
        if dry_run
        else _unique_destination(
            settings.archive_dir / contract.source, f"{file_id:06d}_{path.name}"
        )
    )
    line = _log_row(
        file_id=file_id,
        source=contract.source,
        path=path,
        archived=str(dest) if dest else None,
        file_hash=file_hash,
        size=size,
        status="loaded",
        read=read,
        loaded=loaded,
        quarantined=quarantined,
        message=message,
        layout=layout.to_json(),
        years=years,
        received_at=received_at,
        run_id=run_id,
    )
    book = bookkeeping if bookkeeping is not None else Bookkeeping()
    book.log_lines.append(line)
    if dequeue is not None:
        book.dequeued.append(dequeue)
    if bookkeeping is None:
        book.write(con)
    if not dry_run and not unchanged_since(path, file_hash, file_identity):
        raise changed_while_loading(path)
    outcome = FileOutcome(
        path.name,
        contract.source,
        "loaded",
        read,
        loaded,
        quarantined,
        message,
        file_id,
        years,
        str(path),
    )
    return outcome, dest


def archive_loaded(path: Path, dest: Path | None, outcome: FileOutcome) -> None:
    """Move a written file to the archive, after its commit: killed in between, the file is loaded
    and still in the landing folder, and the next run skips it as already delivered (never lost,
    never loaded twice)."""
    if dest is not None:
        shutil.move(str(path), dest)
    log.info("%s: %s (%s)", outcome.source, path.name, outcome.message)


def load_file(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    contract: Contract,
    path: Path,
    layout: readers.FileLayout,
    file_hash: str,
    size: int,
    known_codes_table: str | None,
    run_id: str | None = None,
    received_at: dt.datetime | None = None,
    registry_empty: bool = False,
    dry_run: bool = False,
) -> FileOutcome:
    """Stage, validate and load one file: good rows to ``raw.<source>``, the rest to quarantine
    (:func:`check_file`, then :func:`write_file`).

    Raises :class:`IngestionError` (the caller rejects the file) when the file cannot be
    staged or has no data rows; nothing is written then.
    """
    checked = check_file(
        con,
        settings,
        contract,
        path,
        layout,
        next_file_id(con),
        known_codes_table,
        registry_empty,
    )
    try:
        return _write_with_next_id(
            con, settings, checked, file_hash, size, run_id, received_at, dry_run
        )
    finally:
        _drop_tables(con, checked.tables)


def _write_with_next_id(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    checked: CheckedFile,
    file_hash: str,
    size: int,
    run_id: str | None,
    received_at: dt.datetime | None,
    dry_run: bool,
    file_identity: str | None = None,
    dequeue: str | None = None,
) -> FileOutcome:
    """:func:`write_file` with the next file id of the load log (the check's id only named its
    temp tables): the ids are those of loading file by file, however many were checked ahead."""
    checked = replace(checked, file_id=next_file_id(con))
    return write_file(
        con, settings, checked, file_hash, size, run_id, received_at, dry_run, file_identity,
        dequeue,
    )  # fmt: skip


def _drop_tables(con: duckdb.DuckDBPyConnection, tables: Iterable[str]) -> None:
    for table in tables:
        con.execute(f"drop table if exists {table}")


def _reason_summary(con: duckdb.DuckDBPyConnection, failures: str) -> str:
    """«12 total_row, 3 unknown_school»: rows per reason code, most frequent first."""
    rows = con.execute(
        f"select reason_code, count(distinct _row_number) as n from {failures} group by 1 order by n desc, 1"
    ).fetchall()
    return ", ".join(f"{n} {code}" for code, n in rows)


def ingest_all(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    sources: Iterable[str] | None = None,
    run_id: str | None = None,
    dry_run: bool = False,
) -> tuple[SurveyReport, list[SourceLoadReport]]:
    """Survey the landing folder and load every source, reference sources first.

    ``dry_run``: decide everything as a real run would, recording it in ``con`` (a scratch
    database) only: no file is moved, archived, rejected or written.
    """
    ensure_load_schema(con)
    survey = survey_landing(con, settings, run_id, dry_run, schema_ready=True)
    reports = [
        load_source(con, settings, s, run_id, dry_run, schema_ready=True)
        for s in (sources or load_contracts())
    ]
    return survey, reports
