"""The Great Expectations suites (``gate/expectations/``) as Dagster asset checks on the tables they
check, beside the dbt tests: the Dagster UI shows each check on its table, with its level (ERROR
blocks, WARN reports) and a sample of the failing rows.

The suites run once per build, in the audit (``warehouse/audit``), which keeps every outcome and
its failing rows in the build's audit record. This step runs after the audit and reports those
outcomes; it evaluates nothing itself.
"""

from collections.abc import Iterator
from functools import cache

import dagster as dg
import pandas as pd

from gate.audit import audit_dir, read_record
from gate.expectations import Check, Level, mart_checks, raw_checks
from orchestration.dbt_project import manifest_json
from orchestration.resources import EduqResource

SAMPLE_ROWS = 10
AUDIT_KEY = dg.AssetKey(["warehouse", "audit"])


def _mart_catalog_from_manifest() -> dict[str, tuple[str, ...]]:
    """``schema.<model>`` -> documented columns of the dbt models (contracts list every column), for
    the checks whose queries depend on what the marts hold."""
    catalog = {}
    for node in manifest_json().get("nodes", {}).values():
        if node.get("resource_type") in ("model", "seed"):
            catalog[f"{node['schema']}.{node['name']}"] = tuple(node.get("columns", {}))
    return catalog


@cache
def gx_checks() -> tuple[Check, ...]:
    """Every GX check the warehouse of this project can have (raw suite and mart suite)."""
    return tuple(raw_checks() + mart_checks(_mart_catalog_from_manifest()))


def gx_check_key(check: Check) -> str:
    """The key of a GX check in audit records (``gx__<schema>__<table>__<name>``)."""
    return f"gx__{check.key}"


def _spec(check: Check) -> dg.AssetCheckSpec:
    return dg.AssetCheckSpec(
        name=check.name,
        asset=dg.AssetKey(list(check.asset)),
        description=f"[{check.level.value}] {check.description}",
        metadata={"level": check.level.value, "suite": check.suite},
    )


SUITES_CHECK = "great_expectations_suites"


def _sample(path) -> dg.MetadataValue | None:
    if path is None or not path.exists():
        return None
    sample = pd.read_parquet(path).head(SAMPLE_ROWS).astype(str)
    header = "| " + " | ".join(sample.columns) + " |\n|" + "---|" * len(sample.columns)
    body = "\n".join("| " + " | ".join(row) + " |" for row in sample.itertuples(index=False))
    return dg.MetadataValue.md(f"{header}\n{body}")


def build_gx_checks() -> dg.AssetChecksDefinition:
    checks = gx_checks()

    @dg.multi_asset_check(
        name="great_expectations",
        specs=[_spec(c) for c in checks]
        + [
            dg.AssetCheckSpec(
                SUITES_CHECK,
                asset=AUDIT_KEY,
                description="The Great Expectations suites ran on this build's candidate warehouse and no "
                "error-level check failed (the outcomes of each check are on its table).",
            )
        ],
        description="Great Expectations suites of the raw inputs and the marts (gate/expectations/), "
        "as evaluated once by the audit of this run.",
        can_subset=True,
    )
    def great_expectations(
        context: dg.AssetCheckExecutionContext, eduq: EduqResource
    ) -> Iterator[dg.AssetCheckResult]:
        from orchestration.assets.publication import build_id

        settings = eduq.settings()
        build = build_id(context.instance, context.run.run_id)
        record = read_record(settings, build)
        folder = audit_dir(settings, build)
        outcomes = {c.key: c for c in record.checks} if record is not None else {}
        selected = set(context.selected_asset_check_keys)
        errors = 0
        for check in checks:
            key = dg.AssetCheckKey(dg.AssetKey(list(check.asset)), check.name)
            if key not in selected:
                continue
            outcome = outcomes.get(gx_check_key(check))
            if outcome is None:
                continue  # not applicable to this warehouse (its table is not there)
            passed = outcome.status in ("passed", "skipped")
            errors += not passed and check.level is Level.ERROR
            metadata: dict[str, object] = {
                "status": outcome.status,
                "message": outcome.message,
                "failing_rows": outcome.failing_rows,
            }
            if outcome.failing_rows_file:
                sample = _sample(folder / outcome.failing_rows_file)
                metadata["failing_rows_file"] = dg.MetadataValue.path(
                    str(folder / outcome.failing_rows_file)
                )
                if sample is not None:
                    metadata["failing_rows_sample"] = sample
            yield dg.AssetCheckResult(
                asset_key=key.asset_key,
                check_name=check.name,
                passed=passed,
                severity=dg.AssetCheckSeverity.ERROR
                if check.level is Level.ERROR
                else dg.AssetCheckSeverity.WARN,
                metadata=metadata,
                description=check.description,
            )
        if dg.AssetCheckKey(AUDIT_KEY, SUITES_CHECK) in selected:
            yield dg.AssetCheckResult(
                asset_key=AUDIT_KEY,
                check_name=SUITES_CHECK,
                passed=record is not None and errors == 0,
                metadata={"error_level_failures": errors, "audit_dir": str(folder)},
            )

    return great_expectations


def gx_checks_by_spec() -> dict[tuple[tuple[str, ...], str], Check]:
    return {(c.asset, c.name): c for c in gx_checks()}
