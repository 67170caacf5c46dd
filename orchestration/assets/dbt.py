"""Every dbt model and seed is a Dagster asset; the dbt data tests of each model are one asset check
on it (``dbt_tests``: which tests ran, which failed, how many rows), so that a build's events stay few.

dbt runs in this process (orchestration/dbt_build.py): the project is parsed once and the build
reuses it. When an error-level test or a model fails, the step yields what it built and then fails;
the failure hook records the build with every failing check (dbt tests with their rows, and the
Great Expectations suites on what dbt rebuilt), and nothing is promoted.
"""

import hashlib
from collections import defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from graphlib import TopologicalSorter
from typing import Any

import dagster as dg

from orchestration.dbt_project import manifest_json
from orchestration.resources import EduqResource

LAYER_GROUPS = {"staging": "staging", "intermediate": "intermediate", "marts": "marts"}
BUILT = {"success"}
TEST_FAILED = {"fail", "error"}
TESTS_CHECK = "dbt_tests"
ASSET_TYPES = ("model", "seed", "snapshot")


class DbtBuildFailed(RuntimeError):
    """An error-level dbt test or a model failed: the build is recorded as failed, nothing promoted."""


# The Dagster side of the dbt project is read from manifest.json alone: importing dagster-dbt
# imports dbt (~1 s of every run's start, before anything is loaded), which the build itself needs
# only later and imports meanwhile (orchestration.dbt_build.preload). The asset keys, their
# dependencies and the model each data test is on are those dagster-dbt gives the same manifest
# (tests/unit/test_dbt_specs.py compares them).


def asset_key(node: Mapping[str, Any]) -> dg.AssetKey:
    """A model, seed or snapshot is ``schema/name`` (the warehouse's own name for it); a source is
    the key its ``meta.dagster.asset_key`` names (the ingestion asset that loads it), else
    ``source_name/name``."""
    if node["resource_type"] in ASSET_TYPES:
        return dg.AssetKey([node["schema"], node["name"]])
    meta = (node.get("config") or {}).get("meta") or node.get("meta") or {}
    configured = (meta.get("dagster") or {}).get("asset_key")
    if configured:
        return dg.AssetKey(list(configured))
    if node["resource_type"] == "source":
        return dg.AssetKey([node["source_name"], node["name"]])
    return dg.AssetKey([node["name"]])


def group_name(node: Mapping[str, Any]) -> str:
    if node["resource_type"] == "seed":
        return "reference"
    for part in node.get("fqn", [])[1:2]:
        if part in LAYER_GROUPS:
            return LAYER_GROUPS[part]
    return "warehouse"


def _node(manifest: Mapping[str, Any], unique_id: str) -> Mapping[str, Any] | None:
    return manifest["nodes"].get(unique_id) or manifest["sources"].get(unique_id)


def _is_ephemeral(node: Mapping[str, Any]) -> bool:
    return (node.get("config") or {}).get("materialized") == "ephemeral"


def is_asset(node: Mapping[str, Any]) -> bool:
    """A model (not ephemeral: it has no table of its own), seed or snapshot."""
    return node["resource_type"] in ASSET_TYPES and not _is_ephemeral(node)


def upstream_ids(manifest: Mapping[str, Any], node: Mapping[str, Any]) -> set[str]:
    """The models, seeds, snapshots and sources ``node`` reads, through any ephemeral model."""
    found: set[str] = set()
    seen: set[str] = set()
    queue = list((node.get("depends_on") or {}).get("nodes", []))
    while queue:
        uid = queue.pop()
        if uid in seen:
            continue
        seen.add(uid)
        parent = _node(manifest, uid)
        if parent is None:
            continue
        if parent["resource_type"] == "model" and _is_ephemeral(parent):
            queue.extend((parent.get("depends_on") or {}).get("nodes", []))
        elif parent["resource_type"] in (*ASSET_TYPES, "source"):
            found.add(uid)
    return found


def tested_node(manifest: Mapping[str, Any], test: Mapping[str, Any]) -> str | None:
    """The node a data test is a check of: the one its generic test is attached to, the only node
    a singular test reads, or the one its ``meta.dagster.ref`` names (else none)."""
    parents = set((test.get("depends_on") or {}).get("nodes", []))
    attached = test.get("attached_node")
    if len(parents) == 1:
        [attached] = parents
    meta = (test.get("config") or {}).get("meta") or test.get("meta") or {}
    ref = (meta.get("dagster") or {}).get("ref") or {}
    if ref:
        package = ref.get("package") or manifest.get("metadata", {}).get("project_name")
        wanted = (ref["name"], package, ref.get("version"))
        attached = next(
            (
                uid
                for uid, n in manifest["nodes"].items()
                if (n["name"], n["package_name"], n.get("version")) == wanted
            ),
            None,
        )
    return attached or None


