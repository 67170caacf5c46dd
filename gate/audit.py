"""The audit of write-audit-publish: judge one candidate warehouse build by every error-level
check (the dbt tests of the build that wrote it, and the Great Expectations suites), bind the
verdict to the candidate's exact content (SHA-256), and keep the evidence.

Each audit writes ``warehouse/audit/<build_id>/``:

- ``audit.json`` — the record: build id, candidate hash and size, passed or not, every check
  with its level and status, the row count of every table (the state promotion publishes);
- ``failing_<check>.parquet`` — the failing rows of each failed check, for inspection.

Promotion (:mod:`gate.promote`) refuses a candidate without a passed record for its hash.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import threading
from collections.abc import Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from core import duck
from core.code_version import code_fingerprint
from core.files import file_identity, pending_wal, sha256_bytes, sha256_file, write_json_atomic
from core.settings import Settings
from gate.dbt_results import DbtNodeResult
from gate.errors import CandidateChanged

if TYPE_CHECKING:
    from gate.baseline import GxCarrier, Narrowing
    from gate.expectations.check import Check

log = logging.getLogger(__name__)

AUDIT_FORMAT = 1
BLOCKING_STATUSES = ("failed", "error", "not_run")
MAX_FAILING_ROWS = 10_000
DBT_COUNT_MESSAGE = re.compile(r"Got \d+ results?, configured to (warn|fail) if ")


@dataclass
class CheckOutcome:
    key: str  # unique name of the check
    source: str  # dbt | gx | pipeline
    asset: str  # "schema/table" the check is attached to
    level: str  # error | warning
    status: str  # passed | failed | skipped | error | not_run
    message: str = ""
    failing_rows: int = 0
    failing_rows_file: str | None = None  # relative to the audit folder
    description: str = ""
    # the build whose audit evaluated this check (gate.baseline: its inputs did not change since);
    # empty when this audit evaluated it
    carried_from: str = ""
    # a GX check's definition as evaluated (digest of its query and expectations: gate.baseline
    # carries a verdict only to the same definition)
    definition: str = ""
    # a GX check judged in parts (gate.baseline.GxCarrier.narrowing): the build whose audit judged
    # the parts this audit did not, and the condition on the rows this audit judged; else empty
    other_parts_from: str = ""
    judged_rows: str = ""

    @property
    def blocks(self) -> bool:
        return self.level == "error" and self.status in BLOCKING_STATUSES

    @property
    def is_warning(self) -> bool:
        return self.level == "warning" and self.status in BLOCKING_STATUSES


@dataclass
class AuditRecord:
    build_id: str
    candidate_sha256: str
    candidate_bytes: int
    passed: bool
    audited_at: str
    methodology_profile: str
    run_id: str | None = None
    checks: list[CheckOutcome] = field(default_factory=list)
    table_rows: dict[str, int] = field(default_factory=dict)
    format: int = AUDIT_FORMAT
    code_fingerprint: str = ""  # core.code_version of the code that built and judged it
    candidate_mtime_ns: int = 0  # the candidate file as audited (a later write changes it)
    # core.files.file_identity of the candidate as audited: promotion compares it instead of hashing
    # the file again (empty in records written before it existed: those are hashed)
    candidate_identity: str = ""

    @property
    def errors(self) -> list[CheckOutcome]:
        return [c for c in self.checks if c.blocks]

    @property
    def warnings(self) -> list[CheckOutcome]:
        return [c for c in self.checks if c.is_warning]

    def counts(self) -> dict[str, int]:
        out = {
            "checks": len(self.checks),
            "errors_failed": len(self.errors),
            "warnings": len(self.warnings),
        }
        out["passed"] = sum(1 for c in self.checks if c.status == "passed")
        out["skipped"] = sum(1 for c in self.checks if c.status == "skipped")
        out["carried_over"] = sum(1 for c in self.checks if c.carried_from)
        return out

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["summary"] = self.counts()
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> AuditRecord:
        fields = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        fields["checks"] = [CheckOutcome(**c) for c in data.get("checks", [])]
        return cls(**fields)

    def describe_failures(self, audit_dir: Path | None = None) -> str:
        """Failed and erroring error-level checks one per line (with where their failing rows are);
        checks that did not run because of them are counted, not listed."""
        lines = []
        errors = self.errors
        shown = [c for c in errors if not (c.source == "dbt" and c.status == "not_run")] or errors[
            :5
        ]
        for c in shown:
            where = (
                f" — failing rows: {audit_dir / c.failing_rows_file}"
                if audit_dir and c.failing_rows_file
                else ""
            )
            lines.append(f"  ERROR {c.key} [{c.asset}] {c.status}: {c.message}{where}")
        if len(errors) > len(shown):
            lines.append(
                f"  ... and {len(errors) - len(shown)} more dbt test(s) not run because of the failures "
                "above"
            )
        for c in self.warnings:
            lines.append(f"  warning {c.key} [{c.asset}]: {c.message}")
        return "\n".join(lines)


def first_sentence(text: str) -> str:
    """The first sentence of a description written over several lines."""
    text = " ".join(text.split())
    end = re.search(r"[.!?](\s|$)", text)
    return text[: end.start() + 1] if end else text


def audit_root(settings: Settings) -> Path:
    return settings.warehouse_dir / "audit"


def audit_dir(settings: Settings, build_id: str) -> Path:
    return audit_root(settings) / build_id


def checkpoint(db: Path, settings: Settings) -> None:
    """Fold the write-ahead log into the file so that its bytes are the whole state."""
    with duck.connect(db, settings) as con:
        con.execute("checkpoint")


def _now() -> str:
    return dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text)[:150]


def table_rows(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Row count of every base table (views are not counted: they have no state of their own)."""
    tables = con.execute(
        """select table_schema, table_name from information_schema.tables
           where table_type = 'BASE TABLE' and table_catalog = current_database()
           order by 1, 2"""
    ).fetchall()
    return {
        f"{s}.{t}": con.execute(f'select count(*) from "{s}"."{t}"').fetchone()[0]
        for s, t in tables
    }


