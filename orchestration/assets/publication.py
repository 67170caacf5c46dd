"""Write-audit-publish as assets: audit the candidate, promote it to serving, publish the list.

- ``warehouse/audit`` judges the candidate this run built: the dbt tests of this run's dbt build
  and the Great Expectations suites (run once, here), bound to the candidate's SHA-256
  (gate/audit.py). It always records its verdict; its check ``passed`` fails when an error-level
  check failed;
- ``warehouse/serving`` promotes only a candidate whose exact content passed an audit
  (gate/promote.py), whatever started the run: a failed audit stops the run here;
- ``publications/shnor_list`` publishes only from a serving warehouse that carries a passed audit
  record and only a list year that may be published (gate/publishable.py), whatever started the
  run (sensor, UI, ``eduq publish``).
"""

import datetime as dt

import dagster as dg

from core import duck, progress
from core.settings import Settings
from gate.audit import CheckOutcome, audit_dir, run_audit
from gate.baseline import carry_over
from gate.dbt_results import read_invocation
from gate.promote import promote
from gate.publishable import computed_list_years
from orchestration.dbt_build import target_dir_for
from orchestration.resources import EduqResource
from publishing.publish import publish_list

list_year_partitions = dg.DynamicPartitionsDefinition(name="list_year")
AUDIT_KEY = dg.AssetKey(["warehouse", "audit"])
AUDIT_CHECK = "passed"


def build_id(instance: dg.DagsterInstance, run_id: str) -> str:
    """The build a run writes: ``<run start, UTC>-<run id prefix>`` (sortable, unique)."""
    record = instance.get_run_record_by_id(run_id)
    started = record.start_time if record and record.start_time else None
    moment = dt.datetime.fromtimestamp(started, dt.UTC) if started else dt.datetime.now(dt.UTC)
    return f"{moment:%Y%m%dT%H%M%S}-{run_id[:8]}"


def dbt_results_of_run(settings: Settings, instance: dg.DagsterInstance, run_id: str):
    """The results of the dbt build of a run (None when the run had no dbt build); the nodes a
    build started from an audited build did not select carry that build's verdicts (gate.baseline)."""
    folder = target_dir_for(run_id)
    if not (folder / "run_results.json").exists():
        return None
    return carry_over(settings, build_id(instance, run_id), read_invocation(folder))


def other_checks_of_run(
    instance: dg.DagsterInstance, run_id: str, dbt_asset_keys: frozenset | set = frozenset()
) -> list[CheckOutcome]:
    """Asset checks of the run that are neither dbt tests nor GX checks (the ingestion checks on
    rejected files and quarantined rows): they count in the audit at their own severity."""
    out = []
    records = instance.get_records_for_run(
        run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION
    ).records
    for record in records:
        evaluation = record.event_log_entry.dagster_event.event_specific_data
        if evaluation.asset_key in dbt_asset_keys:
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


def build_publication_assets(dbt_asset_keys: set[dg.AssetKey]) -> list[dg.AssetsDefinition]:
    @dg.asset(
        key=AUDIT_KEY,
        group_name="publication",
        deps=sorted(dbt_asset_keys, key=lambda k: k.to_user_string()),
        description="Audit the candidate warehouse this run built: every dbt test of this run's dbt build "
        "and every Great Expectations check (run once, here; error and warning level), bound to the "
        "candidate's SHA-256. Writes warehouse/audit/<build>/audit.json and the failing rows of each failed "
        "check. Its check «passed» fails when an error-level check failed, and then nothing is promoted.",
        kinds={"python", "duckdb"},
        check_specs=[
            dg.AssetCheckSpec(
                AUDIT_CHECK,
                asset=AUDIT_KEY,
                description="No error-level check failed: the candidate may be promoted.",
            )
        ],
    )
    def candidate_audit(
        context: dg.AssetExecutionContext, eduq: EduqResource
    ) -> dg.MaterializeResult:
        settings = eduq.settings()
        progress.stage("audit: dbt tests and Great Expectations suites")
        run_id = context.run.run_id
        build = build_id(context.instance, run_id)
        dbt_results = dbt_results_of_run(settings, context.instance, run_id)
        if dbt_results is None:
            context.log.error("no dbt build in this run: the audit cannot vouch for the dbt tests")
        record = run_audit(
            settings,
            build,
            dbt_results,
            run_id=run_id,
            extra=other_checks_of_run(context.instance, run_id, dbt_asset_keys),
            prepare_promotion=True,  # the serving export is written while the checks run
        )
        folder = audit_dir(settings, build)
        for warning in record.warnings:
            context.log.warning(
                f"warning-level check failed: {warning.key} [{warning.asset}]: {warning.message}"
            )
        if not record.passed:
            context.log.error(
                f"audit of build {build} failed: {len(record.errors)} error-level check(s); nothing will "
                f"be promoted.\n{record.describe_failures(folder)}"
            )
        counts = record.counts()
        return dg.MaterializeResult(
            metadata={
                "build_id": build,
                "passed": record.passed,
                "candidate_sha256": record.candidate_sha256,
                "audit_dir": str(folder),
                **counts,
                "failed_checks": dg.MetadataValue.md(record.describe_failures(folder) or "none"),
            },
            check_results=[
                dg.AssetCheckResult(
                    check_name=AUDIT_CHECK,
                    passed=record.passed,
                    metadata={"errors": len(record.errors), "warnings": len(record.warnings)},
                    description=record.describe_failures(folder)[:2000] or "passed",
                )
            ],
        )

    @dg.asset(
        key=["warehouse", "serving"],
        group_name="publication",
        deps=[candidate_audit],
        description="Copy the audited candidate warehouse over the serving warehouse in one atomic rename, "
        "with its audit record embedded (schema audit). Refuses a candidate whose exact content has no "
        "passed audit. Analysts and BI tools read only the serving file.",
        kinds={"duckdb"},
    )
    def serving_warehouse(
        context: dg.AssetExecutionContext, eduq: EduqResource
    ) -> dg.MaterializeResult:
        settings = eduq.settings()
        progress.stage("promote the audited warehouse to serving")
        promotion = promote(settings)
        with duck.connect(settings.serving_db, settings, read_only=True) as con:
            years = [str(y) for y in computed_list_years(con)]
        new = [
            y
            for y in years
            if not context.instance.has_dynamic_partition(list_year_partitions.name, y)
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

    return [candidate_audit, serving_warehouse]


@dg.asset(
    key=["publications", "shnor_list"],
    group_name="publication",
    deps=[dg.AssetKey(["warehouse", "serving"])],
    partitions_def=list_year_partitions,
    description="The ШНОР list of a list year in publications/<list_year>/v<N>/: XLSX for print, CSV (UTF-8 "
    "with BOM), Parquet, manifest.json and, from v2 on, the diff against the previous version. Publishes "
    "only from a serving warehouse with a passed audit and only a list year that may be published; an "
    "unchanged list makes no new version.",
    kinds={"xlsx", "csv", "parquet"},
)
def shnor_list_publication(
    context: dg.AssetExecutionContext, eduq: EduqResource
) -> dg.MaterializeResult:
    settings = eduq.settings()
    list_year = int(context.partition_key)
    progress.stage(f"publish the ШНОР list {list_year}")
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