def tested_asset_key(manifest: Mapping[str, Any], test: Mapping[str, Any]) -> dg.AssetKey | None:
    """The asset whose ``dbt_tests`` check a data test belongs to (none: the test is on no node)."""
    on = tested_node(manifest, test)
    target = _node(manifest, on) if on else None
    return asset_key(target) if target is not None else None


def _column_schema(node: Mapping[str, Any]) -> dg.TableSchema:
    return dg.TableSchema(
        columns=[
            dg.TableColumn(
                name=name,
                type=column.get("data_type") or "?",
                description=column.get("description") or None,
            )
            for name, column in (node.get("columns") or {}).items()
        ]
    )


def _description(node: Mapping[str, Any]) -> str:
    text = node.get("description") or f"dbt {node['resource_type']} {node['name']}"
    code = node.get("raw_code") or ""
    return f"{text}\n\n#### SQL\n```sql\n{code.strip()}\n```" if code.strip() else text


def _code_version(node: Mapping[str, Any]) -> str | None:
    code = node.get("raw_code")
    if code:
        return hashlib.sha1(code.encode("utf-8")).hexdigest()
    return (node.get("checksum") or {}).get("checksum")


def asset_specs(manifest: Mapping[str, Any]) -> list[dg.AssetSpec]:
    """One spec per enabled model, seed and snapshot of the project."""
    specs = []
    for uid, node in sorted(manifest["nodes"].items()):
        if not is_asset(node):
            continue
        deps = [asset_key(_node(manifest, p)) for p in sorted(upstream_ids(manifest, node))]
        relation = (node.get("relation_name") or "").replace('"', "")
        specs.append(
            dg.AssetSpec(
                key=asset_key(node),
                deps=deps,
                description=_description(node),
                group_name=group_name(node),
                code_version=_code_version(node),
                skippable=True,
                kinds={"dbt", "duckdb"},
                metadata={
                    "dbt/unique_id": uid,
                    "dbt/materialized": (node.get("config") or {}).get("materialized", ""),
                    **({"dagster/table_name": relation} if relation else {}),
                    "dagster/column_schema": _column_schema(node),
                },
            )
        )
    return specs


@dataclass(frozen=True)
class DbtTest:
    unique_id: str
    name: str
    severity: str  # error | warn


@dataclass(frozen=True)
class DbtKeys:
    """dbt node -> Dagster asset key; asset key -> the dbt data tests on it."""

    assets: dict[str, dg.AssetKey]
    tests: dict[dg.AssetKey, tuple[DbtTest, ...]]


@cache
def dbt_keys() -> DbtKeys:
    manifest = manifest_json()
    assets: dict[str, dg.AssetKey] = {}
    tests: dict[dg.AssetKey, list[DbtTest]] = defaultdict(list)
    for unique_id, node in manifest["nodes"].items():
        kind = node["resource_type"]
        if is_asset(node):
            assets[unique_id] = asset_key(node)
        elif kind == "test":
            key = tested_asset_key(manifest, node)
            if key is not None:
                severity = str((node.get("config") or {}).get("severity", "error")).lower()
                tests[key].append(DbtTest(unique_id, node["name"], severity))
    return DbtKeys(assets, {k: tuple(v) for k, v in tests.items()})


def _check_spec(key: dg.AssetKey, tests: tuple[DbtTest, ...]) -> dg.AssetCheckSpec:
    names = "; ".join(t.name for t in tests[:20]) + (" …" if len(tests) > 20 else "")
    return dg.AssetCheckSpec(
        TESTS_CHECK,
        asset=key,
        description=f"The dbt data tests of this model pass ({len(tests)}: {names}). An error-level "
        "failure stops the build before its audit; the failing rows are saved in the build's audit folder.",
    )


