"""The eduq code location: `dagster dev -w workspace.yaml` shows the whole asset graph.

The definitions are built when Dagster (or the runner) asks for them, not when this module is
imported: building them prepares the dbt manifest (parsing the project only if it changed).
"""

from __future__ import annotations

from functools import cache

import dagster as dg


@cache
def get_definitions() -> dg.Definitions:
    """Every asset, check, job, schedule and sensor of eduq (built once per process)."""
    from orchestration.assets.bi import marts_files_publication, postgres_marts
    from orchestration.assets.checks import build_gx_checks
    from orchestration.assets.dbt import build_dbt_assets
    from orchestration.assets.ingestion import ingestion_assets
    from orchestration.assets.publication import (
        build_publication_assets,
        shnor_list_publication,
    )
    from orchestration.assets.report import report_assets
    from orchestration.jobs import (
        landing_sensor,
        nightly_load_job,
        nightly_schedule,
        publish_after_load,
        publish_list_job,
    )
    from orchestration.resources import EduqResource

    dbt_models = build_dbt_assets()
    return dg.Definitions(
        assets=[
            ingestion_assets(),
            dbt_models,
            *build_publication_assets(set(dbt_models.keys)),
            shnor_list_publication,
            *report_assets,
            postgres_marts,
            marts_files_publication,
        ],
        asset_checks=[build_gx_checks()],
        jobs=[nightly_load_job, publish_list_job],
        schedules=[nightly_schedule],
        sensors=[landing_sensor, publish_after_load],
        resources={"eduq": EduqResource()},
    )


@dg.definitions
def defs() -> dg.Definitions:
    return get_definitions()
