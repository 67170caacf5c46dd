"""Jobs, schedules and sensors."""

import hashlib

import dagster as dg
import duckdb

from core.settings import load_settings
from gate.audit import (
    CheckOutcome,
    audit_dir,
    failing_rows_name,
    read_record,
    record_failed_build,
)
from gate.dbt_results import find_invocation_dir, read_invocation
from gate.promote import serving_audit
from ingestion.loader import landing_files
from orchestration.assets.bi import marts_files_publication
from orchestration.assets.checks import GX_CHECKS_BY_SPEC, gx_check_key
from orchestration.assets.publication import (
    DBT_TARGET_DIR,
    build_id,
    shnor_list_publication,
)
from publishing.shnor_list import available_list_years

NIGHTLY_CRON = "0 2 * * *"
LANDING_SETTLE_SECONDS = 60


def _step_error(error: BaseException | None) -> str:
    if error is None:
        return "failed"
    if type(error).__name__ == "DagsterDbtCliRuntimeError":
        return "dbt build failed: a model or an error-level dbt test failed (listed below)"
    lines = [line for line in str(error).strip().splitlines() if line.strip()]
    return (lines[0] if lines else type(error).__name__)[:500]


def _gx_failures_of_run(instance: dg.DagsterInstance, run_id: str, folder) -> list[CheckOutcome]:
    """The Great Expectations asset checks of the run that did not pass (their failing rows were
    saved by the check step in the build's audit folder)."""
    out = []
    records = instance.get_records_for_run(
        run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION
    ).records
    for record in records:
        evaluation = record.event_log_entry.dagster_event.event_specific_data
        check = GX_CHECKS_BY_SPEC.get((tuple(evaluation.asset_key.path), evaluation.check_name))
        if check is None or evaluation.passed:
            continue
        key = gx_check_key(check)
        message = evaluation.metadata.get("message")
        out.append(
            CheckOutcome(
                key=key,
                source="gx",
                asset="/".join(check.asset),
                level=check.level.value,
                status="failed",
                message=str(message.value) if message is not None else "failed",
                failing_rows_file=failing_rows_name(key)
                if (folder / failing_rows_name(key)).exists()
                else None,
                description=check.description,
            )
        )
    return out


# steps that write their own verdict: the audit records it; promotion and publication come after it
AUDITED_STEPS = (
    "warehouse__audit",
    "warehouse__serving",
    "warehouse__postgres",
    "publications__shnor_list",
    "publications__marts",
)


def _record_failed_build(context: dg.HookContext, failed_step: bool) -> None:
    """Write (or bring up to date) the record of a build that failed before its audit: the failed
    steps, the failed dbt tests with their rows, the failed Great Expectations asset checks."""
    if context.step_key in AUDITED_STEPS:
        return
    settings = load_settings()
    build = build_id(context.instance, context.run_id)
    previous = read_record(settings, build)
    if previous is not None and previous.passed:
        return
    if not failed_step and previous is None:
        return  # nothing has failed in this run (yet)
    failures = [c for c in (previous.checks if previous else []) if c.source == "pipeline"]
    if failed_step:
        failures.append(
            CheckOutcome(
                key=f"step__{context.step_key}",
                source="pipeline",
                asset=context.step_key,
                level="error",
                status="error",
                message=_step_error(context.op_exception),
            )
        )
    failures += _gx_failures_of_run(context.instance, context.run_id, audit_dir(settings, build))
    invocation = find_invocation_dir(DBT_TARGET_DIR, context.run_id)
    dbt_results = read_invocation(invocation) if invocation else None
    record = record_failed_build(settings, build, failures, dbt_results, run_id=context.run_id)
    if failed_step:
        context.log.error(
            f"build {build} failed before its audit; nothing is promoted or published.\n"
            f"{record.describe_failures(settings.warehouse_dir / 'audit' / build)}"
        )


@dg.failure_hook(name="record_failed_build")
def record_failed_build_hook(context: dg.HookContext) -> None:
    """A step before the audit failed (a load, the dbt build with a failing error-level test): record
    the build as failed, with the failing dbt tests and their rows, so the run says what to fix."""
    _record_failed_build(context, failed_step=True)