# what an audit file shows where a failing row had a participant code (a duplicate participant:
# the school, year, subject and grade of the row say where to look in the candidate's staging)
PERSONAL_MASK = "‹код участника скрыт›"


def failing_rows_name(key: str) -> str:
    return f"failing_{_slug(key)}.parquet"


def save_failing_rows(folder: Path, key: str, frame: Any) -> str | None:
    """Save the failing rows of check ``key`` in ``folder``; returns the file name (None if no rows)."""
    if frame is None or len(frame) == 0:
        return None
    folder.mkdir(parents=True, exist_ok=True)
    name = failing_rows_name(key)
    frame = frame.copy()
    for column in frame.columns:  # participant codes are personal data: never in an audit file
        if "participant_code" in str(column).lower():
            frame[column] = frame[column].map(lambda v: None if v is None else PERSONAL_MASK)
    for column in frame.columns:  # mixed object columns (e.g. dicts) are kept as text
        if frame[column].dtype == object:
            frame[column] = frame[column].map(
                lambda v: v if v is None or isinstance(v, str) else str(v)
            )
    frame.to_parquet(folder / name, index=False)
    return name


def dbt_outcomes(
    con: duckdb.DuckDBPyConnection, results: Sequence[DbtNodeResult], folder: Path
) -> list[CheckOutcome]:
    """Outcomes of the dbt tests (and of models that failed to build), with the failing rows of each
    failed test recomputed from its compiled SQL."""
    outcomes = []
    for r in results:
        if not r.is_check and r.status == "passed":
            continue  # a model that built is not a check; one that did not build blocks
        key = f"dbt__{r.name}" if r.is_check else f"dbt_build__{r.name}"
        message = r.message or ("passed" if r.status == "passed" else r.status)
        if r.status == "failed" and not r.carried_from:  # a carried message is already worded
            said = r.message
            if not said or DBT_COUNT_MESSAGE.match(said):
                # dbt's «Got 9 results, configured to warn if != 0» says no more than the count:
                # the test's description says what failed
                said = first_sentence(r.description) or said
            message = f"{r.failures} failing row(s)" + (f": {said}" if said else "")
        outcome = CheckOutcome(
            key=key,
            source="dbt",
            asset=r.asset,
            level=r.level,
            status=r.status,
            message=message,
            failing_rows=r.failures,
            description=r.description,
            carried_from=r.carried_from,
            failing_rows_file=r.failing_rows_file,
        )
        if r.status == "failed" and r.compiled_code:
            try:
                frame = con.sql(
                    f"select * from ({r.compiled_code}) as failing limit {MAX_FAILING_ROWS}"
                ).df()
                outcome.failing_rows_file = save_failing_rows(folder, key, frame)
            except duckdb.Error as exc:
                log.warning("could not recompute the failing rows of %s: %s", r.unique_id, exc)
        outcomes.append(outcome)
    return outcomes


