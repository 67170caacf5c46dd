"""The eduq code location: `dagster dev -w workspace.yaml` shows the whole asset graph."""

from __future__ import annotations

import dagster as dg

from orchestration.assets.bi import marts_files_publication, postgres_marts
from orchestration.assets.checks import expectation_checks
from orchestration.assets.dbt import dbt_resource, eduq_dbt_models
from orchestration.assets.ingestion import landing_survey, source_assets
from orchestration.assets.publication import (
    candidate_audit,
    serving_warehouse,
    shnor_list_publication,
)
from orchestration.jobs import (
    landing_sensor,
    nightly_load_job,
    nightly_schedule,
    publish_after_load,
    publish_list_job,
)

defs = dg.Definitions(
    assets=[
        landing_survey,
        *source_assets,
        eduq_dbt_models,
        candidate_audit,
        serving_warehouse,
        shnor_list_publication,
        postgres_marts,
        marts_files_publication,
    ],
    asset_checks=expectation_checks,
    jobs=[nightly_load_job, publish_list_job],
    schedules=[nightly_schedule],
    sensors=[landing_sensor, publish_after_load],
    resources={"dbt": dbt_resource()},
)