@dg.success_hook(name="complete_failed_build_record")
def complete_failed_build_record_hook(context: dg.HookContext) -> None:
    """Steps that still run after a failure (e.g. the Great Expectations checks of the raw inputs)
    add their findings to the failed build's record."""
    _record_failed_build(context, failed_step=False)


nightly_load_job = dg.define_asset_job(
    "nightly_load",
    selection=dg.AssetSelection.all()
    - dg.AssetSelection.assets(shnor_list_publication, marts_files_publication),
    description="Load new landing files, build and test the candidate warehouse, audit it, promote it "
    "to serving only if the audit passed, and publish its marts to PostgreSQL (when configured).",
    executor_def=dg.in_process_executor,
    hooks={record_failed_build_hook, complete_failed_build_record_hook},
)

publish_list_job = dg.define_asset_job(
    "publish_list",
    selection=dg.AssetSelection.assets(shnor_list_publication, marts_files_publication),
    description="Publish the ШНОР list of a list year and, under the latest list year, every public mart "
    "as Parquet and CSV, from the serving warehouse.",
    executor_def=dg.in_process_executor,
)

nightly_schedule = dg.ScheduleDefinition(
    name="nightly_load_schedule",
    job=nightly_load_job,
    cron_schedule=NIGHTLY_CRON,
    execution_timezone="Europe/Moscow",
    default_status=dg.DefaultScheduleStatus.STOPPED,
    description="Every night at 02:00 Moscow time.",
)


def landing_signature() -> tuple[str, int]:
    """A fingerprint of the settled files waiting in the landing folder (name, size, mtime)."""
    import time

    settings = load_settings()
    if not settings.landing_dir.exists():
        return "", 0
    now = time.time()
    parts = []
    for path in landing_files(settings):
        stat = path.stat()
        if now - stat.st_mtime < LANDING_SETTLE_SECONDS:
            continue  # still being copied in; look again on the next tick
        parts.append(f"{path}:{stat.st_size}:{int(stat.st_mtime)}")
    return hashlib.sha256("\n".join(parts).encode()).hexdigest(), len(parts)


@dg.sensor(
    job=nightly_load_job,
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.STOPPED,
    description="Start a load when new files have settled in the landing folder.",
)
def landing_sensor(context: dg.SensorEvaluationContext):
    signature, count = landing_signature()
    if count == 0:
        return dg.SkipReason("landing folder is empty")
    if signature == context.cursor:
        return dg.SkipReason("no new files since the last run")
    context.update_cursor(signature)
    return dg.RunRequest(
        run_key=signature, tags={"eduq/trigger": "landing_sensor", "eduq/files": str(count)}
    )


@dg.run_status_sensor(
    run_status=dg.DagsterRunStatus.SUCCESS,
    monitored_jobs=[nightly_load_job],
    request_job=publish_list_job,
    default_status=dg.DefaultSensorStatus.STOPPED,
    description="After a successful load whose audit passed, publish the list of the latest list year.",
)
def publish_after_load(context: dg.RunStatusSensorContext):
    settings = load_settings()
    if not settings.serving_db.exists():
        return dg.SkipReason("no serving warehouse yet")
    build = build_id(context.instance, context.dagster_run.run_id)
    record = read_record(settings, build)
    if record is None or not record.passed:
        return dg.SkipReason(
            f"the audit of build {build} did not pass (or is missing): nothing to publish"
        )
    with duckdb.connect(str(settings.serving_db), read_only=True) as con:
        audit = serving_audit(con)
        years = available_list_years(con) if audit is not None and audit.passed else []
    if audit is None or not audit.passed:
        return dg.SkipReason(
            "the serving warehouse carries no passed audit record: nothing to publish"
        )
    if not years:
        return dg.SkipReason("the warehouse has no list year")
    return dg.RunRequest(run_key=context.dagster_run.run_id, partition_key=str(max(years)))
