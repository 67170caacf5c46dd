"""Every dbt model and seed is a Dagster asset; every dbt data test is an asset check."""

import json
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import (
    DagsterDbtTranslator,
    DagsterDbtTranslatorSettings,
    DbtCliResource,
    dbt_assets,
)

from core.settings import load_settings
from orchestration.dbt_project import dbt_env, eduq_dbt_project, ensure_manifest

LAYER_GROUPS = {"staging": "staging", "intermediate": "intermediate", "marts": "marts"}


class EduqDbtTranslator(DagsterDbtTranslator):
    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        if dbt_resource_props["resource_type"] in ("model", "seed", "snapshot"):
            return dg.AssetKey([dbt_resource_props["schema"], dbt_resource_props["name"]])
        return super().get_asset_key(dbt_resource_props)

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        if dbt_resource_props["resource_type"] == "seed":
            return "reference"
        fqn = dbt_resource_props.get("fqn", [])
        for part in fqn[1:2]:
            if part in LAYER_GROUPS:
                return LAYER_GROUPS[part]
        return "warehouse"


translator = EduqDbtTranslator(
    settings=DagsterDbtTranslatorSettings(
        enable_asset_checks=True, enable_duplicate_source_asset_keys=True
    )
)


@dbt_assets(manifest=ensure_manifest(), project=eduq_dbt_project, dagster_dbt_translator=translator)
def eduq_dbt_models(context: dg.AssetExecutionContext, dbt: DbtCliResource):
    """dbt build: seeds, models and their tests (error-severity failures stop the run)."""
    settings = load_settings()
    # dbt runs as a subprocess that inherits the environment: point it at this run's warehouse
    os.environ.update(dbt_env())
    yield from dbt.cli(dbt_build_args(settings.methodology_profile), context=context).stream()


def dbt_build_args(methodology_profile: str) -> list[str]:
    """`dbt build` with the run's methodology profile; with EDUQ_DBT_FULL_REFRESH set (`eduq run
    --full-refresh`) the incremental models (int_procedure_counts) count every year again."""
    args = ["build", "--vars", json.dumps({"methodology_profile": methodology_profile})]
    if os.environ.get("EDUQ_DBT_FULL_REFRESH", "").strip().lower() in ("1", "true", "yes"):
        args.append("--full-refresh")
    return args


def dbt_resource() -> DbtCliResource:
    return DbtCliResource(
        project_dir=eduq_dbt_project,
        profiles_dir=str(eduq_dbt_project.profiles_dir),
        dbt_executable=str(Path(sys.executable).with_name("dbt")),
    )
