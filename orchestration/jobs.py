"""Jobs, schedules and sensors."""


import hashlib

import duckdb
import dagster as dg

from ingestion.loader import landing_files
from ingestion.settings import load_settings
from orchestration.assets.publication import list_year_partitions, shnor_list_publication
from publishing.shnor_list import available_list_years

NIGHTLY_CRON = "0 2 * * *"
LANDING_SETTLE_SECONDS = 60

nightly_load_job = dg.define_asset_job(
    "nightly_load",
    selection=dg.AssetSelection.all() - dg.AssetSelection.assets(shnor_list_publication),
    description="Load new landing files, build and test the warehouse, promote it to serving.",
    executor_def=dg.in_process_executor,
)

publish_list_job = dg.define_asset_job(
    "publish_list",
    selection=dg.AssetSelection.assets(shnor_list_publication),
    partitions_def=list_year_partitions,
    description="Publish the ШНОР list of a list year from the serving warehouse.",
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
    return dg.RunRequest(run_key=signature, tags={"eduq/trigger": "landing_sensor", "eduq/files": str(count)})


@dg.run_status_sensor(
    run_status=dg.DagsterRunStatus.SUCCESS,
    monitored_jobs=[nightly_load_job],
    request_job=publish_list_job,
    default_status=dg.DefaultSensorStatus.STOPPED,
    description="After a successful load, publish the list of the latest list year.",
)
def publish_after_load(context: dg.RunStatusSensorContext):
    settings = load_settings()
    if not settings.serving_db.exists():
        return dg.SkipReason("no serving warehouse yet")
    with duckdb.connect(str(settings.serving_db), read_only=True) as con:
        years = available_list_years(con)
    if not years:
        return dg.SkipReason("the warehouse has no list year")
    return dg.RunRequest(run_key=context.dagster_run.run_id, partition_key=str(max(years)))
