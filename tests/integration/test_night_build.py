"""A night that starts from an audited build rebuilds only what its new files reach (gate.baseline),
and gives exactly the warehouse a build from scratch of the same raw tables gives.

On a copy of the shared region (built and audited): a correction of one listed school's 2024
results arrives, with corrections of another school's 2023 social passport, resource survey and
risk questionnaire (the year-local marts, macros/year_local.sql, compute 2023 again and nothing
else). The run's dbt build selects what raw.vpr_results and raw.gia_results reach, the
audit carries the verdicts of the other tests over from the region's audit, the results of 2024
alone are counted again (int_procedure_counts is incremental by year), and every table of the
staging, intermediate and marts schemas equals (row for row) the one a dbt build from scratch of
the night's raw tables writes (a full recount), and every view the same view (its definition: on
the same raw tables and tables, the same rows). Without an audited starting point (another code, a full refresh, a
candidate written since its audit) a night builds everything."""

from __future__ import annotations

import json
import os
import shutil
from types import SimpleNamespace

import duckdb
import pytest

from core.settings import load_settings
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
        surveyed = _correct_surveys(small_region.landing_copy, settings.landing_dir / "night", 2023)
        counts_before = _counts(settings.candidate_db)
        year_records_before = _year_records(settings.candidate_db)
        import gate.audit as audit_module

        started, taken = [], []  # what the dbt step started for the audit, what the audit took
        start_alongside = audit_module.start_alongside

        def recording_start(settings, build_id):
            start_alongside(settings, build_id)
            started.append((build_id, audit_module._started[settings.candidate_db]))

        real_audit = audit_module._audit

        def recording_audit(settings, build_id, dbt_results, run_id, extra, identity, sha):
            taken.append((build_id, sha))
            return real_audit(settings, build_id, dbt_results, run_id, extra, identity, sha)

        monkeypatch.setattr(audit_module, "start_alongside", recording_start)
        monkeypatch.setattr(audit_module, "_audit", recording_audit)
        environment_before = _dbt_environment()
        summary = run_pipeline(settings, instance=small_region.instance)
        environment_after = _dbt_environment()
        monkeypatch.setattr(audit_module, "start_alongside", start_alongside)
        monkeypatch.setattr(audit_module, "_audit", real_audit)
        yield SimpleNamespace(
            started=started,
            taken=taken,
            instance=small_region.instance,
            settings=settings,
            summary=summary,
            start=start,
            school=school,
            counts_before=counts_before,
            counts_after=_counts(settings.candidate_db),
            surveyed=surveyed,
            year_records_before=year_records_before,
            year_records_after=_year_records(settings.candidate_db),
            environment_before=environment_before,
            environment_after=environment_after,
        )
    finally:
        monkeypatch.undo()


def _dbt_environment() -> dict[str, str | None]:
    """What a build gives dbt through the environment, but telemetry off (set for good)."""
    from orchestration.dbt_project import TELEMETRY_OFF, dbt_env

    names = set(dbt_env(load_settings())) - set(TELEMETRY_OFF)
    return {name: os.environ.get(name) for name in sorted(names)}


def test_the_night_leaves_the_process_environment_as_it_found_it(night) -> None:
    """dbt reads the candidate and DuckDB's settings from the environment: they are set for the
    build only, so that a later home of the same process (a test process, a Python session calling
    the runner) is not given this home's candidate or spill folder."""
    assert night.environment_after == night.environment_before
    assert night.environment_after["EDUQ_DUCKDB_TEMP_DIR"] != str(night.settings.spill_dir)


def test_the_audit_takes_the_hash_and_export_the_dbt_step_started_when_its_build_ended(
    night,
) -> None:
    """The dbt step of the night starts the audit's SHA-256 and serving export of the candidate as
    its build ends (gate.audit.start_alongside); the audit of that build takes them, and the night
    is promoted from the export prepared then."""
    build = night.summary.build_id
    assert [b for b, _ in night.started] == [build]
    (work,) = [w for _, w in night.started]
    assert night.taken == [(build, work.sha)]
    assert work.export.result() is not None  # prepared, then renamed into place by the promotion
    record = read_record(night.settings, build)
    assert record.candidate_sha256 == work.sha.result()


YEAR_LOCAL = ("fct_risk_profile", "fct_isbsh", "fct_resource_deficits")
# incremental by year too: the results chain (a correction of 2024 computes 2024, and 2025 of the
# prior results, which the 2024 results are the previous year of)
RESULTS_YEAR_LOCAL = {
    ("marts", "fct_procedure_results"): "computing years 2024, 2025",
    ("intermediate", "int_procedure_results_prior"): "computing years 2025",
    ("marts", "fct_procedure_dynamics"): "computing years 2024, 2025",
    ("intermediate", "int_procedure_coverage"): "computing years 2024, 2025",
}


