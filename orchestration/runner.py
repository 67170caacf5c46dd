"""Run the pipeline in-process: load, build and test, audit, promote, publish.

The same jobs as the schedule, the sensors and the Dagster UI run, so the same gates apply:
the audit step judges the candidate, promotion refuses an unaudited candidate, publication
refuses a serving warehouse without a passed audit record.
"""

from __future__ import annotations

import signal
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb

from core import duck
from core.settings import Settings
from orchestration.instance import prepare_dagster_home


class PipelineFailed(RuntimeError):
    """A step of the pipeline failed; nothing was promoted or published after it."""


class WarehouseBusy(PipelineFailed):
    """A step could not open the candidate: another process held it open for longer than eduq waits
    (core.duck.WarehouseHeld). Nothing was changed; try again later (`eduq run` exits with 75)."""


@dataclass
class PublicationSummary:
    list_year: int
    status: str  # published | unchanged
    version: int
    directory: Path
    schools: int
    by_cluster: dict[str, int]
    run_id: str
    warnings: list[str] = field(default_factory=list)
    diff: dict[str, int] = field(default_factory=dict)
    documents: list[str] = field(default_factory=list)  # the report and the cards (issue 11)
    marts_files: str = ""  # what publications/marts did

    def render(self) -> str:
        clusters = ", ".join(f"{k}: {v}" for k, v in sorted(self.by_cluster.items()))
        if self.status == "unchanged":
            line = f"ШНОР list {self.list_year}: unchanged since v{self.version} ({self.schools} schools), not republished"
        else:
            line = f"ШНОР list {self.list_year}: published v{self.version}, {self.schools} schools ({clusters})"
            if self.diff:
                line += (
                    f"; against v{self.version - 1}: {self.diff.get('added', 0)} added, "
                    f"{self.diff.get('removed', 0)} removed, {self.diff.get('cluster_changed', 0)} cluster changed"
                )
        out = "\n".join([f"{line}\n  {self.directory}", *self.documents])
        return f"{out}\n{self.marts_files}" if self.marts_files else out


@dataclass
class RunSummary:
    load_run_id: str
    publish_run_id: str | None
    list_year: int | None
    sources: list[tuple[str, int, int, int, int]] = field(
        default_factory=list
    )  # source, files, read, loaded, quarantined
    rejected: list[tuple[str, str]] = field(default_factory=list)
    duplicates: int = 0
    # files withdrawn since the last build (`eduq withdraw`): this build is without them
    withdrawn: list[str] = field(default_factory=list)
    # (file, withdrawn file id, its name, its reason): loaded with the bytes of a withdrawn file
    loaded_again: list[tuple[str, int, str, str]] = field(default_factory=list)
    # source, files, rows: quarantined rows of earlier files whose school code is known now
    released: list[tuple[str, int, int]] = field(default_factory=list)
    list_size: int = 0
    by_cluster: dict[str, int] = field(default_factory=dict)
    publication_dir: Path | None = None
    serving_db: Path | None = None
    build_id: str | None = None
    audit_dir: Path | None = None
    checks: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    publication: PublicationSummary | None = None
    # the latest list year when it is not published: why (incomplete results, or no list)
    list_not_published: str | None = None

    @property
    def status(self) -> str:
        """ok | incomplete: a run whose latest list waits for missing files is not a failure."""
        return "incomplete" if self.list_not_published else "ok"

    postgres: str = ""  # what warehouse/postgres did
    build_plan: str = ""  # gate.baseline: built from an audited build, only what the load reached

    def render(self) -> str:
        lines = ["Loaded this run (files, rows read / loaded / quarantined):"]
        for source, files, read, loaded, quarantined in self.sources:
            lines.append(
                f"  {source:<20} {files:>3} files {read:>10} {loaded:>10} {quarantined:>8}"
            )
        if not self.sources:
            lines.append("  no new files")
        for source, files, rows in self.released:
            lines.append(
                f"Released from quarantine: {rows} rows of {files} earlier {source} file(s), "
                "whose school codes the registry or the code crosswalk gives now."
            )
        if self.duplicates:
            lines.append(f"Skipped {self.duplicates} file(s) already loaded (same content).")
        for withdrawn in self.withdrawn:
            lines.append(f"Built without the withdrawn {withdrawn}.")
        for name, file_id, withdrawn_name, reason in self.loaded_again:
            lines.append(
                f"NOTE {name}: the same bytes as file {file_id} «{withdrawn_name}», withdrawn "
                f"({reason}): loaded again; `eduq withdraw` it if it was sent by mistake."
            )
        for name, message in self.rejected:
            lines.append(f"REJECTED {name}: {message}")
        if self.build_id:
            lines.append(
                f"Audit of build {self.build_id}: passed ({self.checks.get('passed', 0)} checks passed, "
                f"{self.checks.get('skipped', 0)} skipped, {len(self.warnings)} warning(s)) — {self.audit_dir}"
            )
            if self.build_plan:
                lines.append(
                    f"  {self.build_plan} ({self.checks.get('carried_over', 0)} verdicts of dbt "
                    "tests and Great Expectations checks carried over)"
                )
        for warning in self.warnings:
            lines.append(f"  WARNING {warning}")
        if self.publication is not None:
            lines.append(self.publication.render())
        if self.list_not_published:
            lines.append(f"INCOMPLETE: {self.list_not_published}")
        lines.append(f"Serving warehouse: {self.serving_db}")
        if self.postgres:
            lines.append(self.postgres)
        return "\n".join(lines)