def gx_outcomes(
    con: duckdb.DuckDBPyConnection,
    folder: Path,
    settings: Settings | None = None,
    stale_assets: Iterable[str] = (),
    carried: GxCarrier | None = None,
) -> list[CheckOutcome]:
    """Run every Great Expectations check once and keep its outcome and failing rows. A check on a
    table this build did not rebuild (``stale_assets``, "schema/table": a dbt test upstream failed,
    so dbt skipped it) is not run on the old table: it is ``not_run``. ``carried`` (gate.baseline)
    gives, for a check's key and the tables its query reads, an earlier build's verdict to keep
    instead of running it (None: run it), and for a check that judges its table in parts, the rows
    of the parts changed since that verdict: the check then judges those alone."""
    from gate.expectations import all_checks
    from gate.expectations.check import SkipCheck
    from gate.expectations.gx_runner import read_catalog, run_checks

    catalog = read_catalog(con)
    stale = set(stale_assets)
    pattern = settings.school_code_pattern if settings is not None else None
    checks = all_checks(catalog, pattern)
    outcomes = [
        CheckOutcome(
            key=f"gx__{check.key}",
            source="gx",
            asset="/".join(check.asset),
            level=check.level.value,
            status="not_run",
            message=f"not checked: {'.'.join(check.asset)} was not rebuilt by this build (a dbt test "
            "or model upstream of it failed)",
            description=check.description,
        )
        for check in checks
        if "/".join(check.asset) in stale
    ]
    runnable = [c for c in checks if "/".join(c.asset) not in stale]
    # key -> (the check as defined, the rows it judged)
    narrowed: dict[str, tuple[Check, Narrowing]] = {}
    if carried is not None:
        from dataclasses import replace

        from gate.baseline import tables_read
        from gate.serving_export import year_records

        records = year_records(con, ("marts",)) if any(c.by_year for c in runnable) else {}
        to_run = []
        for check in runnable:
            try:
                sql = check.resolve_query(catalog)
            except SkipCheck:
                to_run.append(check)
                continue
            key, reads, definition = (
                f"gx__{check.key}", tables_read(con, sql), check_definition(check, catalog)
            )  # fmt: skip
            kept = carried(key, reads, definition)
            if kept is not None:
                outcomes.append(kept)
                continue
            rows = (
                carried.narrowing(key, reads, definition, check, records)
                if check.in_parts
                else None
            )
            if rows is not None:
                narrowed[check.key] = (check, rows)
                check = replace(
                    check,
                    query=check.resolve_query(catalog, only=rows.condition),
                    by_file="",
                    by_year="",
                )
            to_run.append(check)
        runnable = to_run
    for result in run_checks(con, runnable, catalog):
        check, message, other_from, judged = result.check, result.message, "", ""
        if check.key in narrowed:
            check, rows = narrowed[check.key]
            message += f" (judged: {rows.words})"
            other_from, judged = carried.baseline_build, rows.condition
        outcome = CheckOutcome(
            key=f"gx__{check.key}",
            source="gx",
            asset="/".join(check.asset),
            level=check.level.value,
            status=result.status,
            message=message,
            failing_rows=result.failing_row_count,
            description=check.description,
            definition=check_definition(check, catalog),
            other_parts_from=other_from,
            judged_rows=judged,
        )
        if not result.passed:
            outcome.failing_rows_file = save_failing_rows(folder, outcome.key, result.failing_rows)
        outcomes.append(outcome)
    return outcomes