def _correct_surveys(landing_copy, target, year: int) -> str:
    """Corrected 2023 deliveries for one school: its social passport (CSV, where the region sent
    XLSX), its resource survey and its risk questionnaire, each with other values. Returns the
    school."""
    from python_calamine import CalamineWorkbook

    from tests.integration import expected
    from tests.integration.test_gates_support import write_csv

    passport = next(landing_copy.rglob(f"social_passport_{year}.xlsx"))
    rows = CalamineWorkbook.from_path(passport).get_sheet_by_index(0).to_python()
    at = next(i for i, r in enumerate(rows) if "Код ОО" in r)
    header = [str(c) for c in rows[at]]
    school_col = header.index("Код ОО")
    first = next(r for r in rows[at + 1 :] if r[school_col])
    school = str(first[school_col])
    row = [int(v) if isinstance(v, float) else v for v in first]
    low_income = header.index("Из малообеспеченных семей")
    row[low_income] = row[header.index("Всего обучающихся")] // 2  # half the school
    write_csv(target / f"social_passport_{year}_correction.csv", header, [row])

    survey = expected.read_csv(next(landing_copy.rglob(f"resource_survey_{year}.csv")))
    survey = survey[survey["Код ОО"] == school].copy()
    assert len(survey) == 1
    survey["Вакансии"] = "9"
    survey["Скоростной интернет"] = "нет"
    write_csv(
        target / f"resource_survey_{year}_correction.csv",
        list(survey.columns),
        survey.values.tolist(),
    )

    answers = expected.read_csv(next(landing_copy.rglob(f"risk_questionnaire_{year}.csv")))
    answers = answers[answers["Код ОО"] == school].copy()
    assert len(answers) > 0
    answers["Ответ"] = answers["Ответ"].map(lambda a: "1" if a != "1" else "3")
    write_csv(
        target / f"risk_questionnaire_{year}_correction.csv",
        list(answers.columns),
        answers.values.tolist(),
    )
    return school


def _year_records(db) -> dict[str, list[tuple]]:
    """intermediate.<mart>__built_from of the year-local marts: year, fingerprint, computed_at."""
    with duckdb.connect(str(db), read_only=True) as con:
        return {
            mart: con.execute(
                f"select * from intermediate.{mart}__built_from order by year"
            ).fetchall()
            for mart in YEAR_LOCAL
        }


def _counts(db) -> list[tuple]:
    """int_procedure_counts: school, procedure, year, N, F, source, when the year was counted."""
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(
            "select school_id, procedure_code, year, participants, failing, result_source, counted_at "
            "from intermediate.int_procedure_counts order by all"
        ).fetchall()


def _tables(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str]]:
    """The base tables of the built schemas (their views: :func:`_views`)."""
    schemas = ", ".join(f"'{s}'" for s in BUILT_SCHEMAS)
    return con.execute(
        f"""select table_schema, table_name from information_schema.tables
            where table_catalog = current_database() and table_schema in ({schemas})
              and table_type = 'BASE TABLE'
            order by 1, 2"""
    ).fetchall()