def dagster_events(
    context: dg.AssetExecutionContext,
    nodes: list[Any],
    notes: Mapping[str, list[str]] | None = None,
) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
    """The Dagster events of a dbt build: a materialization per model or seed built (with what the
    model said while it was built, e.g. the years it computed), and per model one check result for
    its data tests (only for what this run selected)."""
    notes = notes or {}
    keys = dbt_keys()
    selected_assets = set(context.selected_asset_keys)
    selected_checks = set(context.selected_asset_check_keys)
    by_id = {n.unique_id: n for n in nodes}
    for node in nodes:
        key = keys.assets.get(node.unique_id)
        if key is not None and key in selected_assets and node.status in BUILT:
            metadata: dict[str, Any] = {"seconds": round(node.seconds, 3)}
            if notes.get(node.unique_id):
                metadata["dbt_log"] = "\n".join(notes[node.unique_id])
            yield dg.MaterializeResult(asset_key=key, metadata=metadata)
    for key, tests in keys.tests.items():
        if dg.AssetCheckKey(key, TESTS_CHECK) not in selected_checks:
            continue
        ran = [(t, by_id[t.unique_id]) for t in tests if t.unique_id in by_id]
        ran = [(t, n) for t, n in ran if n.status != "skipped"]
        if not ran:
            continue
        failed = [(t, n) for t, n in ran if n.status in TEST_FAILED or n.status == "warn"]
        errors = [t for t, n in failed if t.severity != "warn"]
        yield dg.AssetCheckResult(
            asset_key=key,
            check_name=TESTS_CHECK,
            passed=not failed,
            severity=dg.AssetCheckSeverity.ERROR if errors else dg.AssetCheckSeverity.WARN,
            metadata={
                "tests_run": len(ran),
                "tests_failed": len(failed),
                "failed": dg.MetadataValue.md(
                    "\n".join(
                        f"- {t.name}: {n.failures} failing row(s) {n.message}" for t, n in failed
                    )
                    or "none"
                ),
            },
        )


def carried_check_events(
    context: dg.AssetExecutionContext, settings: Any, build: str, nodes: list[Any]
) -> Iterator[dg.AssetCheckResult]:
    """The ``dbt_tests`` check of each model none of whose tests build ``build`` ran (none of their
    inputs changed, gate/baseline.py): the verdicts the baseline build's audit holds, as the audit
    of this build carries them (a model with a test the record does not hold gets no result)."""
    from gate.baseline import applied_baseline

    applied = applied_baseline(settings, build)
    if applied is None:
        return
    baseline_build, record = applied[0].baseline_build, applied[1]
    verdicts = {c.key: c for c in record.checks if c.source == "dbt"}
    ran = {n.unique_id for n in nodes}
    selected_checks = set(context.selected_asset_check_keys)
    for key, tests in dbt_keys().tests.items():
        if dg.AssetCheckKey(key, TESTS_CHECK) not in selected_checks:
            continue
        if any(t.unique_id in ran for t in tests):
            continue
        found = [verdicts.get(f"dbt__{t.name}") for t in tests]
        if not found or any(v is None for v in found):
            continue
        failed = [v for v in found if v.status != "passed"]
        yield dg.AssetCheckResult(
            asset_key=key,
            check_name=TESTS_CHECK,
            passed=not failed,
            severity=dg.AssetCheckSeverity.ERROR
            if any(v.level == "error" for v in failed)
            else dg.AssetCheckSeverity.WARN,
            metadata={
                "tests_run": 0,
                "tests_carried_over": len(found),
                "tests_failed": len(failed),
                "evaluated_in_build": ", ".join(
                    sorted({v.carried_from or baseline_build for v in found})
                ),
                "failed": dg.MetadataValue.md(
                    "\n".join(f"- {v.key}: {v.message}" for v in failed) or "none"
                ),
            },
        )


def _in_graph_order(unique_ids: set[str], nodes: Mapping[str, Any]) -> list[str]:
    """``unique_ids`` with every node after the nodes it depends on (``nodes``: the manifest's)."""
    graph = {
        uid: [p for p in (nodes[uid].get("depends_on") or {}).get("nodes", []) if p in unique_ids]
        for uid in sorted(unique_ids)
    }
    return list(TopologicalSorter(graph).static_order())


