"""Write-audit-publish as assets: audit the candidate, promote it to serving, publish the list.

- ``warehouse/audit`` judges the candidate this run built: the dbt tests of this run's dbt build
  and the Great Expectations suites, bound to the candidate's SHA-256 (gate/audit.py);
- ``warehouse/serving`` promotes only a candidate whose exact content passed an audit
  (gate/promote.py), whatever started the run;
- ``publications/shnor_list`` publishes only from a serving warehouse that carries a passed
  audit record (publishing/publish.py), whatever started the run (sensor, UI, ``eduq publish``).
"""

import datetime as dt

import dagster as dg
import duckdb

from core.settings import load_settings
from gate.audit import CheckOutcome, audit_dir, run_audit
from gate.dbt_results import find_invocation_dir, read_invocation
from gate.errors import AuditFailed
from gate.promote import promote
from gate.publishable import computed_list_years
from orchestration.assets.dbt import eduq_dbt_models
from orchestration.dbt_project import DBT_PROJECT_DIR
from publishing.publish import publish_list

list_year_partitions = dg.DynamicPartitionsDefinition(name="list_year")
DBT_TARGET_DIR = DBT_PROJECT_DIR / "target"
AUDIT_KEY = dg.AssetKey(["warehouse", "audit"])


def build_id(instance: dg.DagsterInstance, run_id: str) -> str:
    """The build a run writes: ``<run start, UTC>-<run id prefix>`` (sortable, unique)."""
    record = instance.get_run_record_by_id(run_id)
    started = record.start_time if record and record.start_time else None
    moment = dt.datetime.fromtimestamp(started, dt.UTC) if started else dt.datetime.now(dt.UTC)
    return f"{moment:%Y%m%dT%H%M%S}-{run_id[:8]}"


def other_checks_of_run(instance: dg.DagsterInstance, run_id: str) -> list[CheckOutcome]:
    """Asset checks of the run that are neither dbt tests nor GX checks (e.g. the ingestion checks
    on rejected files and quarantined rows): they count in the audit at their own severity."""
    from orchestration.assets.checks import GX_CHECKS_BY_SPEC

    dbt_keys = set(eduq_dbt_models.keys)
    out = []
    records = instance.get_records_for_run(
        run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION
    ).records
    for record in records:
        evaluation = record.event_log_entry.dagster_event.event_specific_data
        if (
            evaluation.asset_key in dbt_keys
            or (tuple(evaluation.asset_key.path), evaluation.check_name) in GX_CHECKS_BY_SPEC
        ):
            continue
        warn = evaluation.severity == dg.AssetCheckSeverity.WARN
        text = evaluation.description or next(
            (
                str(v.value)
                for k, v in evaluation.metadata.items()
                if k in ("message", "messages", "rejected")
            ),
            "",
        )
        out.append(
            CheckOutcome(
                key=f"dagster__{'__'.join(evaluation.asset_key.path)}__{evaluation.check_name}",
                source="dagster",
                asset=evaluation.asset_key.to_user_string(),
                level="warning" if warn else "error",
                status="passed" if evaluation.passed else "failed",
                message=text[:500],
            )
        )
    return out


@dg.asset(
    key=AUDIT_KEY,
    group_name="publication",
    deps=[eduq_dbt_models],
    description="Audit the candidate warehouse this run built: every dbt test of this run's dbt build and "
    "every Great Expectations check (error and warning level), bound to the candidate's SHA-256. Writes "
    "warehouse/audit/<build>/audit.json and the failing rows of each failed check; fails when an "
    "error-level check failed, so nothing is promoted.",
    kinds={"python", "duckdb"},
)
def candidate_audit(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    settings = load_settings()
    run_id = context.run.run_id
    build = build_id(context.instance, run_id)
    invocation = find_invocation_dir(DBT_TARGET_DIR, run_id)
    if invocation is None:
        context.log.error("no dbt build in this run: the audit cannot vouch for the dbt tests")
    record = run_audit(
        settings,
        build,
        read_invocation(invocation) if invocation else None,
        run_id=run_id,
        extra=other_checks_of_run(context.instance, run_id),
    )
    folder = audit_dir(settings, build)
    for warning in record.warnings:
        context.log.warning(
            f"warning-level check failed: {warning.key} [{warning.asset}]: {warning.message}"
        )
    counts = record.counts()
    metadata = {
        "build_id": build,
        "passed": record.passed,
        "candidate_sha256": record.candidate_sha256,
        "audit_dir": str(folder),
        **counts,
        "failed_checks": dg.MetadataValue.md(record.describe_failures(folder) or "none"),
    }
    if not record.passed:
        raise AuditFailed(
            f"audit of build {build} failed: {len(record.errors)} error-level check(s); the serving warehouse "
            f"and the publications are unchanged.\n{record.describe_failures(folder)}\nAudit record: "
            f"{folder / 'audit.json'}"
        )
    return dg.MaterializeResult(metadata=metadata)


@dg.asset(
    key=["warehouse", "serving"],
    group_name="publication",
    deps=[candidate_audit],
    description="Copy the audited candidate warehouse over the serving warehouse in one atomic rename, "
    "with its audit record embedded (schema audit). Refuses a candidate whose exact content has no passed "
    "audit. Analysts and BI tools read only the serving file.",
    kinds={"duckdb"},
)
def serving_warehouse(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    settings = load_settings()
    promotion = promote(settings)
    with duckdb.connect(str(settings.serving_db), read_only=True) as con:
        years = [str(y) for y in computed_list_years(con)]
    new = [
        y for y in years if not context.instance.has_dynamic_partition(list_year_partitions.name, y)
    ]
    if new:
        context.instance.add_dynamic_partitions(list_year_partitions.name, new)
    return dg.MaterializeResult(
        metadata={
            "path": str(promotion.serving_path),
            "size_bytes": promotion.size_bytes,
            "sha256": promotion.sha256,
            "build_id": promotion.build_id,
            "candidate_sha256": promotion.candidate_sha256,
            "list_years": ", ".join(years),
        }
    )


@dg.asset(
    key=["publications", "shnor_list"],
    group_name="publication",
    deps=[serving_warehouse],
    partitions_def=list_year_partitions,
    description="The ШНОР list of a list year in publications/<list_year>/v<N>/: XLSX for print, CSV (UTF-8 "
    "with BOM), Parquet, manifest.json and, from v2 on, the diff against the previous version. Publishes "
    "only from a serving warehouse with a passed audit; an unchanged list makes no new version.",
    kinds={"xlsx", "csv", "parquet"},
)
def shnor_list_publication(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    settings = load_settings()
    list_year = int(context.partition_key)
    result = publish_list(settings, list_year)
    context.log.info(result.render())
    for warning in result.warnings:
        context.log.warning(f"warning-level check: {warning}")
    return dg.MaterializeResult(
        metadata={
            "list_year": list_year,
            "status": result.status,
            "version": result.version,
            "directory": str(result.directory),
            "schools": result.rows,
            "build_id": result.build_id,
            **{f"cluster_{k}": v for k, v in result.by_cluster.items()},
            **{f"diff_{k}": v for k, v in result.diff.items()},
            "warnings": dg.MetadataValue.md("\n".join(f"- {w}" for w in result.warnings) or "none"),
            "files": dg.MetadataValue.md("\n".join(f"- {p}" for p in result.files) or "unchanged"),
        }
    )
