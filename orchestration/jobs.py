"""Jobs, schedules and sensors."""

import hashlib
import time

import dagster as dg

from core import duck
from core.settings import load_settings
from gate.audit import CheckOutcome, read_record, record_failed_build
from gate.promote import serving_audit
from gate.publishable import list_years
from ingestion.loader import landing_files
from orchestration.assets.publication import build_id, dbt_results_of_run

NIGHTLY_CRON = "0 2 * * *"
LANDING_SETTLE_SECONDS = 60
PUBLICATION_KEYS = (
    dg.AssetKey(["publications", "shnor_list"]),
    dg.AssetKey(["publications", "regional_report"]),
    dg.AssetKey(["publications", "school_cards"]),
    dg.AssetKey(["publications", "marts"]),
)


def _step_error(error: BaseException | None) -> str:
    if error is None:
        return "failed"
    lines = [line for line in str(error).strip().splitlines() if line.strip()]
    return (lines[0] if lines else type(error).__name__)[:500]


# steps that write their own verdict: the audit records it; promotion and publication come after it
AUDITED_STEPS = (
    "warehouse__audit",
    "warehouse__serving",
    "warehouse__postgres",
    "publications__shnor_list",
    "publications__marts",
    "publications__regional_report",
    "publications__school_cards",
)
DBT_STEP = "eduq_dbt_models"


@dg.failure_hook(name="record_failed_build", required_resource_keys={"eduq"})
def record_failed_build_hook(context: dg.HookContext) -> None:
    """A step before the audit failed (a load, the dbt build with a failing error-level test or model):
    record the build as failed with every failing check — the failed dbt tests with their rows and,
    when dbt ran, the Great Expectations suites on what it rebuilt — so that the run says what to fix."""
    if context.step_key in AUDITED_STEPS:
        return
    settings = context.resources.eduq.settings()
    build = build_id(context.instance, context.run_id)
    previous = read_record(settings, build)
    if previous is not None and previous.passed:
        return
    failures = [c for c in (previous.checks if previous else []) if c.source == "pipeline"]
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
    dbt_results = dbt_results_of_run(settings, context.instance, context.run_id)
    record = record_failed_build(
        settings,
        build,
        failures,
        dbt_results,
        run_id=context.run_id,
        run_gx=context.step_key == DBT_STEP and dbt_results is not None,
    )
    context.log.error(
        f"build {build} failed before its audit; nothing is promoted or published.\n"
        f"{record.describe_failures(settings.warehouse_dir / 'audit' / build)}"
    )


nightly_load_job = dg.define_asset_job(
    "nightly_load",
    selection=dg.AssetSelection.all() - dg.AssetSelection.assets(*PUBLICATION_KEYS),
    description="Load new landing files, build and test the candidate warehouse, audit it, promote it "
    "to serving only if the audit passed, and publish its marts to PostgreSQL (when configured).",
    executor_def=dg.in_process_executor,
    hooks={record_failed_build_hook},
)

publish_list_job = dg.define_asset_job(
    "publish_list",
    selection=dg.AssetSelection.assets(*PUBLICATION_KEYS),
    description="Publish the ШНОР list of a list year from the serving warehouse, with the regional report "
    "and the school cards of that year and, under the latest list year, every public mart as Parquet and "
    "CSV.",
    executor_def=dg.in_process_executor,
)


@dg.schedule(
    name="nightly_load_schedule",
    job=nightly_load_job,
    cron_schedule=NIGHTLY_CRON,
    execution_timezone="Europe/Moscow",
    default_status=dg.DefaultScheduleStatus.STOPPED,
    description="Every night at 02:00 Moscow time, unless nothing is new (no landing file, the same "
    "code and profile, the serving warehouse verified and its list published): then the night is "
    "skipped with the reason.",
)
def nightly_schedule(context: dg.ScheduleEvaluationContext):
    from orchestration.plan import nothing_new

    noop, _why = nothing_new(load_settings())
    if noop is not None:
        return dg.SkipReason(noop.render())
    return dg.RunRequest()


def landing_signature() -> tuple[str, int]:
    """A fingerprint of the settled files waiting in the landing folder (name, size, mtime)."""
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
    with duck.connect(settings.serving_db, settings, read_only=True) as con:
        audit = serving_audit(con)
        years = [y for y in list_years(con) if y.is_computable] if audit and audit.passed else []
    if audit is None or not audit.passed:
        return dg.SkipReason(
            "the serving warehouse carries no passed audit record: nothing to publish"
        )
    if not years:
        return dg.SkipReason("the warehouse has no list year whose list can be computed")
    if not years[-1].is_publishable:
        return dg.SkipReason(years[-1].describe())
    return dg.RunRequest(run_key=context.dagster_run.run_id, partition_key=str(years[-1].list_year))