def build_dbt_assets() -> dg.AssetsDefinition:
    """The dbt asset of the project as it is now (the manifest is prepared when this is called)."""
    specs = asset_specs(manifest_json())
    check_specs = [_check_spec(key, tests) for key, tests in sorted(dbt_keys().tests.items())]

    @dg.multi_asset(
        name="eduq_dbt_models",
        specs=specs,
        check_specs=check_specs,
        can_subset=True,
        description="dbt build (models, seeds, data tests) in this process; the audit judges the results.",
    )
    def eduq_dbt_models(context: dg.AssetExecutionContext, eduq: EduqResource):
        from gate.baseline import note_applied, read_plan
        from orchestration.assets.publication import build_id
        from orchestration.dbt_build import run_build

        settings = eduq.settings()
        keys = dbt_keys()
        selected = set(context.selected_asset_keys)
        plan = None
        if selected >= set(keys.assets.values()):
            # the whole project: only what this run's load reaches, when the run started from an
            # audited build (gate.baseline); else everything
            this_build = build_id(context.instance, context.run.run_id)
            plan = read_plan(settings, this_build)
            select = plan.dbt_select() if plan is not None else []
            if plan is not None:
                note_applied(settings, this_build, select)
        else:
            select = sorted(
                uid.split(".")[-1] for uid, key in keys.assets.items() if key in selected
            )
        if plan is not None:
            context.log.info(f"dbt build {plan.describe()}")
        build = run_build(
            settings,
            context.run.run_id,
            select=select,
            judged_up_to_file=plan.last_file_id if plan is not None else None,
        )
        failed = [n for n in build.nodes if n.status in TEST_FAILED]
        if not failed and _audit_follows(context):
            import duckdb

            from gate.audit import start_alongside

            # the audit's SHA-256 and serving export of the candidate start now, while Dagster
            # records what follows (the audit starts its own if these could not)
            try:
                start_alongside(settings, build_id(context.instance, context.run.run_id))
            except (duckdb.Error, OSError) as exc:
                context.log.warning(f"the audit's hash and export start with the audit: {exc}")
        context.log.info(
            f"dbt build: {len(build.nodes)} nodes in {build.seconds:.1f} s, {len(failed)} failed"
            + (": " + ", ".join(n.name for n in failed[:10]) if failed else "")
        )
        events = list(dagster_events(context, build.nodes, build.notes))
        built = {e.asset_key: e for e in events if isinstance(e, dg.MaterializeResult)}
        nodes = manifest_json()["nodes"]
        if plan is not None:
            # the models and seeds the build did not select are this run's state too (the audit
            # after them runs): the audited build's tables, unchanged, and its views (a view is
            # not created again, gate.baseline.REBUILT: the baseline's query over the rows as
            # they are now)
            ran = {n.unique_id for n in build.nodes}
            for uid in set(keys.assets) - ran:
                view = (nodes[uid].get("config") or {}).get("materialized") == "view"
                built[keys.assets[uid]] = dg.MaterializeResult(
                    asset_key=keys.assets[uid],
                    metadata={
                        "rebuilt": False,
                        # a view: the query of that build (the same code), over the rows of now
                        ("view_query_as_in_build" if view else "unchanged_since_build"): (
                            plan.baseline_build
                        ),
                    },
                )
        # every asset after the ones it depends on (Dagster requires it of a multi-asset): a rebuilt
        # table may read a view left as it was, a view a rebuilt table
        uid_of = {key: uid for uid, key in keys.assets.items()}
        for uid in _in_graph_order({uid_of[key] for key in built}, nodes):
            yield built[keys.assets[uid]]
        yield from (e for e in events if not isinstance(e, dg.MaterializeResult))
        if plan is not None:
            yield from carried_check_events(context, settings, this_build, build.nodes)
        if failed:
            raise DbtBuildFailed(
                f"dbt build: {len(failed)} error-level test(s) or model(s) failed ("
                + ", ".join(n.name for n in failed[:10])
                + "); what depends on them was not rebuilt. The build is recorded as failed with "
                "every failing check; nothing is promoted."
            )

    return eduq_dbt_models


IN_PROCESS_EXECUTORS = {dg.in_process_executor.name, "execute_in_process_executor"}


def _audit_follows(context: dg.AssetExecutionContext) -> bool:
    """The run audits the candidate after this step, in this process (job nightly_load, or a
    selection with the audit run by the in-process executor: another executor runs each step in a
    process of its own)."""
    from orchestration.assets.publication import AUDIT_KEY

    # (`execute_in_process`, as `eduq run` runs the job, runs it by an executor of that name)
    if context.job_def.executor_def.name not in IN_PROCESS_EXECUTORS:
        return False
    return AUDIT_KEY in context.job_def.asset_layer.selected_asset_keys