def loaded_again(con: duckdb.DuckDBPyConnection, run_id: str) -> list[tuple[str, int, str, str]]:
    """The files the run ``run_id`` loaded with the bytes of a withdrawn file (the same wrong file
    sent again, or the right one meant now): (file, withdrawn file id, its name, its reason)."""
    return con.execute(
        """select l.file_name, w.file_id, w.file_name, w.withdrawn_reason
           from meta.load_log as l join meta.load_log as w on l.file_hash = w.file_hash
           where l.run_id = ? and l.status = 'loaded' and w.status = 'withdrawn'
             and w.released_from_file_id is null
           order by l.file_id, w.file_id""",
        [run_id],
    ).fetchall()


def _instance(settings: Settings, instance: dg.DagsterInstance | None) -> dg.DagsterInstance:
    """The Dagster instance a CLI run executes in: in memory by default (every step's events stay in
    this process: a few hundred events cost a second instead of many on a busy disk; the run's record
    is the audit folder and the log), or DAGSTER_HOME's with EDUQ_DAGSTER_HISTORY=1 (`eduq run
    --dagster-history`), so that `dagster dev` lists the run."""
    if instance is not None:
        return instance
    if settings.dagster_history:
        prepare_dagster_home(settings)
        return dg.DagsterInstance.get()
    return dg.DagsterInstance.ephemeral()


def execute_job(job: dg.JobDefinition, **kwargs: Any) -> dg.ExecuteInProcessResult:
    """``job.execute_in_process(**kwargs)``, SIGTERM's handler as it was before it.

    Dagster's in-process execution catches SIGINT and SIGTERM while it runs (an interrupted step
    stops at its next checkpoint), then gives SIGTERM the handler SIGINT has. A process started with
    SIGINT ignored (a background job of a script, as nightly loads are often started) then ignored
    SIGTERM for the rest of the run: `kill` or a service manager could no longer stop it. The
    handler put back is the CLI's (orchestration/cli.py: SIGTERM stops a command as Ctrl+C does)."""
    if threading.current_thread() is not threading.main_thread():  # handlers belong to it
        return job.execute_in_process(**kwargs)
    before = signal.getsignal(signal.SIGTERM)
    try:
        return job.execute_in_process(**kwargs)
    finally:
        if before is not None:  # None: a handler not set from Python, left as Dagster leaves it
            signal.signal(signal.SIGTERM, before)