def _views(con: duckdb.DuckDBPyConnection) -> dict[tuple[str, str], str]:
    """The views of the built schemas and their definitions."""
    schemas = ", ".join(f"'{s}'" for s in BUILT_SCHEMAS)
    return {
        (schema, view): sql
        for schema, view, sql in con.execute(
            f"""select schema_name, view_name, sql from duckdb_views()
                where database_name = current_database() and schema_name in ({schemas})"""
        ).fetchall()
    }


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
    surveys = ("resource_survey", "risk_questionnaire", "social_passport")
    assert plan.loaded_sources in (
        tuple(sorted(("gia_results", "vpr_results", *surveys))),
        tuple(sorted(("vpr_results", *surveys))),
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
    # a test on a table the night's files do not reach kept its verdict; one they reach was run again
    assert any("stg_surveys__academic_debt" in c.key for c in carried)
    assert any("fct_shnor_list" in c.key for c in judged)
    # a GX check reading only the registry kept its verdict; one reading the marts ran again
    gx = {c.key: c for c in record.checks if c.source == "gx"}
    assert gx["gx__staging__stg_registry__schools__school_codes_well_formed"].carried_from
    assert not gx["gx__marts__fct_procedure_results__one_row_per_key"].carried_from
    # a raw table the night loaded is judged on the rows of its new files alone (file by file), a
    # year-local mart on the years the night computed (year by year)
    vpr = gx["gx__raw__vpr_results__marks_2_to_5"]
    assert not vpr.carried_from and vpr.status == "passed"
    assert vpr.other_parts_from == plan.baseline_build
    for name in ("one_row_per_key", "shares_between_0_and_1", "failing_within_participants"):
        mart = gx[f"gx__marts__fct_procedure_results__{name}"]
        assert mart.status == "passed" and mart.other_parts_from == plan.baseline_build
        assert mart.judged_rows == "(year in (2024, 2025) or year is null)", mart.judged_rows
    with duckdb.connect(str(night.settings.candidate_db), read_only=True) as con:
        before, loaded = con.execute(
            "select max(file_id) filter (where run_id is distinct from ?), "
            "min(file_id) filter (where run_id = ? and source = 'vpr_results') from raw._load_log",
            [night.summary.load_run_id, night.summary.load_run_id],
        ).fetchone()
    assert vpr.judged_rows == f"_file_id > {plan.last_file_id}" and plan.last_file_id == before
    # which marts are built year by year, and by which column, is the build's manifest's word
    from gate.dbt_results import read_invocation
    from orchestration.dbt_build import target_dir_for

    models = {
        r.asset: r.year_local
        for r in read_invocation(target_dir_for(night.summary.load_run_id))
        if r.resource_type == "model"
    }
    assert models["marts/fct_procedure_results"] == "year" and models["marts/dim_school"] == ""
    assert models["marts/fct_procedure_dynamics"] == "year_to"
    # the risk questionnaire's key test judged the years of the night's files (the dbt var)
    (key_test,) = [
        r
        for r in read_invocation(target_dir_for(night.summary.load_run_id))
        if r.resource_type == "test" and r.asset == "staging/stg_surveys__risk_questionnaire"
    ]
    assert key_test.status == "passed" and key_test.reported
    assert f"where _file_id > {plan.last_file_id}" in key_test.compiled_code
    assert before < loaded
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


def test_the_year_local_marts_compute_the_corrected_year_alone(night) -> None:
    """fct_risk_profile, fct_isbsh and fct_resource_deficits are incremental by year: the record of
    each says 2023 has new inputs (a new fingerprint and time), 2022 and 2024 kept theirs; the
    corrections reached the corrected school's 2023 rows. That only 2023 was computed, the models
    say themselves (the Dagster events, test_dagster_shows_…); that the tables are what a build
    from scratch gives, the next test."""
    before, after = night.year_records_before, night.year_records_after
    for mart in YEAR_LOCAL:
        years = {r[0]: r for r in before[mart]}
        now = {r[0]: r for r in after[mart]}
        assert set(now) == set(years) and 2023 in now, mart
        assert now[2023][1] != years[2023][1] and now[2023][2] > years[2023][2], mart
        assert {y: r for y, r in now.items() if y != 2023} == {
            y: r for y, r in years.items() if y != 2023
        }, mart
    school = night.surveyed
    with duckdb.connect(str(night.settings.candidate_db), read_only=True) as con:
        vacancies, broadband = con.execute(
            "select teacher_vacancies = 9, has_broadband_gap from marts.fct_resource_deficits "
            "where school_id = ? and year = 2023",
            [school],
        ).fetchone()
        assert vacancies and broadband
        (share,) = con.execute(
            "select low_income_share from marts.fct_isbsh where school_id = ? and year = 2023",
            [school],
        ).fetchone()
        assert 0.45 <= share <= 0.5


def _built_from_scratch(db, work) -> object:
    """A copy of ``db`` whose staging, intermediate and marts a dbt build from scratch wrote anew
    from its raw tables (dbt's catalog is the file's name: candidate.duckdb)."""
    scratch = work / "scratch" / "candidate.duckdb"
    scratch.parent.mkdir(parents=True)
    shutil.copy(db, scratch)
    with duckdb.connect(str(scratch)) as con:
        for schema in BUILT_SCHEMAS:
            con.execute(f"drop schema if exists {schema} cascade")
    build_models(scratch, work / "dbt-scratch")
    return scratch


def _rows_differing(db, ref_db, tables=None) -> dict[str, int]:
    """Rows that differ, both ways, between the same tables of two warehouses (every base table of
    the built schemas, which must be the same, unless ``tables`` names some: "schema.table"). Their
    views must be the same views with the same definitions: the callers compare a warehouse with a
    copy of it whose built schemas dbt wrote again, so the schemas not built (raw) are the same
    bytes, and the views (none reads the clock or the invocation) give the same rows on equal tables
    (querying them again, each view's whole chain from the raw rows, was most of this comparison)."""
    with duckdb.connect(str(db), read_only=True) as con:
        if tables is None:
            found = _tables(con)
            with duckdb.connect(str(ref_db), read_only=True) as ref:
                assert found == _tables(ref)
                assert _views(con) == _views(ref), "the views' definitions differ"
        else:
            found = [tuple(t.split(".")) for t in tables]
        con.execute(f"attach '{ref_db}' as ref (read_only)")
        differ = {}
        for schema, table in found:
            cols = _comparable(con, schema, table)
            differ[f"{schema}.{table}"] = con.execute(
                f"""select count(*) from (
                    (select {cols} from "{schema}"."{table}" except all select {cols} from ref."{schema}"."{table}")
                    union all
                    (select {cols} from ref."{schema}"."{table}" except all select {cols} from "{schema}"."{table}"))"""
            ).fetchone()[0]
    return differ


def test_the_night_gives_the_tables_of_a_build_from_scratch(night, tmp_path) -> None:
    scratch = _built_from_scratch(night.settings.candidate_db, tmp_path)
    differ = _rows_differing(night.settings.candidate_db, scratch)
    assert "marts.fct_shnor_list" in differ
    assert {t: n for t, n in differ.items() if n} == {}, "rows differ from a build from scratch"
    # the correction reached the marts: every participant of the school passes in 2024
    with duckdb.connect(str(night.settings.serving_db), read_only=True) as con:
        failing = con.execute(
            "select sum(failing) from marts.fct_procedure_results where school_id = ? and year = 2024 "
            "and result_source = 'student_results'",
            [night.school],
        ).fetchone()[0]
    assert failing == 0


def test_a_year_local_mart_without_its_record_or_with_other_columns_is_built_anew(
    night, tmp_path
) -> None:
    """A mart an earlier version built as a plain table (no record of its years), or whose columns
    are no longer its contract's, is dropped and built anew by the next build: the same rows."""
    work = tmp_path / "upgrade" / "candidate.duckdb"
    work.parent.mkdir()
    shutil.copy(night.settings.candidate_db, work)
    with duckdb.connect(str(work)) as con:
        con.execute("drop table intermediate.fct_risk_profile__built_from")
        con.execute("alter table marts.fct_isbsh drop column municipal_position")
    build_models(work, tmp_path / "dbt")
    differ = _rows_differing(
        night.settings.candidate_db, work, ["marts.fct_risk_profile", "marts.fct_isbsh"]
    )
    assert differ == {"marts.fct_risk_profile": 0, "marts.fct_isbsh": 0}
    with duckdb.connect(str(work), read_only=True) as con:
        assert con.execute(
            "select count(*) from intermediate.fct_risk_profile__built_from"
        ).fetchone()[0] == len(night.year_records_after["fct_risk_profile"])


def test_a_year_that_now_gives_no_rows_keeps_none_of_its_old_ones(night, tmp_path) -> None:
    """A year whose inputs changed so that a year-local model gives no row for it (its results
    gone, and its resource surveys) keeps none of its old rows, though other inputs still hold the
    year (last year's counts, the registry): the next build leaves none of that year, as a build
    from scratch."""
    work = tmp_path / "vanished" / "candidate.duckdb"
    work.parent.mkdir()
    shutil.copy(night.settings.candidate_db, work)
    with duckdb.connect(str(work)) as con:
        for table in ("resource_survey", "vpr_results", "gia_results", "vpr_school_stats"):
            con.execute(f"delete from raw.{table} where year = 2023")
    build_models(work, tmp_path / "dbt")
    with duckdb.connect(str(work), read_only=True) as con:
        # (the schools of 2023 stay in the deficits, as schools that answered no survey)
        assert con.execute(
            "select bool_and(not has_resource_survey) from marts.fct_resource_deficits where year = 2023"
        ).fetchone()[0]
        for table, year in (
            ("marts.fct_procedure_results", "year"),
            ("marts.fct_procedure_dynamics", "year_to"),
            ("intermediate.int_procedure_coverage", "year"),
        ):
            left = con.execute(f"select count(*) from {table} where {year} = 2023").fetchone()[0]
            assert left == 0, f"{table}: {left} rows of 2023 left"
    # what a build from scratch gives: no 2023 of the counts, so no 2023 of what is built on them
    # (a build from scratch of these raw tables was compared table by table when this test was
    # written; left out of `make test` for its time)
    with duckdb.connect(str(work), read_only=True) as con:
        assert (
            con.execute(
                "select count(*) from intermediate.int_procedure_counts where year = 2023"
            ).fetchone()[0]
            == 0
        )


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


def test_the_night_creates_no_view_again_and_judges_what_reads_the_views_its_files_reach(
    night,
) -> None:
    """A build by its plan runs the tests and the tables the night's files reach, not their views
    (a view's query is the baseline's, the same code): the views' tests run, and a check reading a
    view over a raw table the night loaded is not carried over (the view reads the new rows)."""
    from gate.dbt_results import read_invocation
    from orchestration.dbt_build import target_dir_for

    settings, build = night.settings, night.summary.build_id
    results = read_invocation(target_dir_for(night.summary.load_run_id))
    by_name = {r.name: r for r in results}
    views = {"stg_vpr__results", "stg_gia__results", "int_assessment_results"}
    assert not any(by_name[v].reported for v in views)  # not created again
    assert by_name["fct_procedure_results"].reported  # a table they feed was rebuilt
    # a test of the views ran (the student-level key, read through them)
    assert any(r.is_check and r.reported and "stg_vpr__results" in r.name for r in results)
    carrier = baseline.gx_carrier(settings, build, results)
    assert carrier is not None
    assert {"staging.stg_vpr__results", "intermediate.int_assessment_results"} <= carrier.changed
    assert "staging.stg_registry__schools" not in carrier.changed  # raw.schools was not loaded
    key = "gx__staging__stg_registry__schools__school_codes_well_formed"
    (outcome,) = [c for c in read_record(settings, build).checks if c.key == key]
    assert carrier(key, {"staging.stg_vpr__results"}, outcome.definition) is None


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
    unchanged = materialized[dg.AssetKey(["marts", "fct_academic_debt"])]
    assert unchanged["rebuilt"].value is False
    # a view the night's files reach is not created again: the baseline's query over the new rows
    view = materialized[dg.AssetKey(["staging", "stg_vpr__results"])]
    assert view["rebuilt"].value is False and "view_query_as_in_build" in view
    # the year-local marts and the counts say which years they computed again: 2023 and 2024
    for mart in YEAR_LOCAL:
        said = materialized[dg.AssetKey(["marts", mart])]["dbt_log"].value
        assert said == f"{mart}: computing years 2023", said
    said = materialized[dg.AssetKey(["intermediate", "int_procedure_counts"])]["dbt_log"].value
    assert said == "int_procedure_counts: counting years 2024", said
    # (2025: the prior results of 2025 are the 2024 results; no results of 2025 to build on them)
    for (schema, model), years in RESULTS_YEAR_LOCAL.items():
        said = materialized[dg.AssetKey([schema, model])]["dbt_log"].value
        assert said == f"{model}: {years}", said
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
    carried = checks[(dg.AssetKey(["marts", "fct_academic_debt"]), "dbt_tests")]
    assert carried.passed and carried.metadata["tests_carried_over"].value > 0
    ran = checks[(dg.AssetKey(["marts", "fct_shnor_list"]), "dbt_tests")]
    assert ran.passed and ran.metadata["tests_run"].value > 0


def test_the_serving_file_is_written_from_the_last_one_and_equals_an_export_from_scratch(
    night, tmp_path
) -> None:
    """The night's serving file starts from the audited build's (gate.promote._previous_export):
    the year-local marts keep the rows of the years the night did not compute (every year but
    2023 of the survey marts, 2024-2025 of the results), and the file holds exactly what an
    export from scratch of the night's candidate holds: every table of the served schemas with
    its DDL, comments and rows, and the views."""
    from gate.promote import SERVING_SCHEMAS, serving_state_path
    from gate.serving_export import export_warehouse
    from tests.unit.test_serving_export import _contents

    state = json.loads(serving_state_path(night.settings).read_text(encoding="utf-8"))
    assert state["export"]["from_build"] == night.start.baseline_build
    kept = state["export"]["kept_rows"]
    assert {*YEAR_LOCAL, "fct_procedure_results"} <= {
        t.split(".")[1] for t, n in kept.items() if n > 0
    }
    assert set(state["year_records"]) >= {f"marts.{t}" for t in YEAR_LOCAL}
    scratch = tmp_path / "scratch.duckdb"
    export_warehouse(night.settings.candidate_db, scratch, SERVING_SCHEMAS)
    served = tmp_path / "served.duckdb"
    shutil.copy(night.settings.serving_db, served)
    with duckdb.connect(str(served)) as con:  # what promotion adds after the export
        con.execute("drop schema audit cascade; drop schema meta cascade")
    assert _contents(served) == _contents(scratch)
