"""Run the whole pipeline in-process: load, build and test, promote, publish."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg
import duckdb

from ingestion.settings import Settings
from orchestration.instance import prepare_dagster_home


class PipelineFailed(RuntimeError):
    """A step of the pipeline failed; nothing was promoted or published after it."""


@dataclass
class RunSummary:
    load_run_id: str
    publish_run_id: str | None
    list_year: int | None
    sources: list[tuple[str, int, int, int, int]] = field(default_factory=list)  # source, files, read, loaded, quarantined
    rejected: list[tuple[str, str]] = field(default_factory=list)
    duplicates: int = 0
    list_size: int = 0
    by_cluster: dict[str, int] = field(default_factory=dict)
    publication_dir: Path | None = None
    serving_db: Path | None = None

    def render(self) -> str:
        lines = ["Loaded this run (files, rows read / loaded / quarantined):"]
        for source, files, read, loaded, quarantined in self.sources:
            lines.append(f"  {source:<20} {files:>3} files {read:>10} {loaded:>10} {quarantined:>8}")
        if not self.sources:
            lines.append("  no new files")
        if self.duplicates:
            lines.append(f"Skipped {self.duplicates} file(s) already loaded (same content).")
        for name, message in self.rejected:
            lines.append(f"REJECTED {name}: {message}")
        if self.list_year is not None:
            clusters = ", ".join(f"{k}: {v}" for k, v in sorted(self.by_cluster.items()))
            lines.append(f"ШНОР list {self.list_year}: {self.list_size} schools ({clusters})")
            lines.append(f"Published to {self.publication_dir}")
        lines.append(f"Serving warehouse: {self.serving_db}")
        return "\n".join(lines)


def _instance(settings: Settings, instance: dg.DagsterInstance | None) -> dg.DagsterInstance:
    if instance is not None:
        return instance
    prepare_dagster_home(settings)
    return dg.DagsterInstance.get()


QUIET_RUN_CONFIG = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


def run_pipeline(settings: Settings, instance: dg.DagsterInstance | None = None,
                 list_year: int | None = None, quiet: bool = False) -> RunSummary:
    from orchestration.definitions import defs
    from publishing.shnor_list import available_list_years

    settings.ensure_dirs()
    instance = _instance(settings, instance)
    run_config = QUIET_RUN_CONFIG if quiet else None
    load = defs.resolve_job_def("nightly_load").execute_in_process(
        instance=instance, raise_on_error=False, run_config=run_config
    )
    if not load.success:
        raise PipelineFailed(_failure_text(load))
    summary = RunSummary(load.run_id, None, None, serving_db=settings.serving_db)
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
            "select count(*) from raw._load_log where run_id = ? and status = 'duplicate'", [load.run_id]
        ).fetchone()[0]
        years = available_list_years(con)
    if not years:
        return summary
    year = list_year or max(years)
    publish = defs.resolve_job_def("publish_list").execute_in_process(
        instance=instance, partition_key=str(year), raise_on_error=False, run_config=run_config
    )
    if not publish.success:
        raise PipelineFailed(_failure_text(publish))
    summary.publish_run_id = publish.run_id
    summary.list_year = year
    summary.publication_dir = settings.publications_dir / str(year)
    mat = publish.asset_materializations_for_node("publications__shnor_list")
    meta = mat[-1].metadata if mat else {}
    summary.list_size = int(meta["schools"].value) if "schools" in meta else 0
    summary.by_cluster = {k.removeprefix("cluster_"): int(v.value) for k, v in meta.items() if k.startswith("cluster_")}
    return summary


def _failure_text(result: dg.ExecuteInProcessResult) -> str:
    lines = []
    for event in result.all_events:
        if event.event_type_value == "STEP_FAILURE":
            error = event.step_failure_data.error
            lines.append(f"{event.step_key}: {error.message.strip() if error else 'failed'}")
        if event.event_type_value == "ASSET_CHECK_EVALUATION":
            data = event.event_specific_data.asset_check_evaluation
            if not data.passed:
                lines.append(f"check failed: {data.asset_key.to_user_string()} {data.check_name}")
    return "pipeline failed:\n" + "\n".join(lines)
