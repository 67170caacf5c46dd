"""The publication gate on every path, on copies of the session's generated region:

- a clean run audits, promotes and publishes v1;
- a delivery that breaks a dbt test and a Great Expectations check (the landing sensor requests the
  run, `eduq run`'s runner runs it): the build says which checks failed and saves the failing rows;
  serving stays byte-identical and nothing is published;
- after that: a promotion-only run, an audit-only run, a manual run of publish_list, `eduq publish`
  and the publish_after_load sensor publish nothing new;
- a serving file copied by hand (no audit record): every publication path refuses.
"""

from __future__ import annotations

import json

import dagster as dg
import duckdb
import pandas as pd
import pytest

from core.files import sha256_file
from gate.audit import read_record, records
from tests.integration.test_gates_support import (
    MALFORMED_CODE,
    copy_home,
    default_profile_version,
    failed_run,
    new_instance,
    serving_build,
    snapshot,
)

pytestmark = pytest.mark.integration

SERVING = dg.AssetKey(["warehouse", "serving"])
AUDIT = dg.AssetKey(["warehouse", "audit"])


def _defs():
    from orchestration.definitions import get_definitions

    defs = get_definitions()

    return defs


def _run_assets(keys: list[dg.AssetKey], instance: dg.DagsterInstance) -> dg.ExecuteInProcessResult:
    job = _defs().resolve_implicit_global_asset_job_def()
    return job.execute_in_process(instance=instance, asset_selection=keys, raise_on_error=False)


def _step_errors(result: dg.ExecuteInProcessResult) -> str:
    """Every step failure of a run, with its message (not only the first line)."""
    lines = []
    for event in result.all_events:
        if event.event_type_value == "STEP_FAILURE":
            error = event.step_failure_data.error
            cause = error.cause if error is not None and error.cause is not None else error
            lines.append(
                f"{event.step_key}: {cause.cls_name if cause else ''} {cause.message if cause else ''}"
            )
    return "\n".join(lines)


# --- the clean run ---------------------------------------------------------------------------------