def register_list_years(settings: Settings, list_years: list[int]) -> None:
    """Make the list years known to DAGSTER_HOME's instance (the publish job's partitions in the UI),
    also after a run that executed in memory."""
    from orchestration.assets.publication import list_year_partitions

    prepare_dagster_home(settings)
    for attempt in (1, 2):
        with dg.DagsterInstance.get() as home:
            try:
                new = [
                    str(y)
                    for y in list_years
                    if not home.has_dynamic_partition(list_year_partitions.name, str(y))
                ]
                if new:
                    home.add_dynamic_partitions(list_year_partitions.name, new)
                return
            except dg.DagsterInvalidInvocationError:
                if attempt == 2 or not _repair_event_index(home):
                    raise


def _repair_event_index(home: dg.DagsterInstance) -> bool:
    """Create the tables missing from DAGSTER_HOME's event index. Dagster creates them only with a
    new index file: a process killed while it did (the first run of a home) leaves a file without
    some of them — the dynamic partitions' among them — for good. Existing tables are kept."""
    import sqlalchemy
    from dagster._core.storage.event_log.schema import SqlEventLogStorageMetadata

    shard = getattr(home.event_log_storage, "conn_string_for_shard", None)
    if shard is None:  # not the SQLite storage of a DAGSTER_HOME folder
        return False
    engine = sqlalchemy.create_engine(shard("index"), poolclass=sqlalchemy.pool.NullPool)
    try:
        SqlEventLogStorageMetadata.create_all(engine)
    finally:
        engine.dispose()
    return True


QUIET_RUN_CONFIG = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


def _run_config(settings: Settings, quiet: bool) -> dict:
    from orchestration.resources import run_config_for

    return {**run_config_for(settings), **(QUIET_RUN_CONFIG if quiet else {})}


def run_pipeline(
    settings: Settings,
    instance: dg.DagsterInstance | None = None,
    list_year: int | None = None,
    quiet: bool = False,
    documents: bool = False,
) -> RunSummary:
    from orchestration.definitions import get_definitions

    settings.ensure_dirs()
    with settings.writer_lock("`eduq run`"):
        return _run_pipeline(settings, get_definitions(), instance, list_year, quiet, documents)


def _run_pipeline(
    settings: Settings,
    defs: dg.Definitions,
    instance: dg.DagsterInstance | None,
    list_year: int | None,
    quiet: bool,
    documents: bool,
) -> RunSummary:
    from core.withdrawals import pending_withdrawals
    from gate.audit import audit_dir, read_record
    from gate.baseline import read_plan
    from gate.publishable import list_years, require_publishable
    from orchestration.assets.publication import build_id

    given_instance = instance
    instance = _instance(settings, instance)
    withdrawn = pending_withdrawals(settings.serving_db)  # this build is the first without them
    load = execute_job(
        defs.resolve_job_def("nightly_load"),
        instance=instance,
        raise_on_error=False,
        run_config=_run_config(settings, quiet),
    )
    build = build_id(instance, load.run_id)
    record = read_record(settings, build)
    if not load.success:
        text = _failure_text(load, record, audit_dir(settings, build))
        if _held(load):
            raise WarehouseBusy(text)
        raise PipelineFailed(text + _disk_full_hint(text, settings))
    if record is None:  # every step succeeded or was skipped, yet the audit wrote nothing
        raise PipelineFailed(
            f"build {build}: the audit did not run (a step before it was skipped), so nothing was "
            "promoted or published; the run's log says which step"
        )
    summary = RunSummary(
        load.run_id,
        None,
        None,
        serving_db=settings.serving_db,
        postgres=_postgres_outcome(settings, load),
        build_id=build,
        audit_dir=audit_dir(settings, build),
    )
    summary.withdrawn = [
        f"file {w.get('file_id')} «{w.get('file_name')}» ({w.get('reason')})" for w in withdrawn
    ]
    plan = read_plan(settings, build)
    if plan is not None:
        summary.build_plan = plan.describe()
    summary.checks = record.counts()
    summary.warnings = [
        f"{c.key} [{c.asset}]: {c.message}"
        + (f" — rows: {summary.audit_dir / c.failing_rows_file}" if c.failing_rows_file else "")
        for c in record.warnings
    ]
    with duck.connect(settings.serving_db, settings, read_only=True) as con:
        summary.sources = con.execute(
            """select source, count(*), sum(rows_read), sum(rows_loaded), sum(rows_quarantined)
               from meta.load_log where run_id = ? and status = 'loaded' group by source order by source""",
            [load.run_id],
        ).fetchall()
        summary.rejected = con.execute(
            "select file_name, message from meta.load_log where run_id = ? and status = 'rejected' order by file_id",
            [load.run_id],
        ).fetchall()
        summary.released = con.execute(
            """select source, count(*), sum(rows_loaded) from meta.load_log
               where run_id = ? and status = 'released' group by source order by source""",
            [load.run_id],
        ).fetchall()
        summary.duplicates = con.execute(
            "select count(*) from meta.load_log where run_id = ? and status = 'duplicate'",
            [load.run_id],
        ).fetchone()[0]
        summary.loaded_again = loaded_again(con, load.run_id)
        years = list_years(con)
        if list_year is not None:
            require_publishable(con, list_year)  # refuses, saying why, before anything is published
    computed = [y for y in years if y.is_computable]
    if given_instance is None and not settings.dagster_history:
        register_list_years(settings, [y.list_year for y in computed])
    if list_year is None:
        if not computed:
            return summary
        latest = computed[-1]
        if not latest.is_publishable:
            summary.list_not_published = latest.describe()
            return summary
        list_year = latest.list_year
    publication = publish(settings, list_year, instance=instance, quiet=quiet, documents=documents)
    summary.publication = publication
    summary.publish_run_id = publication.run_id
    summary.list_year = publication.list_year
    summary.publication_dir = publication.directory
    summary.list_size = publication.schools
    summary.by_cluster = publication.by_cluster
    return summary


