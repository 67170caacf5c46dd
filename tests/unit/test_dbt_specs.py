"""The Dagster assets of the dbt project are read from manifest.json without dagster-dbt (whose
import costs ~1 s of every run's start): the keys, dependencies, groups and the model each data
test is a check of must be those dagster-dbt gives the same manifest."""

from __future__ import annotations

import copy
import subprocess
import sys

import dagster as dg

from orchestration.assets import dbt as eduq_dbt
from orchestration.dbt_project import DBT_PROJECT_DIR, manifest_json


def _dagster_dbt_view(manifest: dict) -> tuple[dict, dict]:
    """What dagster-dbt makes of ``manifest`` with the translator eduq used before: spec per key,
    and the asset key of every data test's check."""
    from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, DbtProject
    from dagster_dbt.asset_utils import build_dbt_specs, get_asset_check_key_for_test

    class Translator(DagsterDbtTranslator):
        def get_asset_key(self, props):
            if props["resource_type"] in ("model", "seed", "snapshot"):
                return dg.AssetKey([props["schema"], props["name"]])
            return super().get_asset_key(props)

        def get_group_name(self, props):
            return eduq_dbt.group_name(props)

    translator = Translator(
        settings=DagsterDbtTranslatorSettings(
            enable_asset_checks=False, enable_duplicate_source_asset_keys=True
        )
    )
    project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)
    specs, _ = build_dbt_specs(
        translator=translator,
        manifest=manifest,
        select="fqn:*",
        exclude="",
        selector="",
        io_manager_key=None,
        project=project,
    )
    checks = {}
    for uid, node in manifest["nodes"].items():
        if node["resource_type"] == "test":
            key = get_asset_check_key_for_test(manifest, translator, uid, project)
            checks[uid] = key.asset_key if key is not None else None
    return {s.key: s for s in specs}, checks


def _ours(manifest: dict) -> tuple[dict, dict]:
    specs = {s.key: s for s in eduq_dbt.asset_specs(manifest)}
    checks = {}
    for uid, node in manifest["nodes"].items():
        if node["resource_type"] == "test":
            checks[uid] = eduq_dbt.tested_asset_key(manifest, node)
    return specs, checks


def _assert_same(manifest: dict) -> None:
    theirs, their_checks = _dagster_dbt_view(manifest)
    ours, our_checks = _ours(manifest)
    assert set(ours) == set(theirs)
    for key, spec in ours.items():
        other = theirs[key]
        assert {d.asset_key for d in spec.deps} == {d.asset_key for d in other.deps}, key
        assert spec.group_name == other.group_name, key
        assert spec.code_version == other.code_version, key
        assert spec.skippable == other.skippable, key
        assert spec.kinds == other.kinds, key
        assert spec.metadata["dagster/table_name"] == other.metadata["dagster/table_name"], key
        assert [c.name for c in spec.metadata["dagster/column_schema"].columns] == [
            c.name for c in other.metadata["dagster/column_schema"].columns
        ], key
    assert our_checks == their_checks


def test_the_project_s_assets_and_checks_are_dagster_dbt_s() -> None:
    manifest = manifest_json()
    _assert_same(manifest)
    ours, checks = _ours(manifest)
    assert len(ours) == sum(
        n["resource_type"] in ("model", "seed") for n in manifest["nodes"].values()
    )
    assert all(v is not None for v in checks.values())  # every data test is a check of a model
    # the sources are the ingestion assets
    stg = ours[dg.AssetKey(["staging", "stg_vpr__results"])]
    assert dg.AssetKey(["raw", "vpr_results"]) in {d.asset_key for d in stg.deps}


def test_shapes_the_project_does_not_have_yet_are_read_as_dagster_dbt_reads_them() -> None:
    """An ephemeral model between two models, a singular test on two models with a dagster ref, a
    source without a configured key: the same keys, dependencies and checks."""
    manifest = copy.deepcopy(manifest_json())
    nodes = manifest["nodes"]
    inner = nodes["model.eduq.int_isbsh_scores"]
    inner["config"]["materialized"] = "ephemeral"
    source = next(iter(manifest["sources"].values()))
    for key in ("meta",):
        source[key] = {}
    source["config"] = {**source.get("config", {}), "meta": {}}
    singular = copy.deepcopy(next(n for n in nodes.values() if n["resource_type"] == "test"))
    singular.pop("attached_node", None)
    singular["unique_id"] = "test.eduq.two_models_agree"
    singular["name"] = "two_models_agree"
    singular["depends_on"]["nodes"] = ["model.eduq.fct_isbsh", "model.eduq.dim_school"]
    singular["config"]["meta"] = singular["meta"] = {"dagster": {"ref": {"name": "dim_school"}}}
    nodes[singular["unique_id"]] = singular
    orphan = copy.deepcopy(singular)
    orphan["unique_id"] = "test.eduq.no_single_model"
    orphan["name"] = "no_single_model"
    orphan["config"]["meta"] = orphan["meta"] = {}
    nodes[orphan["unique_id"]] = orphan
    _assert_same(manifest)
    _, checks = _ours(manifest)
    assert checks["test.eduq.two_models_agree"] == dg.AssetKey(["marts", "dim_school"])
    assert checks["test.eduq.no_single_model"] is None


def test_the_definitions_are_built_without_importing_dbt() -> None:
    code = (
        "import sys\n"
        "from orchestration.definitions import get_definitions\n"
        "get_definitions()\n"
        "bad = sorted(m for m in sys.modules if m == 'dbt' or m.startswith(('dbt.', 'dagster_dbt')))\n"
        "print(bad[:5])\n"
        "raise SystemExit(1 if bad else 0)\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", code], check=False, capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stdout + run.stderr


def test_every_model_is_a_table_an_incremental_table_or_a_view() -> None:
    """A build by its plan selects the tests and the tables its files reach, by materialization
    (gate.baseline.REBUILT): a model of another kind would be left out of every night."""
    from gate.baseline import REBUILT

    rebuilt = {k.split(":", 1)[1] for k in REBUILT if k.startswith("config.materialized:")}
    kinds = {
        node["config"]["materialized"]
        for node in manifest_json()["nodes"].values()
        if node["resource_type"] == "model"
    }
    assert kinds <= rebuilt | {"view"}, kinds - rebuilt - {"view"}
    assert "view" not in rebuilt


def test_a_raw_source_is_named_as_its_table() -> None:
    """gate.baseline.reached_models knows a loaded raw table (``raw.<table>``) by the unique id of
    its dbt source (``source.<project>.raw.<table>``): a source whose schema or identifier differed
    from its names would hide from the audit the views that read a table a night loaded."""
    for uid, source in manifest_json()["sources"].items():
        relation = f"{source['schema']}.{source.get('identifier') or source['name']}"
        assert (
            relation == f"{source['source_name']}.{source['name']}" == ".".join(uid.split(".")[2:])
        ), uid
