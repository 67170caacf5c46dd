"""The marts where analysts' tools are: PostgreSQL (BI tools) and files (Parquet and CSV with a
datapackage.json), both only from a serving warehouse that carries a passed audit.

- ``warehouse/postgres`` (job nightly_load, after ``warehouse/serving``): publishes every public mart
  to PostgreSQL (publishing/postgres.py), atomically; skipped, with the reason in the log, when no
  PostgreSQL is configured (``EDUQ_PG_URL``) or the project's cluster is not running
  (``make postgres``);
- ``publications/marts`` (job publish_list, partitioned by list year like the list): every public
  mart as Parquet and CSV in ``publications/<Y>/marts/v<N>/`` (publishing/marts_files.py).
"""

import dagster as dg

from core import duck, progress
from orchestration.assets.publication import list_year_partitions
from orchestration.dbt_project import prepare_manifest
from orchestration.resources import EduqResource

SERVING_KEY = dg.AssetKey(["warehouse", "serving"])

POSTGRES_KEY = dg.AssetKey(["warehouse", "postgres"])


@dg.asset(
    key=POSTGRES_KEY,
    group_name="publication",
    deps=[SERVING_KEY],
    output_required=False,
    description="Every public mart (schema marts of the serving warehouse) in PostgreSQL for BI tools: "
    "loaded with COPY into a new schema, then swapped in with renames in one transaction (readers see "
    "the old marts or the new ones, never a mix), with primary keys, NOT NULL and the dbt descriptions as "
    "comments; read-only role eduq_bi. Only from a serving warehouse with a passed audit. Skipped when "
    "no PostgreSQL is configured (EDUQ_PG_URL) or running (make postgres).",
    kinds={"postgres"},
)
def postgres_marts(context: dg.AssetExecutionContext, eduq: EduqResource):
    from publishing.postgres import PostgresUnavailable, publish_marts, resolve_target

    settings = eduq.settings()
    target, why = resolve_target(settings)
    if target is None:
        context.log.info(f"warehouse/postgres skipped: {why}")
        return
    try:
        result = publish_marts(
            settings.serving_db,
            target.conninfo,
            prepare_manifest(),
            bi_role=settings.pg_bi_role,
            small_number_min=settings.small_number_min,
            duckdb_config=duck.resources(settings),
        )
    except PostgresUnavailable as exc:
        # BI tools keep the marts they have; the run (and the list's publication) goes on
        context.log.warning(f"warehouse/postgres skipped: {exc}")
        return
    context.log.info(result.render())
    for warning in result.warnings:
        context.log.warning(warning)
    yield dg.MaterializeResult(
        metadata={
            "status": result.status,
            "build_id": result.build_id,
            "target": result.target,
            "tables": len(result.tables),
            "rows": sum(result.tables.values()),
            "seconds": round(result.seconds, 2),
            "swap_ms": round(result.swap_seconds * 1000, 1),
        }
    )


@dg.asset(
    key=["publications", "marts"],
    group_name="publication",
    deps=[SERVING_KEY],
    partitions_def=list_year_partitions,
    output_required=False,
    description="Every public mart as Parquet and CSV (UTF-8 with BOM) with a datapackage.json (Frictionless "
    "Data: fields, types, descriptions, primary keys) in publications/<list year>/marts/v<N>/, under the "
    "latest list year. Only from a serving warehouse with a passed audit; versions are never "
    "overwritten, unchanged marts make no new version.",
    kinds={"parquet", "csv"},
)
def marts_files_publication(context: dg.AssetExecutionContext, eduq: EduqResource):
    from publishing.marts_files import publish_marts_files

    settings = eduq.settings()
    progress.stage(f"publish the marts files {context.partition_key}")
    result = publish_marts_files(settings, int(context.partition_key), prepare_manifest())
    context.log.info(result.render())
    if result.status == "skipped":
        return
    yield dg.MaterializeResult(
        metadata={
            "status": result.status,
            "version": result.version,
            "directory": str(result.directory),
            "marts": len(result.rows),
            "rows": sum(result.rows.values()),
            "build_id": result.build_id,
        }
    )