LIST_AND_MARTS = (
    dg.AssetKey(["publications", "shnor_list"]),
    dg.AssetKey(["publications", "marts"]),
)


def publish(
    settings: Settings,
    list_year: int,
    instance: dg.DagsterInstance | None = None,
    quiet: bool = False,
    documents: bool = True,
) -> PublicationSummary:
    """Publish the list of ``list_year`` from the serving warehouse through the job publish_list
    (the asset refuses a serving warehouse without a passed audit record)."""
    with settings.writer_lock(f"`eduq publish --year {list_year}`"):
        return _publish(settings, list_year, instance, quiet, documents)


def _publish(
    settings: Settings,
    list_year: int,
    instance: dg.DagsterInstance | None,
    quiet: bool,
    documents: bool,
) -> PublicationSummary:
    from core.withdrawals import describe_pending
    from gate.errors import PublicationRefused
    from gate.publishable import open_serving, require_intact, require_publishable
    from orchestration.assets.publication import list_year_partitions
    from orchestration.definitions import get_definitions

    if not settings.serving_db.exists():
        raise PublicationRefused(
            f"no serving warehouse at {settings.serving_db}: run `eduq run` first. "
            "Nothing was published."
        )
    withdrawn = describe_pending(settings.serving_db)
    if withdrawn is not None:  # (every publication step refuses too: gate.publishable)
        raise PublicationRefused(f"{withdrawn}. Nothing was published.")
    # a file DuckDB cannot open: refused as damaged
    with open_serving(settings) as con:
        try:
            require_publishable(con, list_year)
        except duckdb.Error as exc:  # a damaged file may open and fail on its first read
            require_intact(settings.serving_db, record_required=False)
            raise PublicationRefused(
                f"{settings.serving_db} cannot be read ({exc}). Nothing was published."
            ) from exc
    defs = get_definitions()
    instance = _instance(settings, instance)
    if not instance.has_dynamic_partition(list_year_partitions.name, str(list_year)):
        instance.add_dynamic_partitions(list_year_partitions.name, [str(list_year)])
    # the job publish_list: the list and the marts files, and (documents) the regional report and the
    # school cards; the yearly documents take seconds to render, a nightly `eduq run` leaves them to
    # `eduq report` / `eduq card --all` unless asked (`--documents`)
    job = defs.resolve_job_def("publish_list")
    result = execute_job(
        job,
        asset_selection=None if documents else list(LIST_AND_MARTS),
        instance=instance,
        partition_key=str(list_year),
        raise_on_error=False,
        run_config=_run_config(settings, quiet),
    )
    if not result.success:  # a publication step failed (after the audit and the promotion)
        text = _publication_failure_text(result, list_year)
        raise PipelineFailed(text + _disk_full_hint(text, settings))
    mat = result.asset_materializations_for_node("publications__shnor_list")
    meta = {k: v.value for k, v in mat[-1].metadata.items()} if mat else {}
    return PublicationSummary(
        list_year=list_year,
        status=str(meta.get("status", "")),
        version=int(meta.get("version", 0)),
        directory=Path(str(meta.get("directory", ""))),
        schools=int(meta.get("schools", 0)),
        by_cluster={
            k.removeprefix("cluster_"): int(v) for k, v in meta.items() if k.startswith("cluster_")
        },
        run_id=result.run_id,
        warnings=[
            line.removeprefix("- ")
            for line in str(meta.get("warnings", "")).splitlines()
            if line.startswith("- ")
        ],
        diff={k.removeprefix("diff_"): int(v) for k, v in meta.items() if k.startswith("diff_")},
        # not rendered now: where the latest ones are (they may be of an earlier list version)
        documents=_documents(result) if documents else _documents_on_disk(settings, list_year),
        marts_files=_marts_files_outcome(result),
    )