def check_definition(check: Any, catalog: Any) -> str:
    """A digest of what a GX check evaluates: its level, query and expectations ("" when it does not
    apply to this warehouse)."""
    from gate.expectations.check import SkipCheck

    try:
        sql = check.resolve_query(catalog)
    except SkipCheck:
        return ""
    text = "\n".join([check.level.value, sql, *(e.describe() for e in check.expectations)])
    return sha256_bytes(text.encode("utf-8"))[:16]


@dataclass
class _Alongside:
    """What is read of a candidate on other threads while it is audited: its SHA-256 and, when its
    promotion is prepared, its serving export (gate.promote.prepare_export)."""

    identity: str  # the candidate's file_identity when they started
    build_id: str
    sha: Future
    export: Future | None


# work started on a candidate before its audit (start_alongside), by the candidate's path
_started: dict[Path, _Alongside] = {}
_started_lock = threading.Lock()


def _alongside(settings: Settings, build_id: str, identity: str, export: bool) -> _Alongside:
    # the file's SHA-256 is read on another thread while the checks run (hashlib leaves the GIL
    # for large blocks): the identity taken before and compared after proves it is the file they
    # judged
    pool = ThreadPoolExecutor(2, thread_name_prefix="eduq-audit")
    sha = pool.submit(sha256_file, settings.candidate_db)
    prepared = None
    if export:
        from gate.promote import prepare_export

        prepared = pool.submit(prepare_export, settings, identity, build_id)
    pool.shutdown(wait=False)
    return _Alongside(identity, build_id, sha, prepared)


def start_alongside(settings: Settings, build_id: str) -> None:
    """Start, as soon as the dbt build that wrote the candidate has ended, what the audit of build
    ``build_id`` in this process reads of the candidate on other threads (its SHA-256 and its
    serving export): they then run while Dagster records the build's assets (~0.6 s of Python on
    one core in a night) instead of after it, beside the checks. :func:`run_audit` takes them when
    the candidate is still in the same state (its file identity) and the build the same; else it
    lets them end and starts its own. (The export holds the candidate open to read: no step
    between the build and the audit opens it to write, DuckDB opening a file in one mode per
    process.)"""
    candidate = settings.candidate_db
    with _started_lock:
        stale = _started.pop(candidate, None)
    if stale is not None:  # (ended first: it may hold the candidate open to read)
        _finish(stale)
    checkpoint(candidate, settings)
    work = _alongside(settings, build_id, file_identity(candidate), export=True)
    with _started_lock:
        _started[candidate] = work


def _finish(work: _Alongside) -> None:
    """Let work that will not be used end (an export writes a file: two never write at once)."""
    for future in (work.sha, work.export):
        if future is not None:
            try:
                future.result()
            except Exception as exc:  # noqa: BLE001 — unused: its error changes nothing
                log.debug("work started before the audit, not used, failed: %s", exc)


