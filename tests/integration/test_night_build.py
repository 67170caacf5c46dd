"""A night that starts from an audited build rebuilds only what its new files reach (gate.baseline),
and gives exactly the warehouse a build from scratch of the same raw tables gives.

On a copy of the shared region (built and audited): a correction of one listed school's 2024
results arrives. The run's dbt build selects what raw.vpr_results and raw.gia_results reach, the
audit carries the verdicts of the other tests over from the region's audit, the results of 2024
alone are counted again (int_procedure_counts is incremental by year), and every table of the
staging, intermediate and marts schemas equals (row for row) the one a dbt build from scratch of
the night's raw tables writes (a full recount). Without an audited starting point (another code, a full refresh, a
candidate written since its audit) a night builds everything."""

from __future__ import annotations

import json
import shutil
from types import SimpleNamespace

import duckdb
import pytest

from gate import baseline
from gate.audit import read_record
from tests.dbt_inprocess import build_models
from tests.integration.test_gates_support import (
    copy_home,
    correct_results,
    informative_students_only,
    listed_schools,
)

pytestmark = pytest.mark.integration

BUILT_SCHEMAS = ("staging", "intermediate", "marts", "reference")


@pytest.fixture(scope="module")
def night(small_region, tmp_path_factory):
    from orchestration.runner import run_pipeline

    monkeypatch = pytest.MonkeyPatch()
    try:
        tmp = tmp_path_factory.mktemp("night")
        settings = copy_home(small_region.settings, tmp / "home", monkeypatch)
        start = baseline.note_start(settings, "probe")  # what the night will find
        school = min(
            informative_students_only(settings, (2024,)) & set(listed_schools(settings, 2025))
        )
        files = correct_results(
            small_region.landing_copy, settings.landing_dir / "night", 2024, {school: "pass"}
        )
        assert files
        counts_before = _counts(settings.candidate_db)
        summary = run_pipeline(settings, instance=small_region.instance)
        yield SimpleNamespace(
            instance=small_region.instance,
            settings=settings,
            summary=summary,
            start=start,
            school=school,
            counts_before=counts_before,
            counts_after=_counts(settings.candidate_db),
        )
    finally:
        monkeypatch.undo()


def _counts(db) -> list[tuple]:
    """int_procedure_counts: school, procedure, year, N, F, source, when the year was counted."""
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(
            "select school_id, procedure_code, year, participants, failing, result_source, counted_at "
            "from intermediate.int_procedure_counts order by all"
        ).fetchall()


def _tables(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str]]:
    schemas = ", ".join(f"'{s}'" for s in BUILT_SCHEMAS)
    return con.execute(
        f"""select table_schema, table_name from information_schema.tables
            where table_catalog = current_database() and table_schema in ({schemas})
            order by 1, 2"""
    ).fetchall()


