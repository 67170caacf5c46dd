"""The Great Expectations suites (``gate/expectations/``) as Dagster asset checks on the raw and mart
assets, next to the dbt tests: the Dagster UI shows each check on its table, with its level
(ERROR blocks, WARN reports) and a sample of the failing rows.

These checks report; they do not gate. The gate is the ``warehouse/audit`` asset, which
evaluates the same suites (and the dbt tests of the run) for the exact candidate it promotes.
"""

import json
from collections.abc import Iterator

import dagster as dg
import duckdb

from core.settings import load_settings
from gate.audit import audit_dir, save_failing_rows
from gate.expectations import Check, Level, mart_checks, raw_checks
from gate.expectations.check import CheckResult
from orchestration.dbt_project import ensure_manifest

SAMPLE_ROWS = 10


def _mart_catalog_from_manifest() -> dict[str, tuple[str, ...]]:
    """``marts.<model>`` -> documented columns, from the dbt manifest (contracts list every column)."""
    manifest = json.loads(ensure_manifest().read_text(encoding="utf-8"))
    catalog = {}
    for node in manifest.get("nodes", {}).values():
        if node.get("resource_type") == "model" and node.get("schema") == "marts":
            catalog[f"marts.{node['name']}"] = tuple(node.get("columns", {}))
    return catalog


def _spec(check: Check) -> dg.AssetCheckSpec:
    return dg.AssetCheckSpec(
        name=check.name,
        asset=dg.AssetKey(list(check.asset)),
        description=f"[{check.level.value}] {check.description}",
        metadata={"level": check.level.value, "suite": check.suite},
    )


def gx_check_key(check: Check) -> str:
    """The key of a GX check in audit records (``gx__<schema>__<table>__<name>``)."""
    return f"gx__{check.key}"


def _results(
    context: dg.AssetCheckExecutionContext, checks: list[Check]
) -> Iterator[dg.AssetCheckResult]:
    from gate.expectations.gx_runner import run_checks
    from orchestration.assets.publication import build_id

    settings = load_settings()
    with duckdb.connect(str(settings.candidate_db), read_only=True) as con:
        results = run_checks(con, checks)
    folder = audit_dir(settings, build_id(context.instance, context.run.run_id))
    for result in results:
        saved = None
        if not result.passed:
            log = context.log.error if result.check.level is Level.ERROR else context.log.warning
            log(f"{result.check.key}: {result.message}")
            saved = save_failing_rows(folder, gx_check_key(result.check), result.failing_rows)
        yield _check_result(result, folder / saved if saved else None)


def _check_result(result: CheckResult, failing_rows_path: object = None) -> dg.AssetCheckResult:
    check = result.check
    metadata: dict[str, object] = {
        "level": check.level.value,
        "status": result.status,
        "message": result.message,
        "rows_checked": result.rows_checked,
        "failing_rows": result.failing_row_count,
    }
    if failing_rows_path is not None:
        metadata["failing_rows_file"] = dg.MetadataValue.path(str(failing_rows_path))
    if result.failing_rows is not None and len(result.failing_rows):
        sample = result.failing_rows.head(SAMPLE_ROWS).astype(str)
        header = "| " + " | ".join(sample.columns) + " |\n|" + "---|" * len(sample.columns)
        body = "\n".join("| " + " | ".join(row) + " |" for row in sample.itertuples(index=False))
        metadata["failing_rows_sample"] = dg.MetadataValue.md(f"{header}\n{body}")
    return dg.AssetCheckResult(
        asset_key=dg.AssetKey(list(check.asset)),
        check_name=check.name,
        passed=result.passed,
        severity=dg.AssetCheckSeverity.ERROR
        if check.level is Level.ERROR
        else dg.AssetCheckSeverity.WARN,
        metadata=metadata,
        description=check.description,
    )


RAW_CHECKS = raw_checks()
MART_CHECKS = mart_checks(_mart_catalog_from_manifest())
GX_CHECKS_BY_SPEC = {(c.asset, c.name): c for c in RAW_CHECKS + MART_CHECKS}


@dg.multi_asset_check(
    name="raw_expectations",
    specs=[_spec(c) for c in RAW_CHECKS],
    description="Great Expectations suite of the raw inputs (gate/expectations/raw.py).",
)
def raw_expectations(context: dg.AssetCheckExecutionContext) -> Iterator[dg.AssetCheckResult]:
    yield from _results(context, RAW_CHECKS)


@dg.multi_asset_check(
    name="mart_expectations",
    specs=[_spec(c) for c in MART_CHECKS],
    description="Great Expectations suite of the marts (gate/expectations/marts.py).",
)
def mart_expectations(context: dg.AssetCheckExecutionContext) -> Iterator[dg.AssetCheckResult]:
    yield from _results(context, MART_CHECKS)


expectation_checks = [raw_expectations, mart_expectations]