def run_audit(
    settings: Settings,
    build_id: str,
    dbt_results: Sequence[DbtNodeResult] | None,
    run_id: str | None = None,
    extra: Iterable[CheckOutcome] = (),
    prepare_promotion: bool = False,
) -> AuditRecord:
    """Audit the candidate warehouse of ``settings`` and write the record (passed or not).

    ``dbt_results`` are the results of the dbt build that wrote this candidate; ``None`` means they
    are unknown, which fails the audit (the dbt tests are error-level checks too). With
    ``prepare_promotion`` the serving export of the candidate is written meanwhile, on another
    thread (gate.promote.prepare_export), and kept only if the audit passes; it and the SHA-256
    may have been started by :func:`start_alongside`.
    """
    candidate = settings.candidate_db
    folder = audit_dir(settings, build_id)
    folder.mkdir(parents=True, exist_ok=True)
    with _started_lock:
        work = _started.pop(candidate, None)
    identity = file_identity(candidate)
    if work is not None and (
        (work.identity, work.build_id) != (identity, build_id) or pending_wal(candidate)
    ):
        # written since (its export, if any, is of another state: promotion never takes it, and
        # the next export removes it)
        _finish(work)
        work = None
    if work is None:
        checkpoint(candidate, settings)
        identity = file_identity(candidate)
        work = _alongside(settings, build_id, identity, export=prepare_promotion)
    # else: as start_alongside checkpointed it (and the export reads it: DuckDB opens a file once
    # per process in one mode)
    export_future = work.export
    if export_future is not None and not prepare_promotion:
        _settle_prepared_export(settings, export_future, passed=False)
        export_future = None
    record = None
    try:
        record = _audit(settings, build_id, dbt_results, run_id, extra, identity, work.sha)
    finally:
        if export_future is not None:
            passed = record is not None and record.passed
            _settle_prepared_export(settings, export_future, passed)
    return record


def _settle_prepared_export(settings: Settings, future: Any, passed: bool) -> None:
    """Wait for the export written alongside the audit; keep it only for a passed audit (a failed
    export is logged: the promotion exports again)."""
    from gate.promote import discard_prepared_exports

    try:
        future.result()
    except Exception as exc:  # noqa: BLE001 — the promotion exports itself and reports its own error
        log.warning("the serving export prepared during the audit failed (%s)", exc)
        passed = False
    if not passed:
        discard_prepared_exports(settings)


def _audit(
    settings: Settings,
    build_id: str,
    dbt_results: Sequence[DbtNodeResult] | None,
    run_id: str | None,
    extra: Iterable[CheckOutcome],
    identity: str,
    sha_future: Any,
) -> AuditRecord:
    candidate = settings.candidate_db
    folder = audit_dir(settings, build_id)
    checks: list[CheckOutcome] = list(extra)
    with duck.connect(candidate, settings, read_only=True) as con:
        if dbt_results is None:
            checks.append(
                CheckOutcome(
                    key="dbt_build_results",
                    source="pipeline",
                    asset="",
                    level="error",
                    status="not_run",
                    message="no dbt build results for this candidate: the audit must run in the same run as the "
                    "dbt build (job nightly_load)",
                )
            )
        else:
            checks += dbt_outcomes(con, dbt_results, folder)
        from gate.baseline import gx_carrier

        carried = gx_carrier(settings, build_id, dbt_results) if dbt_results is not None else None
        checks += gx_outcomes(con, folder, settings, carried=carried)
        rows = table_rows(con)
    sha = sha_future.result()
    if file_identity(candidate) != identity or pending_wal(candidate):
        raise CandidateChanged(
            f"{candidate} changed while it was audited (another process wrote it); run the "
            "load again when nothing else writes the warehouse"
        )
    stat = candidate.stat()
    record = AuditRecord(
        build_id=build_id,
        candidate_sha256=sha,
        candidate_bytes=stat.st_size,
        passed=not any(c.blocks for c in checks),
        audited_at=_now(),
        methodology_profile=settings.methodology_profile,
        run_id=run_id,
        checks=checks,
        table_rows=rows,
        code_fingerprint=code_fingerprint(),
        candidate_mtime_ns=stat.st_mtime_ns,
        candidate_identity=identity,
    )
    write_record(settings, record)
    log.info("audit %s: %s", build_id, "passed" if record.passed else "FAILED")
    return record