def _comparable(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> str:
    """The table's columns but when and by which dbt invocation a row was written (the build's
    clock, not its data)."""
    columns = [
        name
        for name, kind in con.execute(
            "select column_name, data_type from information_schema.columns "
            "where table_schema = ? and table_name = ? order by ordinal_position",
            [schema, table],
        ).fetchall()
        if not (name.endswith("_at") and kind.startswith("TIMESTAMP"))
        and not name.endswith("_invocation")
    ]
    return ", ".join(f'"{c}"' for c in columns)


def test_the_night_starts_from_the_audited_build_and_selects_what_its_files_reach(night) -> None:
    build = night.summary.build_id
    plan = baseline.read_plan(night.settings, build)
    assert night.start is not None and plan is not None
    assert plan.baseline_build == night.start.baseline_build
    assert plan.loaded_sources == ("gia_results", "vpr_results") or plan.loaded_sources == (
        "vpr_results",
    )
    record = read_record(night.settings, build)
    assert record is not None and record.passed, record.describe_failures()
    carried = [c for c in record.checks if c.carried_from]
    judged = [c for c in record.checks if c.source == "dbt" and not c.carried_from]
    assert carried and judged
    # each verdict names the audit that evaluated it: the baseline's, or one before it (the shared
    # region's home may have had nights of its own)
    for c in carried:
        source = read_record(night.settings, c.carried_from)
        assert source is not None and source.passed and c.carried_from <= plan.baseline_build
        assert any(o.key == c.key and not o.carried_from for o in source.checks), c.key
    assert {c.source for c in carried} == {"dbt", "gx"}  # the load's own checks are this run's
    # a test on a table the results do not reach kept its verdict; one they reach was run again
    assert any("stg_surveys__social_passport" in c.key for c in carried)
    assert any("fct_shnor_list" in c.key for c in judged)
    # a GX check reading only the registry kept its verdict; one reading the marts ran again
    gx = {c.key: c for c in record.checks if c.source == "gx"}
    assert gx["gx__staging__stg_registry__schools__school_codes_well_formed"].carried_from
    assert not gx["gx__marts__fct_procedure_results__one_row_per_key"].carried_from
    assert not gx["gx__raw__vpr_results__marks_2_to_5"].carried_from
    assert not [c for c in record.checks if c.status == "not_run"]
    assert "carried over" in night.summary.render()


def test_the_corrected_year_alone_is_counted_again(night) -> None:
    """int_procedure_counts is incremental by results year: 2022 and 2023 keep the rows their
    first count wrote; 2024 is counted again, where only the corrected school changed."""
    before, after = night.counts_before, night.counts_after
    assert {r[2] for r in before} == {2022, 2023, 2024}
    assert [r for r in after if r[2] != 2024] == [r for r in before if r[2] != 2024]
    counted_2024 = {r[-1] for r in after if r[2] == 2024}
    assert len(counted_2024) == 1 and counted_2024 != {r[-1] for r in before if r[2] == 2024}
    corrected = [r for r in after if r[0] == night.school and r[2] == 2024]
    assert corrected and all(r[4] == 0 for r in corrected if r[5] == "student_results")
    assert corrected != [r for r in before if r[0] == night.school and r[2] == 2024]
    untouched = [r[:6] for r in after if r[2] == 2024 and r[0] != night.school]
    assert untouched == [r[:6] for r in before if r[2] == 2024 and r[0] != night.school]


def test_the_night_gives_the_tables_of_a_build_from_scratch(night, tmp_path) -> None:
    scratch = tmp_path / "scratch" / "candidate.duckdb"  # dbt's catalog is the file's name
    scratch.parent.mkdir()
    shutil.copy(night.settings.candidate_db, scratch)
    with duckdb.connect(str(scratch)) as con:
        for schema in BUILT_SCHEMAS:
            con.execute(f"drop schema if exists {schema} cascade")
    build_models(scratch, tmp_path / "dbt")
    with (
        duckdb.connect(str(night.settings.candidate_db), read_only=True) as con,
        duckdb.connect(str(scratch), read_only=True) as ref,
    ):
        tables = _tables(con)
        assert tables == _tables(ref)
        assert ("marts", "fct_shnor_list") in tables
        con.execute(f"attach '{scratch}' as ref (read_only)")
        for schema, table in tables:
            cols = _comparable(con, schema, table)
            differ = con.execute(
                f"""select count(*) from (
                    (select {cols} from "{schema}"."{table}" except all select {cols} from ref."{schema}"."{table}")
                    union all
                    (select {cols} from ref."{schema}"."{table}" except all select {cols} from "{schema}"."{table}"))"""
            ).fetchone()[0]
            assert differ == 0, f"{schema}.{table}: {differ} rows differ from a build from scratch"
    # the correction reached the marts: every participant of the school passes in 2024
    with duckdb.connect(str(night.settings.serving_db), read_only=True) as con:
        failing = con.execute(
            "select sum(failing) from marts.fct_procedure_results where school_id = ? and year = 2024 "
            "and result_source = 'student_results'",
            [night.school],
        ).fetchone()[0]
    assert failing == 0


def test_without_an_audited_starting_point_a_night_builds_everything(night, monkeypatch) -> None:
    settings = night.settings
    assert baseline.note_start(settings, "probe-1") is not None  # the night's audited candidate
    monkeypatch.setattr(baseline, "code_fingerprint", lambda: "another code")
    assert baseline.note_start(settings, "probe-2") is None
    monkeypatch.undo()
    assert baseline.note_start(settings.with_overrides(full_refresh=True), "probe-3") is None
    with duckdb.connect(str(settings.candidate_db)) as con:  # written since its audit
        con.execute("create table raw._written_by_hand as select 1 as x")
    assert baseline.note_start(settings, "probe-4") is None
    assert not baseline.plan_path(settings, "probe-4").exists()


def test_a_plan_file_that_cannot_be_read_means_a_full_build(night) -> None:
    path = baseline.plan_path(night.settings, "probe-5")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("{not json", encoding="utf-8")
    assert baseline.read_plan(night.settings, "probe-5") is None
    path.write_text(json.dumps({"baseline_build": "x"}), encoding="utf-8")
    assert baseline.read_plan(night.settings, "probe-5") is None


def test_the_tables_a_check_reads_are_the_parsers_or_unknown() -> None:
    with duckdb.connect() as con:
        read = baseline.tables_read
        sql = (
            "with a as (select * from marts.x) select * from a join Reference.P using (k) "
            "where k in (select k from intermediate.y)"
        )
        assert read(con, sql) == {"marts.x", "reference.p", "intermediate.y"}
        assert read(con, "select * from marts.x union all select * from read_csv('f.csv')") is None
        assert read(con, "select * from x") is None  # which schema? unknown
        assert read(con, "select * from") is None  # does not parse
        assert read(con, "select 1") == set()


def test_a_build_not_made_by_its_plan_carries_nothing(night) -> None:
    """A run that loads and then builds only some models (a Dagster subset) has a plan its dbt step
    did not apply: no verdict is carried, the tests it did not run stay not run (and block)."""
    from dataclasses import asdict, replace

    from core.files import write_json_atomic
    from gate.dbt_results import read_invocation
    from orchestration.dbt_build import target_dir_for

    settings, build = night.settings, night.summary.build_id
    plan = baseline.read_plan(settings, build)
    assert plan is not None and plan.applied
    results = read_invocation(target_dir_for(night.summary.load_run_id))
    assert any(not r.reported for r in results)
    carried = baseline.carry_over(settings, build, results)
    assert not [r for r in carried if r.status == "not_run"]
    probe = "probe-subset"
    path = baseline.plan_path(settings, probe)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json_atomic(path, asdict(replace(plan, dbt_select_applied=None)))
    assert baseline.carry_over(settings, probe, results) == list(results)
    assert [r for r in results if r.is_check and not r.reported and r.status == "not_run"]
    assert baseline.gx_carrier(settings, probe, results) is None


def test_a_check_defined_otherwise_is_run_again(night) -> None:
    """A Great Expectations verdict is carried only to the same definition: another school code
    pattern (a setting, not code) makes the registry's check run again."""
    from gate.dbt_results import read_invocation
    from orchestration.dbt_build import target_dir_for

    settings, build = night.settings, night.summary.build_id
    record = read_record(settings, build)
    key = "gx__staging__stg_registry__schools__school_codes_well_formed"
    (outcome,) = [c for c in record.checks if c.key == key]
    assert outcome.definition
    carried = baseline.gx_carrier(
        settings, build, read_invocation(target_dir_for(night.summary.load_run_id))
    )
    reads = {"staging.stg_registry__schools"}
    assert carried(key, reads, outcome.definition) is not None
    assert carried(key, reads, "another definition") is None
    assert carried(key, reads | {"raw.vpr_results"}, outcome.definition) is None


def test_dagster_shows_the_unchanged_models_and_their_carried_tests(night) -> None:
    """The models the night did not rebuild are materialized as unchanged, and their dbt tests'
    check carries the baseline's verdicts; a rebuilt model's check ran."""
    import dagster as dg

    run_id = night.summary.load_run_id
    materialized = {
        r.event_log_entry.dagster_event.event_specific_data.materialization.asset_key: (
            r.event_log_entry.dagster_event.event_specific_data.materialization.metadata
        )
        for r in night.instance.get_records_for_run(
            run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION
        ).records
    }
    unchanged = materialized[dg.AssetKey(["marts", "fct_isbsh"])]
    assert unchanged["rebuilt"].value is False
    assert "rebuilt" not in materialized[dg.AssetKey(["marts", "fct_shnor_list"])]
    checks = {
        (e.asset_key, e.check_name): e
        for e in (
            r.event_log_entry.dagster_event.event_specific_data
            for r in night.instance.get_records_for_run(
                run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION
            ).records
        )
    }
    carried = checks[(dg.AssetKey(["marts", "fct_isbsh"]), "dbt_tests")]
    assert carried.passed and carried.metadata["tests_carried_over"].value > 0
    ran = checks[(dg.AssetKey(["marts", "fct_shnor_list"]), "dbt_tests")]
    assert ran.passed and ran.metadata["tests_run"].value > 0
