"""The Dagster code location: the whole graph loads, the schedule and the landing sensor behave."""

from __future__ import annotations

import os
import time
from pathlib import Path

import dagster as dg
import pytest


@pytest.fixture()
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("EDUQ_HOME", str(tmp_path))
    (tmp_path / "landing").mkdir()
    return tmp_path


def test_definitions_hold_the_whole_graph() -> None:
    from orchestration.definitions import get_definitions

    defs = get_definitions()

    graph = defs.resolve_asset_graph()
    keys = {k.to_user_string() for k in graph.get_all_asset_keys()}
    from ingestion.contract import load_contracts

    for source in load_contracts():
        assert f"raw/{source}" in keys
    assert {
        "raw/landing_survey",
        "marts/fct_shnor_list",
        "warehouse/serving",
        "publications/shnor_list",
    } <= keys
    assert len(list(graph.asset_check_keys)) > 50  # dbt tests are asset checks
    assert defs.resolve_job_def("nightly_load") is not None
    assert defs.resolve_job_def("publish_list").partitions_def is not None


def test_nightly_schedule_runs_at_two_moscow_time() -> None:
    from orchestration.definitions import get_definitions

    defs = get_definitions()

    schedule = defs.resolve_schedule_def("nightly_load_schedule")
    assert schedule.cron_schedule == "0 2 * * *"
    assert schedule.execution_timezone == "Europe/Moscow"
    assert schedule.job_name == "nightly_load"


def _settled(path: Path) -> None:
    old = time.time() - 3600
    os.utime(path, (old, old))


def test_landing_sensor_requests_a_run_once_per_new_set_of_settled_files(home: Path) -> None:
    from orchestration.definitions import get_definitions

    defs = get_definitions()

    sensor = defs.resolve_sensor_def("landing_sensor")
    instance = dg.DagsterInstance.ephemeral()
    ctx = dg.build_sensor_context(instance=instance)
    result = sensor.evaluate_tick(ctx)
    assert not result.run_requests and "empty" in (result.skip_message or "")

    first = home / "landing" / "schools_2024.xlsx"
    first.write_bytes(b"x")
    fresh = sensor.evaluate_tick(dg.build_sensor_context(instance=instance))
    assert not fresh.run_requests  # still being copied in: not settled yet

    _settled(first)
    result = sensor.evaluate_tick(dg.build_sensor_context(instance=instance))
    assert len(result.run_requests) == 1
    cursor = result.cursor
    again = sensor.evaluate_tick(dg.build_sensor_context(instance=instance, cursor=cursor))
    assert not again.run_requests and "no new files" in (again.skip_message or "")

    second = home / "landing" / "vpr" / "vpr_results_2024.csv"
    second.parent.mkdir()
    second.write_bytes(b"y")
    _settled(second)
    result = sensor.evaluate_tick(dg.build_sensor_context(instance=instance, cursor=cursor))
    assert len(result.run_requests) == 1
    assert result.run_requests[0].run_key != cursor


def test_landing_sensor_ignores_rejected_files(home: Path) -> None:
    from orchestration.definitions import get_definitions

    defs = get_definitions()

    rejected = home / "landing" / "rejected" / "bad.csv"
    rejected.parent.mkdir()
    rejected.write_bytes(b"z")
    _settled(rejected)
    result = defs.resolve_sensor_def("landing_sensor").evaluate_tick(
        dg.build_sensor_context(instance=dg.DagsterInstance.ephemeral())
    )
    assert not result.run_requests


