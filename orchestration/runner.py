"""Run the pipeline in-process: load, build and test, audit, promote, publish.

The same jobs as the schedule, the sensors and the Dagster UI run, so the same gates apply:
the audit step judges the candidate, promotion refuses an unaudited candidate, publication
refuses a serving warehouse without a passed audit record.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg
import duckdb

from core.settings import Settings
from orchestration.instance import prepare_dagster_home


class PipelineFailed(RuntimeError):
    """A step of the pipeline failed; nothing was promoted or published after it."""


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
        out = f"{line}\n  {self.directory}"
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
    list_size: int = 0
    by_cluster: dict[str, int] = field(default_factory=dict)
    publication_dir: Path | None = None
    serving_db: Path | None = None
    build_id: str | None = None
    audit_dir: Path | None = None
    checks: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    publication: PublicationSummary | None = None
    postgres: str = ""  # what warehouse/postgres did

    def render(self) -> str:
        lines = ["Loaded this run (files, rows read / loaded / quarantined):"]
        for source, files, read, loaded, quarantined in self.sources:
            lines.append(
                f"  {source:<20} {files:>3} files {read:>10} {loaded:>10} {quarantined:>8}"
            )
        if not self.sources:
            lines.append("  no new files")
        if self.duplicates:
            lines.append(f"Skipped {self.duplicates} file(s) already loaded (same content).")
        for name, message in self.rejected:
            lines.append(f"REJECTED {name}: {message}")
        if self.build_id:
            lines.append(
                f"Audit of build {self.build_id}: passed ({self.checks.get('passed', 0)} checks passed, "
                f"{self.checks.get('skipped', 0)} skipped, {len(self.warnings)} warning(s)) — {self.audit_dir}"
            )
        for warning in self.warnings:
            lines.append(f"  WARNING {warning}")
        if self.publication is not None:
            lines.append(self.publication.render())
        lines.append(f"Serving warehouse: {self.serving_db}")
        if self.postgres:
            lines.append(self.postgres)
        return "\n".join(lines)


def _instance(settings: Settings, instance: dg.DagsterInstance | None) -> dg.DagsterInstance:
    if instance is not None:
        return instance
    prepare_dagster_home(settings)
    return dg.DagsterInstance.get()


QUIET_RUN_CONFIG = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


def run_pipeline(
    settings: Settings,
    instance: dg.DagsterInstance | None = None,
    list_year: int | None = None,
    quiet: bool = False,
) -> RunSummary:
    from gate.audit import audit_dir, read_record
    from orchestration.assets.publication import build_id
    from orchestration.definitions import defs
    from publishing.shnor_list import available_list_years

    settings.ensure_dirs()
    instance = _instance(settings, instance)
    run_config = QUIET_RUN_CONFIG if quiet else None
    load = defs.resolve_job_def("nightly_load").execute_in_process(
        instance=instance, raise_on_error=False, run_config=run_config
    )
    build = build_id(instance, load.run_id)
    record = read_record(settings, build)
    if not load.success:
        text = _failure_text(load)
        failed_steps = {e.step_key for e in load.all_events if e.event_type_value == "STEP_FAILURE"}
        if (
            record is not None and "warehouse__audit" not in failed_steps
        ):  # the audit step says it itself
            text += (
                f"\nBuild {build} stopped before its audit; the serving warehouse and the publications are "
                f"unchanged.\n{record.describe_failures(audit_dir(settings, build))}"
            )
        if record is not None:
            text += f"\nAudit record and failing rows: {audit_dir(settings, build)}"
        raise PipelineFailed(text)
    summary = RunSummary(
        load.run_id,
        None,
        None,
        serving_db=settings.serving_db,
        postgres=_postgres_outcome(settings, load),
        build_id=build,
        audit_dir=audit_dir(settings, build),
    )
    if record is not None:
        summary.checks = record.counts()
        summary.warnings = [f"{c.key} [{c.asset}]: {c.message}" for c in record.warnings]
    with duckdb.connect(str(settings.serving_db), read_only=True) as con:
        summary.sources = con.execute(
            """select source, count(*), sum(rows_read), sum(rows_loaded), sum(rows_quarantined)
               from raw._load_log where run_id = ? and status = 'loaded' group by source order by source""",
            [load.run_id],
        ).fetchall()
        summary.rejected = con.execute(
            "select file_name, message from raw._load_log where run_id = ? and status = 'rejected' order by file_id",
            [load.run_id],
        ).fetchall()
        summary.duplicates = con.execute(
            "select count(*) from raw._load_log where run_id = ? and status = 'duplicate'",
            [load.run_id],
        ).fetchone()[0]
        years = available_list_years(con)
    if not years:
        return summary
    publication = publish(settings, list_year or max(years), instance=instance, quiet=quiet)
    summary.publication = publication
    summary.publish_run_id = publication.run_id
    summary.list_year = publication.list_year
    summary.publication_dir = publication.directory
    summary.list_size = publication.schools
    summary.by_cluster = publication.by_cluster
    return summary


def publish(
    settings: Settings,
    list_year: int,
    instance: dg.DagsterInstance | None = None,
    quiet: bool = False,
) -> PublicationSummary:
    """Publish the list of ``list_year`` from the serving warehouse through the job publish_list
    (the asset refuses a serving warehouse without a passed audit record)."""
    from orchestration.assets.publication import list_year_partitions
    from orchestration.definitions import defs
    from publishing.errors import ListYearNotAvailable, PublicationRefused
    from publishing.shnor_list import available_list_years

    instance = _instance(settings, instance)
    if not settings.serving_db.exists():
        raise PublicationRefused(
            f"no serving warehouse at {settings.serving_db}: run `eduq run` first. "
            "Nothing was published."
        )
    with duckdb.connect(str(settings.serving_db), read_only=True) as con:
        years = available_list_years(con)
    if list_year not in years:
        raise ListYearNotAvailable(
            f"the serving warehouse has no ШНОР list for {list_year}; list years "
            f"available: {', '.join(map(str, years)) or 'none'}"
        )
    if not instance.has_dynamic_partition(list_year_partitions.name, str(list_year)):
        instance.add_dynamic_partitions(list_year_partitions.name, [str(list_year)])
    result = defs.resolve_job_def("publish_list").execute_in_process(
        instance=instance,
        partition_key=str(list_year),
        raise_on_error=False,
        run_config=QUIET_RUN_CONFIG if quiet else None,
    )
    if not result.success:
        raise PipelineFailed(_failure_text(result))
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


def _failure_text(result: dg.ExecuteInProcessResult) -> str:
    lines = []
    for event in result.all_events:
        if event.event_type_value == "STEP_FAILURE":
            error = event.step_failure_data.error
            cause = error.cause if error is not None and error.cause is not None else error
            message = cause.message.strip() if cause else "failed"
            lines.append(f"{event.step_key}: {message}")
        if event.event_type_value == "ASSET_CHECK_EVALUATION":
            data = event.event_specific_data
            if not data.passed:
                level = "warning" if data.severity == dg.AssetCheckSeverity.WARN else "check failed"
                lines.append(f"{level}: {data.asset_key.to_user_string()} {data.check_name}")
    return "pipeline failed:\n" + "\n".join(lines)