def _materialization(result: dg.ExecuteInProcessResult, node: str) -> dict | None:
    found = result.asset_materializations_for_node(node)
    return {k: v.value for k, v in found[-1].metadata.items()} if found else None


def _postgres_outcome(settings: Settings, load: dg.ExecuteInProcessResult) -> str:
    """One line on the PostgreSQL marts of this run (published, unchanged, or why not)."""
    from publishing.postgres import resolve_target

    meta = _materialization(load, "warehouse__postgres")
    if meta is None:
        target, why = resolve_target(settings)
        if target is None:
            return f"PostgreSQL marts: not published ({why})"
        return f"PostgreSQL marts: not published ({target.label} could not be reached; see the log)"
    if meta.get("status") == "unchanged":
        return f"PostgreSQL marts ({meta['target']}): build {meta['build_id']} already published"
    return (
        f"PostgreSQL marts ({meta['target']}): published build {meta['build_id']}, "
        f"{meta['tables']} tables, {meta['rows']} rows in {meta['seconds']} s"
    )


def _marts_files_outcome(result: dg.ExecuteInProcessResult) -> str:
    meta = _materialization(result, "publications__marts")
    if meta is None:
        return ""
    if meta.get("status") == "unchanged":
        return f"Marts files: unchanged since v{meta['version']}\n  {meta['directory']}"
    return (
        f"Marts files: published v{meta['version']}, {meta['marts']} marts, {meta['rows']} rows "
        f"(Parquet, CSV, datapackage.json)\n  {meta['directory']}"
    )


def _documents(result: dg.ExecuteInProcessResult) -> list[str]:
    """Where the report and the cards of the publish run are (issue 11)."""
    out = []
    for node, label in (
        ("publications__regional_report", "Regional report"),
        ("publications__school_cards", "School cards"),
    ):
        mats = result.asset_materializations_for_node(node)
        if not mats:
            continue
        meta = {k: v.value for k, v in mats[-1].metadata.items()}
        state = "unchanged" if meta.get("status") == "unchanged" else "published"
        out.append(
            f"{label} {meta.get('list_year')}: {state} v{meta.get('version')}\n  {meta.get('main_file')}"
        )
    return out