def test_clean_run_audits_promotes_and_publishes_v1(small_region) -> None:
    settings = small_region.settings
    build = serving_build(settings)
    record = read_record(settings, build)
    assert record is not None and record.passed and record.errors == []
    assert {c.source for c in record.checks} >= {"dbt", "gx"}
    gx = [c for c in record.checks if c.source == "gx"]
    assert {c.level for c in gx} == {"error", "warning"} and all(
        c.status in ("passed", "skipped") for c in gx
    )
    with duckdb.connect(str(settings.serving_db), read_only=True) as con:
        carried = con.execute(
            "select build_id, candidate_sha256, passed from audit.build"
        ).fetchone()
        listed = con.execute(
            "select count(*) from marts.fct_shnor_list where list_year = 2025 and is_shnor"
        ).fetchone()[0]
    assert carried == (build, record.candidate_sha256, True)

    v1 = settings.publications_dir / "2025" / "v1"
    assert sorted(p.name for p in v1.iterdir()) == [
        "manifest.json",
        "shnor_list_2025.csv",
        "shnor_list_2025.parquet",
        "shnor_list_2025.xlsx",
    ]
    manifest = json.loads((v1 / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["rows"]["schools"] == listed > 0
    assert manifest["checks"]["passed"] is True
    assert manifest["methodology"] == {
        "profile": "fioko_2025",
        "version": default_profile_version(),
    }
    # every delivered file is an input, with the hash of its bytes as delivered
    delivered = {
        sha256_file(p)
        for p in small_region.landing_copy.rglob("*")
        if p.suffix in (".csv", ".xlsx")
    }
    assert {i["sha256"] for i in manifest["inputs"]} == delivered
    assert {f["name"]: f["sha256"] for f in manifest["files"]} == {
        p.name: sha256_file(p) for p in v1.iterdir() if p.name != "manifest.json"
    }


def test_every_trigger_runs_the_gated_job() -> None:
    defs = _defs()
    graph = defs.resolve_asset_graph()
    assert AUDIT in graph.get(SERVING).parent_keys
    assert SERVING in graph.get(dg.AssetKey(["publications", "shnor_list"])).parent_keys
    assert defs.resolve_schedule_def("nightly_load_schedule").job_name == "nightly_load"
    assert defs.resolve_sensor_def("landing_sensor").job_name == "nightly_load"
    job = defs.resolve_job_def("nightly_load")
    assert {AUDIT, SERVING} <= set(job.asset_layer.selected_asset_keys)
    assert any(h.name == "record_failed_build" for h in job.hook_defs)
    # the GX suites are asset checks on the raw and mart assets, beside the dbt tests
    checks = {(k.asset_key.to_user_string(), k.name) for k in graph.asset_check_keys}
    assert ("staging/stg_registry__school_codes", "crosswalk_codes_well_formed") in checks
    assert ("marts/fct_delivery_completeness", "deliveries_complete") in checks
    assert ("marts/fct_shnor_list", "listed_school_has_cluster") in checks


# --- a delivery breaks error-level checks ------------------------------------------------------------


@pytest.fixture()
def in_failed_home(small_region, region_documents, tmp_path_factory, monkeypatch):
    failed = failed_run(small_region, region_documents, tmp_path_factory)
    monkeypatch.setenv("EDUQ_HOME", str(failed.settings.home))
    return failed


def test_the_landing_sensor_requests_the_gated_job(in_failed_home) -> None:
    assert [r.job_name or "nightly_load" for r in in_failed_home.run_requests] == ["nightly_load"]


def test_failed_build_says_which_checks_failed_and_saves_the_failing_rows(in_failed_home) -> None:
    f = in_failed_home
    record = next(r for r in records(f.settings) if r.run_id == f.run_id)
    assert not record.passed
    failed = {c.key: c for c in record.errors if c.status == "failed"}
    # the dbt uniqueness test of the crosswalk in staging, and the GX check of the registry
    crosswalk = [
        c
        for c in failed.values()
        if c.source == "dbt" and c.asset == "staging/stg_registry__school_codes"
    ]
    assert len(crosswalk) == 1 and "unique" in crosswalk[0].key
    gx_key = "gx__staging__stg_registry__school_codes__crosswalk_codes_well_formed"
    assert gx_key in failed
    assert any(c.key == "step__eduq_dbt_models" for c in record.errors)
    for key in (crosswalk[0].key, gx_key, "step__eduq_dbt_models"):
        assert key in f.message
    folder = f.settings.warehouse_dir / "audit" / record.build_id
    assert str(folder) in f.message
    dbt_rows = pd.read_parquet(folder / crosswalk[0].failing_rows_file)
    assert len(dbt_rows) == 1 and "777001" in dbt_rows.astype(str).values.tolist()[0]
    gx_rows = pd.read_parquet(folder / failed[gx_key].failing_rows_file)
    assert gx_rows[["source_file", "external_code", "school_id"]].values.tolist() == [
        ["school_codes_fix.csv", "777002", MALFORMED_CODE]
    ]
    assert (
        "777002" in failed[gx_key].message
        and "Correct the crosswalk file" in failed[gx_key].message
    )
    # what dbt did not rebuild (downstream of the failed test) is not checked on its old tables
    not_run = {c.key: c for c in record.checks if c.source == "gx" and c.status == "not_run"}
    stale = not_run["gx__marts__fct_delivery_completeness__deliveries_complete"]
    assert "was not rebuilt by this build" in stale.message and stale.blocks is False
    assert record.candidate_sha256 == sha256_file(f.settings.candidate_db)


def test_failed_build_leaves_serving_byte_identical_and_publishes_nothing(in_failed_home) -> None:
    f = in_failed_home
    assert f.settings.serving_db.read_bytes() == f.serving_before
    assert snapshot(f.settings.publications_dir) == f.publications_before


def test_promotion_alone_refuses_the_failed_candidate(in_failed_home) -> None:
    f = in_failed_home
    result = _run_assets([SERVING], new_instance())
    assert not result.success
    assert "failed its audit" in _step_errors(result)
    assert f.settings.serving_db.read_bytes() == f.serving_before
    assert not list(f.settings.warehouse_dir.glob(".serving*"))


def test_audit_alone_fails_says_why_and_cannot_vouch_for_dbt_tests(in_failed_home) -> None:
    f = in_failed_home
    result = _run_assets([AUDIT], new_instance())
    verdicts = {
        (e.asset_key.to_user_string(), e.check_name): e.passed
        for e in (
            ev.event_specific_data
            for ev in result.all_events
            if ev.event_type_value == "ASSET_CHECK_EVALUATION"
        )
    }
    assert (
        verdicts[("warehouse/audit", "passed")] is False
    )  # the audit's verdict, as a failed check
    record = next(r for r in records(f.settings) if r.run_id == result.run_id)
    assert not record.passed
    errors = {c.key for c in record.errors}
    assert "gx__staging__stg_registry__school_codes__crosswalk_codes_well_formed" in errors
    assert "dbt_build_results" in errors  # the audit saw no dbt build of this candidate in its run
    gx = next(
        c
        for c in record.errors
        if c.key == "gx__staging__stg_registry__school_codes__crosswalk_codes_well_formed"
    )
    assert (f.settings.warehouse_dir / "audit" / record.build_id / gx.failing_rows_file).exists()
    assert _run_assets([SERVING], new_instance()).success is False
    assert f.settings.serving_db.read_bytes() == f.serving_before


def test_manual_publish_and_eduq_publish_after_a_failed_audit_publish_nothing_new(
    in_failed_home, capsys
) -> None:
    from orchestration.cli import main
    from orchestration.runner import publish

    f = in_failed_home
    manual = publish(f.settings, 2025, instance=new_instance(), quiet=True)  # the job publish_list
    assert (manual.status, manual.version) == ("unchanged", 1)
    assert main(["publish", "--year", "2025"]) == 0
    assert "unchanged since v1" in capsys.readouterr().out
    assert snapshot(f.settings.publications_dir) == f.publications_before


def test_publish_after_load_sensor_requests_nothing_for_a_failed_build(in_failed_home) -> None:
    from orchestration.jobs import publish_after_load

    f = in_failed_home
    run = f.instance.get_runs(filters=dg.RunsFilter(job_name="nightly_load"))[0]
    event = next(
        e.dagster_event
        for e in f.instance.all_logs(run.run_id)
        if e.dagster_event and e.dagster_event.event_type == dg.DagsterEventType.RUN_FAILURE
    )
    context = dg.build_run_status_sensor_context(
        sensor_name="publish_after_load",
        dagster_event=event,
        dagster_instance=f.instance,
        dagster_run=run,
    )
    result = publish_after_load(context)
    assert isinstance(result, dg.SkipReason) and "did not pass" in result.skip_message


# --- a serving file copied by hand ------------------------------------------------------------------


def test_a_serving_file_copied_by_hand_is_never_published(
    in_failed_home, tmp_path, monkeypatch, capsys
) -> None:
    from orchestration.cli import main
    from orchestration.jobs import publish_after_load
    from orchestration.runner import PipelineFailed, publish

    settings = copy_home(in_failed_home.settings, tmp_path / "home", monkeypatch)
    settings.serving_db.write_bytes(
        settings.candidate_db.read_bytes()
    )  # the failed candidate, by hand
    before = snapshot(settings.publications_dir)
    with pytest.raises(PipelineFailed, match="carries no audit record"):
        publish(settings, 2025, instance=new_instance(), quiet=True)
    assert main(["publish", "--year", "2025"]) == 1
    assert "carries no audit record" in capsys.readouterr().err
    # even a successful load run would not make the sensor publish from it
    instance = new_instance()
    ok = _run_assets([dg.AssetKey(["raw", "landing_survey"])], instance)
    event = next(
        e.dagster_event
        for e in instance.all_logs(ok.run_id)
        if e.dagster_event and e.dagster_event.event_type == dg.DagsterEventType.RUN_SUCCESS
    )
    context = dg.build_run_status_sensor_context(
        sensor_name="publish_after_load",
        dagster_event=event,
        dagster_instance=instance,
        dagster_run=ok.dagster_run,
    )
    assert isinstance(publish_after_load(context), dg.SkipReason)
    assert snapshot(settings.publications_dir) == before