def test_eduq_run_full_refresh_and_profile_reach_the_dbt_build(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`eduq run --full-refresh --profile P` reaches dbt as `dbt build --full-refresh` with the
    profile's var, through the run's settings (not the environment); a plain run is incremental."""
    import orchestration.runner
    from core.settings import load_settings
    from orchestration.cli import main
    from orchestration.dbt_build import build_args

    monkeypatch.delenv("EDUQ_DBT_FULL_REFRESH", raising=False)
    assert "--full-refresh" not in build_args(load_settings())
    seen: list[list[str]] = []

    def fake_run_pipeline(settings, list_year=None, **kwargs):
        seen.append(build_args(settings))
        raise orchestration.runner.PipelineFailed("stopped by the test")

    monkeypatch.setattr(orchestration.runner, "run_pipeline", fake_run_pipeline)
    assert main(["run", "--full-refresh", "--profile", "fioko_2025_or", "--verbose"]) == 1
    assert seen and seen[0][0] == "build" and seen[0][-1] == "--full-refresh"
    assert '"methodology_profile": "fioko_2025_or"' in " ".join(seen[0])
    assert (
        "EDUQ_DBT_FULL_REFRESH" not in __import__("os").environ
    )  # nothing written to the environment


def test_a_run_started_from_the_dagster_ui_chooses_profile_and_full_refresh() -> None:
    """The launchpad's run config reaches every asset through the eduq resource."""
    from orchestration.resources import EduqResource

    settings = EduqResource(profile="fioko_2025_strict", full_refresh=True).settings()
    assert settings.methodology_profile == "fioko_2025_strict" and settings.full_refresh


def test_list_years_register_in_a_dagster_home_whose_first_run_was_killed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A process killed while it created DAGSTER_HOME's event index (the first run of a home) leaves
    the index without the dynamic partitions' table, which Dagster never adds to an existing file:
    the list years still register (the missing tables are created), and the next run finds them."""
    import sqlite3

    from core.settings import load_settings
    from orchestration.assets.publication import list_year_partitions
    from orchestration.runner import register_list_years

    monkeypatch.setenv("EDUQ_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster"))
    settings = load_settings()
    register_list_years(settings, [2024])
    (index,) = (tmp_path / "dagster").rglob("index.db")
    with sqlite3.connect(index) as con:
        con.execute("drop table dynamic_partitions")
    register_list_years(settings, [2024, 2025])
    with dg.DagsterInstance.get() as home:
        assert home.get_dynamic_partitions(list_year_partitions.name) == ["2024", "2025"]


def test_a_build_folder_gets_the_parsed_manifest_unless_another_parse_replaced_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """dbt does not write its manifest after a build (--no-write-json): the build folder gets a
    copy of the parsed project's manifest.json when that file is the parse of the Manifest the
    build used, else the Manifest written as dbt writes it; run_results.json either way."""
    from orchestration import dbt_build

    parsed = tmp_path / "manifest.json"
    parsed.write_text('{"parsed": true}', encoding="utf-8")
    written: list[str] = []

    class Results:
        def write(self, path: str) -> None:
            Path(path).write_text('{"results": []}', encoding="utf-8")

    class Manifest:
        def write(self, path: str) -> None:
            written.append(path)
            Path(path).write_text('{"parsed": false}', encoding="utf-8")

    monkeypatch.setattr(dbt_build, "MANIFEST", parsed)
    monkeypatch.setattr(dbt_build, "TARGET_DIR", tmp_path)
    monkeypatch.setattr(dbt_build, "manifest_fingerprint", lambda manifest: "f1")
    for parse, expected in (("f1", '{"parsed": true}'), ("f2", '{"parsed": false}')):
        target = tmp_path / f"build-{parse}"
        target.mkdir()
        monkeypatch.setattr(dbt_build, "parsed_fingerprint", lambda parse=parse: parse)
        dbt_build._write_artifacts(Results(), Manifest(), target)
        assert (target / "manifest.json").read_text(encoding="utf-8") == expected
        assert (target / "run_results.json").exists()
    assert written == [str(tmp_path / "build-f2" / "manifest.json")]


def test_the_dbt_preload_builds_the_schemas_a_build_validates_its_configuration_with(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import dbt_common.dataclass_schema as schemas
    from dbt.adapters.duckdb.credentials import DuckDBCredentials
    from dbt.config.project import read_project_flags
    from dbt.contracts.project import Project

    from orchestration import dbt_build
    from orchestration.dbt_project import DBT_PROJECT_DIR

    schemas.dbtClassMixin.json_schema.__func__.cache_clear()  # as in a new process
    dbt_build._build_dbt_schemas()

    def not_again(cls: type) -> None:
        raise AssertionError(f"the schema of {cls.__name__} is built again")

    monkeypatch.setattr(schemas, "build_json_schema", not_again)
    assert Project.json_schema()["type"] == "object"
    assert DuckDBCredentials.json_schema()["type"] == "object"
    read_project_flags(str(DBT_PROJECT_DIR), str(DBT_PROJECT_DIR))  # validates its flags


def test_the_progress_of_a_build_by_its_plan_counts_its_tests_and_tables_not_its_views() -> None:
    from gate.baseline import BuildPlan
    from orchestration.dbt_build import _downstream_of_sources
    from orchestration.dbt_project import manifest_object

    manifest = manifest_object()
    plan = BuildPlan("B0", "identity", "sha", "now", loaded_sources=("vpr_results",))
    reach = _downstream_of_sources(manifest, [s.split(",")[0] for s in plan.dbt_select()])
    counted = _downstream_of_sources(manifest, plan.dbt_select())
    assert reach is not None and counted is not None
    views = {u for u in reach if getattr(manifest.nodes[u].config, "materialized", "") == "view"}
    assert "model.eduq.stg_vpr__results" in views and "model.eduq.fct_procedure_results" in counted
    assert counted == reach - views  # every test and table it reaches, no view
    assert _downstream_of_sources(manifest, ["source:raw.vpr_results+,tag:x"]) is None
    assert _downstream_of_sources(manifest, ["fct_shnor_list"]) is None


def test_the_dbt_step_starts_the_audits_work_only_when_the_audit_follows_in_its_process() -> None:
    """The dbt step starts the audit's hash and export (gate.audit.start_alongside) only when the
    run audits after it in the same process: the job nightly_load; not a selection without the
    audit, nor an executor that runs each step in a process of its own."""
    from types import SimpleNamespace

    import dagster as dg

    from orchestration.assets.dbt import _audit_follows
    from orchestration.definitions import get_definitions

    job = get_definitions().resolve_job_def("nightly_load")
    assert _audit_follows(SimpleNamespace(job_def=job))
    marts = sorted(k for k in job.asset_layer.selected_asset_keys if k.path[0] == "marts")[:2]
    assert marts
    assert not _audit_follows(SimpleNamespace(job_def=job.get_subset(asset_selection=set(marts))))
    elsewhere = SimpleNamespace(executor_def=dg.multiprocess_executor, asset_layer=job.asset_layer)
    assert not _audit_follows(SimpleNamespace(job_def=elsewhere))
    # `eduq run` runs the job by execute_in_process, which runs it by an executor of its own
    from dagster._core.definitions.executor_definition import execute_in_process_executor

    here = SimpleNamespace(executor_def=execute_in_process_executor, asset_layer=job.asset_layer)
    assert _audit_follows(SimpleNamespace(job_def=here))


def test_a_rebuild_with_an_empty_archive_changes_nothing(tmp_path, monkeypatch) -> None:
    from core.settings import load_settings
    from orchestration.rebuild import RebuildFailed, rebuild

    monkeypatch.setenv("EDUQ_HOME", str(tmp_path / "home"))
    settings = load_settings()
    settings.ensure_dirs()
    settings.candidate_db.write_bytes(b"a damaged warehouse")
    with pytest.raises(RebuildFailed, match="holds no delivered file.*nothing was changed"):
        rebuild(settings)
    assert settings.candidate_db.read_bytes() == b"a damaged warehouse"


def test_only_a_load_that_could_not_open_the_candidate_is_a_night_to_try_again() -> None:
    """Exit 75 («try again later») only when the load step alone failed on WarehouseHeld (its error
    or the error's cause): nothing was loaded. Not an error raised while handling one, not a file
    held later (the files were loaded), not beside another failure."""
    from types import SimpleNamespace as NS

    from orchestration.runner import _held

    def error(cls, cause=None, context=None):
        return NS(cls_name=cls, cause=cause, context=context)

    def night(*failures):
        events = [NS(event_type_value="STEP_SUCCESS", step_key="x")]
        events += [
            NS(event_type_value="STEP_FAILURE", step_key=step, step_failure_data=NS(error=e))
            for step, e in failures
        ]
        return NS(all_events=events)

    held = error("WarehouseHeld")
    assert _held(night(("ingestion", held)))
    assert _held(night(("ingestion", error("DagsterExecutionStepExecutionError", cause=held))))
    assert not _held(night(("ingestion", error("OSError", context=held))))
    assert not _held(night(("eduq_dbt_models", held)))
    assert not _held(night(("ingestion", held), ("warehouse__audit", error("ValueError"))))
    assert not _held(night(("ingestion", error("ValueError"))))


_SIGTERM_AFTER_A_JOB = """
import signal
signal.signal(signal.SIGINT, signal.SIG_IGN)  # as a background job of a script starts
import dagster as dg
from orchestration.runner import execute_job

@dg.op
def step():
    return 1

@dg.job
def job():
    step()

assert job.execute_in_process().success
print("dagster", int(signal.getsignal(signal.SIGTERM)))
signal.signal(signal.SIGTERM, signal.SIG_DFL)
assert execute_job(job).success
print("runner", int(signal.getsignal(signal.SIGTERM)))
"""


def test_sigterm_still_stops_a_run_started_with_sigint_ignored() -> None:
    """Dagster's execution leaves SIGTERM with SIGINT's handler: ignored in a process started with
    SIGINT ignored. The runner's jobs leave it as it was (here the default: terminate)."""
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-c", _SIGTERM_AFTER_A_JOB],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    # SIG_IGN (1) after Dagster's own execution, what the runner guards against; SIG_DFL (0) after
    # the runner's
    assert done.stdout.split() == ["dagster", "1", "runner", "0"]