def record_failed_build(
    settings: Settings,
    build_id: str,
    failures: Iterable[CheckOutcome],
    dbt_results: Sequence[DbtNodeResult] | None = None,
    run_id: str | None = None,
    run_gx: bool = False,
) -> AuditRecord:
    """Record a build that stopped before its audit (a step failed): the record says why and the
    candidate stays unpromotable. The failing rows of failed dbt tests are saved as in an audit.
    With ``run_gx`` (the dbt build ran but a test or model failed) the Great Expectations suites run
    too, on every table the build did rebuild, so that one record says everything that is wrong."""
    candidate = settings.candidate_db
    folder = audit_dir(settings, build_id)
    folder.mkdir(parents=True, exist_ok=True)
    checks = list(failures)
    sha, size = "", 0
    if candidate.exists():
        sha, size = sha256_file(candidate), candidate.stat().st_size
        if dbt_results or run_gx:
            try:
                with duck.connect(candidate, settings, read_only=True) as con:
                    checks += dbt_outcomes(con, dbt_results or [], folder)
                    if run_gx:
                        checks += gx_outcomes(
                            con, folder, settings, stale_assets(dbt_results or [])
                        )
            except duckdb.Error as exc:  # e.g. still locked by a writer
                log.warning("could not read the candidate for failing rows: %s", exc)
                checks += dbt_outcomes(_NoConnection(), dbt_results or [], folder)
    record = AuditRecord(
        build_id=build_id,
        candidate_sha256=sha,
        candidate_bytes=size,
        passed=False,
        audited_at=_now(),
        methodology_profile=settings.methodology_profile,
        run_id=run_id,
        checks=checks,
    )
    write_record(settings, record)
    return record


def stale_assets(dbt_results: Sequence[DbtNodeResult]) -> set[str]:
    """The models and seeds ("schema/table") a dbt build did not rebuild (skipped or failed)."""
    return {r.asset for r in dbt_results if not r.is_check and r.status != "passed" and r.asset}


class _NoConnection:
    def sql(self, _query: str) -> Any:
        raise duckdb.Error("no connection")


def write_record(settings: Settings, record: AuditRecord) -> Path:
    path = audit_dir(settings, record.build_id) / "audit.json"
    write_json_atomic(path, record.to_json())
    return path


def load_record(path: Path) -> AuditRecord:
    return AuditRecord.from_json(json.loads(path.read_text(encoding="utf-8")))


def read_record(settings: Settings, build_id: str) -> AuditRecord | None:
    path = audit_dir(settings, build_id) / "audit.json"
    return load_record(path) if path.exists() else None


def records(settings: Settings) -> list[AuditRecord]:
    """Every audit record, oldest first."""
    root = audit_root(settings)
    found = [load_record(p) for p in root.glob("*/audit.json")] if root.exists() else []
    return sorted(found, key=lambda r: (r.audited_at, r.build_id))


def find_passed_audit(
    settings: Settings, candidate_sha256: str, known: Sequence[AuditRecord] | None = None
) -> AuditRecord | None:
    """The latest passed audit of exactly this content, if any (among ``known``: the records
    already read, else every record)."""
    known = records(settings) if known is None else known
    matching = [r for r in known if r.candidate_sha256 == candidate_sha256 and r.passed]
    return matching[-1] if matching else None


def audit_of_unchanged_file(
    settings: Settings, identity: str, known: Sequence[AuditRecord] | None = None
) -> AuditRecord | None:
    """The latest passed audit taken of the candidate file as it is now (the same
    core.files.file_identity: not written since), if any; its hash is the file's without reading it.
    ``known``: as for :func:`find_passed_audit`."""
    known = records(settings) if known is None else known
    matching = [r for r in known if r.candidate_identity == identity and r.passed]
    return matching[-1] if matching and identity else None
