"""The dbt tests of one ``dbt build``, read from the files dbt writes (run_results.json and the
manifest.json of the same target folder), so that the audit can judge them without Dagster.

dagster-dbt runs every invocation in its own target folder, ``dbt_project/target/<op>-<run id
prefix>-<uuid>/``; :func:`find_invocation_dir` finds the one of a Dagster run.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from core.dbt_manifest import read_manifest

# dbt status -> audit status
_TEST_STATUS = {
    "pass": "passed",
    "fail": "failed",
    "warn": "failed",
    "error": "error",
    "skipped": "not_run",
}
_NODE_STATUS = {"success": "passed", "error": "error", "skipped": "not_run"}


@dataclass(frozen=True)
class DbtNodeResult:
    unique_id: str
    resource_type: str  # test | unit_test | model | seed | snapshot
    name: str
    asset: str  # "schema/table" of the model the test is attached to ("" if unknown)
    level: str  # error | warning (the test's configured severity)
    status: str  # passed | failed | error | not_run | skipped
    failures: int
    message: str
    compiled_code: str | None
    description: str = ""
    reported: bool = True  # in the build's run_results (False: the build did not select it)
    carried_from: str = ""  # the verdict is the one of this earlier build (gate.baseline)
    failing_rows_file: str | None = None  # of a carried verdict, in this build's audit folder
    # a model built year by year (macros/year_local.sql: its meta ``eduq_year_local``): the column
    year_local: str = ""
    # what it reads: the unique ids of the models, seeds and sources it depends on
    parents: tuple[str, ...] = ()

    @property
    def is_check(self) -> bool:
        return self.resource_type in ("test", "unit_test")


def find_invocation_dir(target_dir: Path, run_id: str) -> Path | None:
    """The newest dbt target folder written for the Dagster run ``run_id`` (None if there is none)."""
    candidates = [p.parent for p in target_dir.glob(f"*-{run_id[:7]}-*/run_results.json")]
    if not candidates:
        return None
    return max(candidates, key=lambda p: (p / "run_results.json").stat().st_mtime)


def read_invocation(invocation_dir: Path) -> list[DbtNodeResult]:
    """Every test, unit test and model of the invocation's manifest, with its result (``not_run`` if
    dbt did not report it: a test that should have run and did not is not a pass)."""
    run_results = json.loads((invocation_dir / "run_results.json").read_text(encoding="utf-8"))
    manifest = read_manifest(invocation_dir / "manifest.json")  # dbt may be rewriting it
    nodes = {**manifest.get("nodes", {}), **manifest.get("unit_tests", {})}
    by_id = {r["unique_id"]: r for r in run_results["results"]}
    out: list[DbtNodeResult] = []
    for unique_id, node in sorted(nodes.items()):
        resource_type = node.get("resource_type", unique_id.split(".", 1)[0])
        if resource_type not in ("test", "unit_test", "model", "seed", "snapshot"):
            continue
        result = by_id.get(unique_id)
        is_test = resource_type in ("test", "unit_test")
        if result is None and resource_type == "unit_test":
            # a unit test checks SQL logic on fixed inputs, not this build's data: when a build leaves
            # unit tests out (they run in CI), that is not a failed check; a failed one still blocks
            status, failures, message, code = (
                "skipped",
                0,
                "unit test not run by this dbt build",
                None,
            )
        elif result is None:
            status, failures, message, code = "not_run", 0, "not run by this dbt build", None
        else:
            table = _TEST_STATUS if is_test else _NODE_STATUS
            status = table.get(result["status"], "error")
            failures = int(result.get("failures") or 0)
            message = result.get("message") or ""
            code = result.get("compiled_code")
        severity = str((node.get("config") or {}).get("severity", "error")).lower()
        out.append(
            DbtNodeResult(
                unique_id=unique_id,
                resource_type=resource_type,
                name=node.get("name", unique_id),
                asset=_asset_of(node, nodes),
                level="warning" if severity == "warn" else "error",
                status=status,
                failures=failures,
                message=message,
                compiled_code=code if resource_type == "test" else None,
                description=node.get("description") or "",
                reported=result is not None,
                year_local=str(
                    ((node.get("config") or {}).get("meta") or {}).get("eduq_year_local") or ""
                ),
                parents=tuple((node.get("depends_on") or {}).get("nodes") or ()),
            )
        )
    return out


def _asset_of(node: dict, nodes: dict) -> str:
    target = node
    if node.get("resource_type") == "test":
        # a singular test: the first model or seed it reads (not a source: nodes holds none)
        attached = node.get("attached_node") or next(
            (n for n in (node.get("depends_on") or {}).get("nodes", []) if n in nodes), None
        )
        target = nodes.get(attached, {}) if attached else {}
    elif node.get("resource_type") == "unit_test":
        model = node.get("model")
        target = next(
            (
                n
                for n in nodes.values()
                if n.get("resource_type") == "model" and n.get("name") == model
            ),
            {},
        )
    if not target:
        return ""
    return f"{target.get('schema')}/{target.get('alias') or target.get('name')}"