def _documents_on_disk(settings: Settings, list_year: int) -> list[str]:
    """Where the latest regional report and school cards of ``list_year`` are, or how to make them."""
    from publishing.publish import version_numbers

    out = []
    for folder, label, command in (
        ("report", "Regional report", f"eduq report --year {list_year}"),
        ("cards", "School cards", f"eduq card --all --year {list_year}"),
    ):
        base = settings.publications_dir / str(list_year) / folder
        found = version_numbers(base) if base.exists() else []
        if found:
            out.append(
                f"{label} {list_year}: latest v{found[-1]} in {base / f'v{found[-1]}'} ({command} updates it)"
            )
        else:
            out.append(f"{label} {list_year}: not published yet ({command})")
    return out


def _step_failures(result: dg.ExecuteInProcessResult) -> list[tuple[str, str]]:
    out = []
    for event in result.all_events:
        if event.event_type_value == "STEP_FAILURE":
            error = event.step_failure_data.error
            cause = error.cause if error is not None and error.cause is not None else error
            message = cause.message.strip() if cause else "failed"
            out.append((event.step_key, message.splitlines()[0] if message else "failed"))
    return out


# the step of orchestration.assets.ingestion: the first to open the candidate
INGESTION_STEP = "ingestion"


def _held(result: dg.ExecuteInProcessResult) -> bool:
    """Whether the night stopped before it loaded anything because another process held the
    candidate open: the load step alone failed, with WarehouseHeld as its error or the error's cause
    (not one raised while handling it). A file held later (dbt, the audit) fails the night as any
    error does: the files were loaded by then."""
    failed = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    if len(failed) != 1 or failed[0].step_key != INGESTION_STEP:
        return False
    error = failed[0].step_failure_data.error
    while error is not None:
        if error.cls_name == "WarehouseHeld":
            return True
        error = error.cause
    return False


DISK_FULL = ("No space left on device", "Errno 28")


def _disk_full_hint(text: str, settings: Settings) -> str:
    """What to do when the failure was a full disk (said once, after what failed)."""
    if not any(marker in text for marker in DISK_FULL):
        return ""
    return (
        f"\nThe disk is full (No space left on device) where eduq writes ({settings.home}): free "
        "space there and run `eduq run` again. Nothing is lost: the next run resumes from what was "
        "loaded and published. / Диск заполнен: освободите место и запустите `eduq run` снова."
    )


def _publication_failure_text(result: dg.ExecuteInProcessResult, list_year: int) -> str:
    """A publication step failed: the audited build was promoted before it, nothing half-written."""
    lines = [f"  {step}: {message}" for step, message in _step_failures(result)]
    return (
        f"The publication of list year {list_year} failed: what failed was not published (no "
        "version folder is half-written); the serving warehouse holds the audited build, unchanged. "
        f"`eduq run` (or `eduq publish --year {list_year}`) publishes it once the cause is fixed.\n"
        + "\n".join(lines)
    )


def _failure_text(
    result: dg.ExecuteInProcessResult, record=None, folder: Path | None = None
) -> str:
    """What went wrong, once: the audit's verdict with every failed check when the build got that
    far (or was recorded as failed before it), else the steps that failed."""
    steps = _step_failures(result)
    if record is None:
        lines = [f"  {step}: {message}" for step, message in steps]
        return "The run failed; nothing was promoted or published.\n" + "\n".join(lines)
    if record.passed:  # a step after the audit failed (e.g. the disk filled up during promotion)
        failed = {step for step, _ in steps}
        promoted = "warehouse__serving" not in failed and bool(steps)
        head = f"Build {record.build_id} passed its audit, but a later step failed; " + (
            "it was promoted, and what failed after the promotion was not published."
            if promoted
            else "nothing was promoted or published (the serving warehouse is unchanged)."
        )
        return head + "\n" + "\n".join(f"  {step}: {message}" for step, message in steps)
    audited = not any(step.startswith("step__") for step in (c.key for c in record.errors))
    head = (
        f"Build {record.build_id}: the audit failed"
        if audited
        else f"Build {record.build_id} failed before its audit"
    )
    return (
        f"{head} ({len(record.errors)} error-level check(s)); the serving warehouse and the "
        f"publications are unchanged.\n{record.describe_failures(folder)}\n"
        f"Audit record and failing rows: {folder}"
    )
