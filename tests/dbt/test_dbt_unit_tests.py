"""dbt unit tests (the formulas at their boundaries) run on an empty warehouse, and the marts'
public interface (contracts, documented columns, profile columns) checked in the manifest.

dbt needs the parents of a unit-tested model to exist, so the raw schema is created from the
contracts and one `dbt build --empty` loads the seeds, builds every model with no rows and runs the
unit tests in DAG order (data tests are left to the integration tests, which have data).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from ingestion.warehouse import connect, ensure_raw_schema
from tests.dbt_inprocess import project_args, quiet_args
from tests.marts import PROFILE_FREE_MARTS, PUBLIC_MARTS

DB_NAME = "candidate.duckdb"  # the catalog the parsed project names (profiles.yml)


def _dbt(args: list[str], db: Path) -> subprocess.CompletedProcess:
    """dbt in this process on the project parsed once per worker (tests/dbt_inprocess.py: a dbt
    process costs seconds of start-up and parsing); the outcome as a process's (0 success, 1 a test
    failed, 2 dbt could not run) and its error as output."""
    from dbt.cli.main import dbtRunner

    from tests.dbt_inprocess import on_database, parsed_manifest

    manifest = parsed_manifest()
    with on_database(db, unset=("EDUQ_METHODOLOGY_PROFILE",)):
        result = dbtRunner(manifest=manifest).invoke([*args, *quiet_args(db.parent)])
    code = 0 if result.success else (2 if result.exception is not None else 1)
    return subprocess.CompletedProcess(args, code, str(result.exception or ""), "")


@pytest.fixture(scope="module")
def empty_build(tmp_path_factory) -> Path:
    """The target folder of `dbt build --empty` (seeds, models with no rows, unit tests)."""
    db = tmp_path_factory.mktemp("dbt_unit") / DB_NAME
    with connect(db) as con:
        ensure_raw_schema(con)
    result = _dbt(["build", "--empty", "--exclude", "test_type:data", "--threads", "4"], db)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    return db.parent / "target"


def test_dbt_unit_tests_pass(empty_build: Path) -> None:
    results = json.loads((empty_build / "run_results.json").read_text())["results"]
    unit = [r for r in results if r["unique_id"].startswith("unit_test.")]
    failed = [r["unique_id"] for r in results if r["status"] not in ("pass", "success")]
    assert not failed, failed
    # every rule of the methodology has its boundary test (see the models' .yml files)
    assert len(unit) >= 20
    tested = {r["unique_id"].split(".")[2] for r in unit}
    assert tested >= {
        "fct_procedure_results",
        "fct_shnor_list",
        "int_school_successors",
        "int_procedure_results_prior",
        "int_procedure_counts",
        "int_isbsh_scores",
        "fct_isbsh",
        "fct_resource_deficits",
        "fct_risk_profile",
        "fct_procedure_dynamics",
        "fct_cluster_transitions",
        "fct_academic_debt",
        "rpt_dynamics_by_group",
        "rpt_cluster_transitions_by_group",
        "rpt_academic_debt_by_municipality",
        "fct_programme_targets",
    }


def test_marts_have_contracts_keys_and_documented_columns(empty_build: Path) -> None:
    manifest = json.loads((empty_build / "manifest.json").read_text())
    marts = {
        n["name"]: n
        for n in manifest["nodes"].values()
        if n["resource_type"] == "model" and n["fqn"][1] == "marts"
    }
    assert set(marts) == PUBLIC_MARTS
    tests_by_model: dict[str, list[str]] = {}
    for node in manifest["nodes"].values():
        if node["resource_type"] == "test":
            for parent in node["depends_on"]["nodes"]:
                tests_by_model.setdefault(parent.split(".")[-1], []).append(node["name"])
    for name, node in marts.items():
        assert node["config"]["contract"]["enforced"], name
        assert node["description"].strip(), name
        for column, spec in node["columns"].items():
            assert spec.get("description", "").strip(), f"{name}.{column} has no description"
            assert spec.get("data_type"), f"{name}.{column} has no data type"
        # a primary key test: unique over the grain
        assert any(
            t.startswith(("unique_combination_of_columns_", "unique_"))
            for t in tests_by_model.get(name, [])
        ), f"{name} has no key test"
        if name not in PROFILE_FREE_MARTS:
            assert {"profile_name", "profile_version"} <= set(node["columns"]), (
                f"{name} lacks the profile columns"
            )


def test_not_null_columns_counts_the_null_cells_of_every_listed_column(
    empty_build: Path,
) -> None:
    """One `not_null_columns` test checks all of a model's required columns in one scan; when some
    are NULL it fails naming them, and the failures counted are the NULL cells (not the columns)."""
    db = empty_build.parent / DB_NAME
    select = "fioko_clusters,test_name:not_null_columns"
    with connect(db) as con:
        con.execute(
            "insert into reference.fioko_clusters (fioko_cluster, cluster_rank) "
            "values (null, 7), (null, null)"
        )
    try:
        failed = _dbt(["test", "--select", select], db)
    finally:
        with connect(db) as con:
            con.execute("delete from reference.fioko_clusters where fioko_cluster is null")
    assert failed.returncode == 1
    result = json.loads((empty_build / "run_results.json").read_text())["results"]
    (test,) = [r for r in result if "not_null_columns" in r["unique_id"]]
    # 2 NULL codes + 1 NULL rank: exactly the cells added, none of the seed's own rows
    assert (test["status"], test["failures"]) == ("fail", 3)


def test_dbts_warnings_and_errors_are_kept_with_its_loggers_off(
    empty_build: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """dbt runs with its loggers off (orchestration/dbt_project.py LOGGERS_OFF); EventLog keeps what
    `--quiet` and a file log at warn kept: the warnings and errors in the invocation's dbt.log, the
    errors on stdout too, and nothing of a lower level."""
    from dbt.cli.main import dbtRunner

    from orchestration.dbt_project import LOGGERS_OFF, EventLog
    from tests.dbt_inprocess import on_database, parsed_manifest

    work = tmp_path / "events"
    db = tmp_path / DB_NAME  # a copy whose staging views are gone: a mart cannot be built
    shutil.copyfile(empty_build.parent / DB_NAME, db)
    with connect(db) as con:
        con.execute("drop schema staging cascade")
    log = work / "logs" / "dbt.log"
    events = EventLog(log)
    with on_database(db, unset=("EDUQ_METHODOLOGY_PROFILE",)):
        for select, success in (("no_such_model", True), ("dim_school", False)):
            result = dbtRunner(manifest=parsed_manifest(), callbacks=[events]).invoke(
                ["run", "--select", select, *project_args(work), *LOGGERS_OFF]
            )
            assert result.success is success, result.exception
    lines = log.read_text(encoding="utf-8").splitlines()
    stamped = [re.match(r"\d{4}-\d\d-\d\dT[\d:.]+\+00:00 \[(\w+) *\] ", line) for line in lines]
    levels = {m.group(1) for m in stamped if m}
    assert levels == {"warn", "error"}, lines
    assert not any(re.search(r"\[(debug|info) *\]", line) for line in lines)  # dbt's loggers
    text = "\n".join(lines)
    assert "'no_such_model' does not match any enabled nodes" in text
    assert "Runtime Error in model dim_school" in text and "stg_registry__schools" in text
    assert "Running with dbt" not in text  # info: dropped
    printed = capsys.readouterr().out
    assert "Runtime Error in model dim_school" in printed and "no_such_model" not in printed


def test_dbt_opens_the_warehouse_with_the_settings_of_eduq(
    empty_build: Path, tmp_path: Path
) -> None:
    """Memory limit, threads and spill folder come from the EDUQ_DUCKDB_* settings, set when dbt
    opens the database (profiles.yml `config_options`)."""
    db = empty_build.parent / DB_NAME
    spill = tmp_path / "spill"
    env = {
        "EDUQ_DUCKDB_MEMORY_LIMIT": "700MB",
        "EDUQ_DUCKDB_THREADS": "1",
        "EDUQ_DUCKDB_TEMP_DIR": str(spill),
    }
    query = (
        "select current_setting('memory_limit') as m, current_setting('threads') as t, "
        "current_setting('temp_directory') as d"
    )
    from dbt.cli.main import dbtRunner

    from core.environ import temporary_environment
    from tests.dbt_inprocess import on_database, parsed_manifest

    with temporary_environment(env), on_database(db, unset=("EDUQ_METHODOLOGY_PROFILE",)):
        shown = dbtRunner(manifest=parsed_manifest()).invoke(
            ["show", "--inline", query, *project_args(db.parent), "--quiet"]
        )
    assert shown.success, shown.exception
    (row,) = shown.result.results[0].agate_table.rows
    assert (row["m"], int(row["t"]), row["d"]) == ("667.5 MiB", 1, str(spill))


def test_the_key_test_also_finds_nulls_in_the_required_columns(empty_build: Path) -> None:
    """`unique_combination_of_columns` with `not_null_columns` checks the grain and the required
    columns in one scan: a duplicated key fails it, and so does a NULL in a required column that is
    not part of the key."""
    db = empty_build.parent / DB_NAME
    select = "methodology_profiles,test_name:unique_combination_of_columns"

    def failures_after(statement: str) -> tuple[str, int]:
        with connect(db) as con:
            con.execute(
                "create or replace table main.mp_saved as from reference.methodology_profiles"
            )
            con.execute(statement)
        try:
            _dbt(["test", "--select", select], db)
        finally:
            with connect(db) as con:
                con.execute("delete from reference.methodology_profiles")
                con.execute("insert into reference.methodology_profiles from main.mp_saved")
                con.execute("drop table main.mp_saved")
        results = json.loads((empty_build / "run_results.json").read_text())["results"]
        (test,) = [r for r in results if "unique_combination_of_columns" in r["unique_id"]]
        return test["status"], test["failures"]

    null_version = (
        "update reference.methodology_profiles set profile_version = null "
        "where parameter = (select min(parameter) from reference.methodology_profiles)"
    )
    duplicate = (
        "insert into reference.methodology_profiles "
        "from (from reference.methodology_profiles limit 1)"
    )
    assert failures_after(null_version)[0] == "fail"
    assert failures_after(duplicate) == ("fail", 1)  # one failing key: the clean rows pass


def _key_test(db: Path, model: str) -> tuple[str, int, list[dict]]:
    """Run the key test of ``model``: its status, its failures and the failing rows it selects."""
    _dbt(["test", "--select", f"{model},test_name:unique_combination_of_columns"], db)
    results = json.loads((db.parent / "target" / "run_results.json").read_text())["results"]
    (test,) = [r for r in results if "unique_combination_of_columns" in r["unique_id"]]
    with connect(db) as con:
        relation = con.sql(test["compiled_code"])
        rows = [dict(zip(relation.columns, row)) for row in relation.fetchall()]
    return test["status"], test["failures"], rows


def test_the_key_test_also_finds_values_outside_the_accepted_ones(empty_build: Path) -> None:
    """`unique_combination_of_columns` with `accepted_values` (one scan, one dbt node, instead of an
    `accepted_values` test per column): a value outside a column's list fails it, and its failing
    row names the key, how many rows and one such value; NULL is not judged there (the mart's
    `significance` is NULL where a factor cannot be scored), nor is an accepted value. Integer
    lists compare as numbers (the seed's `direction`: 1 / -1)."""
    db = empty_build.parent / DB_NAME
    columns = (
        "school_id, year, factor_number, factor_name_ru, significance, n_high_factors, "
        "n_medium_factors, n_low_factors, profile_name, profile_version"
    )
    with connect(db) as con:
        con.execute(
            f"insert into marts.fct_risk_profile ({columns}) values "
            "('S1', 2024, 1, 'f', null, 0, 0, 0, 'p', '1'), ('S2', 2024, 1, 'f', 'high', 1, 0, 1, 'p', '1'), "
            "('S2', 2024, 2, 'f', 'low', 1, 0, 1, 'p', '1')"
        )
    try:
        assert _key_test(db, "fct_risk_profile") == ("pass", 0, [])
        with connect(db) as con:
            con.execute(
                f"insert into marts.fct_risk_profile ({columns}) values "
                "('S3', 2024, 1, 'f', 'extreme', 0, 0, 0, 'p', '1'), "
                "('S3', 2024, 2, 'f', 'high''', 0, 0, 0, 'p', '1')"
            )
        status, failures, rows = _key_test(db, "fct_risk_profile")
        assert (status, failures) == ("fail", 2)
        assert sorted(
            (r["school_id"], r["factor_number"], r["unexpected_significance"]) for r in rows
        ) == [("S3", 1, "extreme"), ("S3", 2, "high'")]
        assert all(r["n_rows"] == 1 and r["unexpected_significance_rows"] == 1 for r in rows)
    finally:
        with connect(db) as con:
            con.execute("delete from marts.fct_risk_profile")
    with connect(db) as con:
        con.execute("create or replace table main.inputs_saved as from reference.isbsh_inputs")
        con.execute(
            "update reference.isbsh_inputs set direction = 2 "
            "where input_code = (select min(input_code) from reference.isbsh_inputs)"
        )
    try:
        status, failures, rows = _key_test(db, "isbsh_inputs")
        assert (status, failures) == ("fail", len(rows)) and rows
        assert {r["unexpected_direction"] for r in rows} == {2}
    finally:
        with connect(db) as con:
            con.execute("delete from reference.isbsh_inputs")
            con.execute("insert into reference.isbsh_inputs from main.inputs_saved")
            con.execute("drop table main.inputs_saved")
    assert _key_test(db, "isbsh_inputs")[:2] == ("pass", 0)


# the staging views' key as a test of the views would compute it (every row of every year): the
# per-file checks must flag exactly these keys, however the rows were delivered
_VIEW_KEY_VIOLATIONS = """
select 'vpr_results' as source_table, year, school_code, 'VPR' as exam, grade, subject_key,
       participant_code, null::varchar as wave
from staging.stg_vpr__results group by all
having count(*) > 1 or count(*) filter (
    where year is null or school_code is null or grade is null or subject_key is null
       or participant_code is null) > 0
union all
select 'gia_results', year, school_code, exam, grade, subject_key, participant_code, wave
from staging.stg_gia__results group by all
having count(*) > 1 or count(*) filter (
    where year is null or school_code is null or exam is null or subject_key is null
       or participant_code is null or wave is null) > 0
"""


def test_result_keys_are_checked_once_per_file_and_flag_what_the_views_hold(
    empty_build: Path,
) -> None:
    """The key of the student-level views is checked per delivered file (int_result_key_checks):
    a duplicate key or a NULL key column fails no_live_key_violations, naming the file and its rows;
    a later file of the same partition clears it (the view no longer holds those rows); a file is
    not checked again by the next build. At every step the failing keys are exactly those a test of
    the views themselves finds."""
    db = empty_build.parent / DB_NAME
    # the model and its tests, and the views (built with no rows by `dbt build --empty`)
    select = "int_result_key_checks stg_vpr__results stg_gia__results"
    vpr = (
        "insert into raw.vpr_results (year, school_id, grade, subject, participant_code, "
        "primary_score, mark, status, _file_id, _source_file, _file_hash, _row_number) values "
    )
    gia = (
        "insert into raw.gia_results (year, school_id, exam, subject, participant_code, category, "
        "wave, primary_score, test_score, mark, status, _file_id, _source_file, _file_hash, "
        "_row_number) values "
    )

    def build(*statements: str) -> tuple[dict, list[tuple], list[tuple], list[tuple]]:
        with connect(db) as con:
            for statement in statements:
                con.execute(statement)
        result = _dbt(["build", "--select", *select.split()], db)
        run = json.loads((empty_build / "run_results.json").read_text())["results"]
        status = {r["unique_id"].split(".")[2]: (r["status"], r["failures"]) for r in run}
        with connect(db) as con:
            flagged = con.execute(
                "select c.source_table, v.year, v.school_code, v.exam, v.grade, v.subject_key, "
                "v.participant_code, v.wave, c.file_id, v.source_file, v.first_row_number, "
                "v.last_row_number, v.null_columns "
                "from intermediate.int_result_key_checks c, unnest(c.violations) as t(v) "
                "order by all"
            ).fetchall()
            expected = sorted(con.execute(_VIEW_KEY_VIOLATIONS).fetchall(), key=str)
            checks = con.execute(
                "select source_table, file_id, rows_checked, n_violations, checked_by_invocation "
                "from intermediate.int_result_key_checks order by all"
            ).fetchall()
        assert result.returncode in (0, 1), result.stdout[-3000:]
        return status, flagged, expected, checks

    def live(flagged: list[tuple], expected: list[tuple]) -> list[tuple]:
        keys = {tuple(f[:8]) for f in flagged}
        return sorted((k for k in keys if k in set(expected)), key=str)

    # file 1: ВПР, one participant three times in the same subject (rows 2, 4 and 6); ГИА file 2: «математика
    # (базовая)» and «математика базовая» are one subject, so the participant is there twice
    status, flagged, expected, checks = build(
        vpr + "(2024, 'sch1', 5, 'Русский язык', 'p1', 10, 4, 'present', 1, 'vpr_1.csv', 'h1', 2),"
        "(2024, 'sch1', 5, 'Русский язык', 'p2', 10, 4, 'present', 1, 'vpr_1.csv', 'h1', 3),"
        "(2024, 'sch1', 5, 'русский язык ', 'p1', 11, 4, 'present', 1, 'vpr_1.csv', 'h1', 4),"
        "(2024, 'sch2', 5, 'Русский язык', 'p1', 11, 4, 'present', 1, 'vpr_1.csv', 'h1', 5),"
        "(2024, 'sch1', 5, 'РУССКИЙ ЯЗЫК', 'p1', 12, 4, 'present', 1, 'vpr_1.csv', 'h1', 6)",
        gia + "(2024, 'sch1', 'OGE', 'Математика (базовая)', 'q1', 'current_year_graduate', "
        "'main', 10, null, 4, 'present', 2, 'oge_2.csv', 'h2', 7),"
        "(2024, 'sch1', 'OGE', 'математика базовая', 'q1', 'current_year_graduate', "
        "'main', 12, null, 4, 'present', 2, 'oge_2.csv', 'h2', 9)",
    )
    tests = {k: v for k, v in status.items() if k.startswith("no_live_key_violations")}
    assert list(tests.values()) == [("fail", 2)]
    assert [f[8:12] for f in flagged] == [(2, "oge_2.csv", 7, 9), (1, "vpr_1.csv", 2, 6)]
    assert live(flagged, expected) == expected and len(expected) == 2
    first = {c[:2]: c[4] for c in checks}
    assert {c[:4] for c in checks} == {("vpr_results", 1, 5, 1), ("gia_results", 2, 2, 1)}

    # file 3 resends ВПР sch1 grade 5 Russian without the duplicate: the view holds file 3's rows,
    # file 1's violation no longer counts; file 4 has a participant without a code (a NULL key)
    status, flagged, expected, checks = build(
        vpr + "(2024, 'sch1', 5, 'Русский язык', 'p1', 10, 4, 'present', 3, 'vpr_3.csv', 'h3', 2),"
        "(2024, 'sch1', 5, 'Русский язык', 'p2', 10, 4, 'present', 3, 'vpr_3.csv', 'h3', 3),"
        "(2024, 'sch3', 6, 'Русский язык', null, 10, 4, 'present', 4, 'vpr_4.csv', 'h4', 6)",
    )
    tests = {k: v for k, v in status.items() if k.startswith("no_live_key_violations")}
    assert list(tests.values()) == [("fail", 2)]  # the ГИА key and the NULL code, not file 1
    assert live(flagged, expected) == expected and len(expected) == 2
    nulls = [f for f in flagged if f[8] == 4]
    assert [(f[9], f[10], f[12]) for f in nulls] == [("vpr_4.csv", 6, "participant_code")]
    # files 1 and 2 were not read again: checked by the first build
    assert {c[:2]: c[4] for c in checks if c[1] in (1, 2)} == first
    assert {c[1] for c in checks if c[4] not in first.values()} == {3, 4}

    with connect(db) as con:  # the other tests of the module see no results, as before
        con.execute("delete from raw.vpr_results")
        con.execute("delete from raw.gia_results")


def test_the_code_fingerprint_changes_with_a_seeds_column_types(tmp_path: Path) -> None:
    """The year-local models compute a year again when the project's code fingerprint changes
    (project_code_fingerprint). A seed's column types are set in dbt_project.yml or
    seeds/_seeds.yml, not in the seed's file (whose checksum dbt keeps): reading a threshold as
    decimal instead of double must change the fingerprint as editing the file does; the same
    project gives the same fingerprint."""
    import copy

    from dbt.cli.main import dbtRunner

    from tests.dbt_inprocess import on_database, parsed_manifest

    def fingerprint(manifest) -> str:
        with on_database(tmp_path / DB_NAME):
            result = dbtRunner(manifest=manifest).invoke(
                ["compile", "--inline", "select '{{ project_code_fingerprint() }}'",
                 *project_args(tmp_path), "--quiet"]
            )  # fmt: skip
        assert result.success, result.exception
        return result.result.results[0].node.compiled_code

    def variant(change=None):
        manifest = copy.deepcopy(parsed_manifest())
        if change is not None:
            change(manifest)
        # what the macro reads (`graph`), made anew: the parsed manifest's holds the fingerprint an
        # earlier build in this process cached there
        manifest.build_flat_graph()
        assert "eduq_project_code_fingerprint" not in manifest.flat_graph
        return manifest

    def retype(manifest) -> None:
        seed = manifest.nodes["seed.eduq.procedure_thresholds"]
        assert seed.config.column_types["fail_below"] == "double"
        seed.config.column_types = {**seed.config.column_types, "fail_below": "decimal(10,2)"}

    def edit(manifest) -> None:
        manifest.nodes["seed.eduq.procedure_thresholds"].checksum.checksum = "0" * 64

    same = fingerprint(variant())
    assert len(same.split("'")[1]) == 32
    assert fingerprint(variant()) == same
    assert fingerprint(variant(edit)) != same
    assert fingerprint(variant(retype)) != same


def test_a_year_record_no_year_local_model_writes_is_dropped_at_the_end_of_a_build(
    empty_build: Path,
) -> None:
    """A model that stops being year-local keeps its name and leaves its record behind; the record
    would say its years are unchanged while the table is rebuilt whole (the serving export keeps
    such years' rows from the last export). The end of every dbt build drops a record that no
    year-local model of the code writes; the year-local models' records stay."""
    db = empty_build.parent / DB_NAME
    found = (
        "select table_name from duckdb_tables() where schema_name = 'intermediate' "
        "and table_name like '%built_from' order by 1"
    )
    with connect(db) as con:
        before = [t for (t,) in con.execute(found).fetchall()]
        con.execute(
            "create table intermediate.dim_school__built_from as "
            "select 2024 as year, 'x' as input_fingerprint, now() as computed_at"
        )
    assert "fct_procedure_results__built_from" in before  # written by the empty build
    result = _dbt(
        ["build", "--select", "int_list_years", "--exclude-resource-type", "unit_test"], db
    )
    assert result.returncode == 0, result.stdout
    with connect(db) as con:
        assert [t for (t,) in con.execute(found).fetchall()] == before


def test_the_risk_questionnaire_key_is_judged_in_the_years_of_the_files_since_the_audited_build(
    empty_build: Path,
) -> None:
    """The key test of stg_surveys__risk_questionnaire (the latest delivery per year and school)
    judges, in a build made by its plan (the var eduq_judged_up_to_file: the last file id of the
    audited build), the years of the files loaded since, and every year without it: a repeated key
    in a year no later file touches is the audited build's to have seen; a later file of that year,
    even for another school, makes the year judged again."""
    db = empty_build.parent / DB_NAME
    insert = (
        "insert into raw.risk_questionnaire (year, school_id, item_code, answer, _file_id, "
        "_source_file, _file_hash, _row_number) values "
    )

    def key_test(judged_up_to: int | None) -> tuple[str, int]:
        # the view and its test (the empty build's view reads no rows)
        args = ["build", "--select", "stg_surveys__risk_questionnaire"]
        if judged_up_to is not None:
            args += ["--vars", json.dumps({"eduq_judged_up_to_file": judged_up_to})]
        _dbt(args, db)
        results = json.loads((empty_build / "run_results.json").read_text())["results"]
        (test,) = [r for r in results if "unique_combination_of_columns" in r["unique_id"]]
        return test["status"], test["failures"]

    with connect(db) as con:  # file 1: 2024, school A answers item Q1 twice; file 2: 2025, clean
        con.execute(
            insert + "(2024, 'A', 'Q1', 1, 1, 'r_2024.csv', 'h1', 2), "
            "(2024, 'A', 'Q1', 2, 1, 'r_2024.csv', 'h1', 3), "
            "(2025, 'A', 'Q1', 1, 2, 'r_2025.csv', 'h2', 2)"
        )
    try:
        assert key_test(None) == ("fail", 1)  # every year: the repeated key of 2024
        assert key_test(0) == ("fail", 1)
        assert key_test(1) == ("pass", 0)  # files after 1: 2025 alone
        with connect(db) as con:  # file 3: 2024 again, another school: 2024 is judged again
            con.execute(insert + "(2024, 'B', 'Q1', 1, 3, 'r_2024_b.csv', 'h3', 2)")
        assert key_test(2) == ("fail", 1)
        assert key_test(3) == ("pass", 0)
    finally:
        with connect(db) as con:
            con.execute("delete from raw.risk_questionnaire")


def test_a_year_local_marts_key_is_judged_in_the_years_the_build_computed(
    empty_build: Path,
) -> None:
    """The key test of a table incremental by year (fct_risk_profile: school, year, factor) judges,
    in a build made by its plan (the var eduq_judged_up_to_file), the years the same build computed
    and the rows without a year: a repeated key in a year the build did not compute is the audited
    build's to have seen. Without the var, or in an invocation that did not build the table (the
    years noted by an earlier invocation of the same process do not count), every row."""
    db = empty_build.parent / DB_NAME
    insert = (
        "insert into raw.risk_questionnaire (year, school_id, item_code, answer, _file_id, "
        "_source_file, _file_hash, _row_number) values "
    )
    duplicate = (
        "insert into marts.fct_risk_profile select * from marts.fct_risk_profile "
        "where year = 2024 and school_id = 'A' and factor_number = 1"
    )
    key_test = "unique_combination_of_columns_fct_risk_profile"

    def build(args: list[str], judged_up_to: int | None) -> tuple[tuple[str, int], str]:
        if judged_up_to is not None:
            args = [*args, "--vars", json.dumps({"eduq_judged_up_to_file": judged_up_to})]
        _dbt(args, db)
        results = json.loads((empty_build / "run_results.json").read_text())["results"]
        (test,) = [r for r in results if key_test in r["unique_id"]]
        return (test["status"], test["failures"]), test["compiled_code"]

    # (the empty build's views read no rows: the answers and the profile are built again)
    models = ["build", "--select", "stg_surveys__risk_questionnaire", "int_methodology_profile"]
    models += ["fct_risk_profile"]
    with connect(db) as con:  # file 1: 2024, file 2: 2025, school A
        con.execute(
            insert + "(2024, 'A', 'F01_1', 5, 1, 'r_2024.csv', 'h1', 2), "
            "(2025, 'A', 'F01_1', 4, 2, 'r_2025.csv', 'h2', 2)"
        )
    try:
        assert build(models, None)[0] == ("pass", 0)
        with connect(db) as con:
            assert con.execute("select count(*) from marts.fct_risk_profile").fetchone()[0] > 0
        with connect(db) as con:  # a repeated key in 2024, which no later file touches
            con.execute(duplicate)
            con.execute(insert + "(2025, 'B', 'F01_1', 3, 3, 'r_2025_b.csv', 'h3', 2)")
        # the build computes 2025 alone (file 3): 2024 is not judged again
        verdict, compiled = build(models, 2)
        assert verdict == ("pass", 0)
        assert "year is null or (year >= 2025 and year <= 2025 and year in (2025))" in compiled
        assert build(models, None)[0] == ("fail", 1)  # no plan: every year
        # a plan, but the test alone: this invocation computed no year of the table
        verdict, compiled = build(["test", "--select", "fct_risk_profile"], 3)
        assert verdict == ("fail", 1) and "as judged" not in compiled
        verdict, compiled = build(models, 3)  # computed nothing: the rows without a year
        assert verdict == ("pass", 0) and "year is null or false" in compiled
    finally:
        with connect(db) as con:
            con.execute("delete from raw.risk_questionnaire")
        _dbt([*models, "--empty"], db)  # as the empty build left them


def test_results_in_an_unrecognised_spelling_of_russian_or_mathematics_fail_the_build(
    empty_build: Path,
) -> None:
    """A delivered spelling of Russian or mathematics that seed subject_aliases does not hold would
    load and never be counted (the school's procedure would look not conducted): the singular test
    assert_result_subjects_recognised fails, naming the file, the spelling and its first row; other
    subjects are not its business; a build by its plan judges the files delivered since the audited
    build alone (var eduq_judged_up_to_file)."""
    db = empty_build.parent / DB_NAME
    select = ["--select", "assert_result_subjects_recognised"]

    def outcome(*extra: str) -> tuple[str, int]:
        _dbt(["test", *select, *extra, "--store-failures"], db)
        results = json.loads((empty_build / "run_results.json").read_text())["results"]
        (test,) = [r for r in results if "assert_result_subjects_recognised" in r["unique_id"]]
        return test["status"], test["failures"]

    rows = [
        (7, "Математика (профильная)", 2),
        (7, "Математика (профильный уровень)", 3),  # an alias since this test was written
        (7, "Литература", 4),
        (7, "Родной язык (русский)", 6),  # other subjects that name Russian
        (7, "Итоговое собеседование по русскому языку", 7),
        (8, "Математика (проф.)", 5),
    ]
    with connect(db) as con:
        con.executemany(
            "insert into raw.gia_results (year, school_id, exam, subject, participant_code, "
            "_file_id, _source_file, _row_number) values (2024, 'sch1', 'ЕГЭ', ?, 'p', ?, ?, ?)",
            [(subject, file_id, f"file{file_id}.csv", row) for file_id, subject, row in rows],
        )
    try:
        assert outcome() == ("fail", 1)
        with connect(db) as con:
            failing = con.execute(
                "select source_table, file_id, source_file, subject, n_rows, first_row_number "
                "from dbt_test__audit.assert_result_subjects_recognised"
            ).fetchall()
        assert failing == [("gia_results", 8, "file8.csv", "Математика (проф.)", 1, 5)]
        # a build by its plan: the files after the audited build's last one alone
        assert outcome("--vars", json.dumps({"eduq_judged_up_to_file": 8})) == ("pass", 0)
        assert outcome("--vars", json.dumps({"eduq_judged_up_to_file": 7})) == ("fail", 1)
    finally:
        with connect(db) as con:
            con.execute("delete from raw.gia_results")


def test_a_municipality_under_two_spellings_of_its_code_is_one_and_a_warning(
    empty_build: Path,
) -> None:
    """A registry saved from a spreadsheet whose Код МО column was a number says «3» for «03»: the
    staging model counts both as «03», and the warn-level test names the file and rows of «3»."""
    db = empty_build.parent / DB_NAME
    rows = [
        (2023, "s1", "03", 1, "Реестр 2023.xlsx", 5),
        (2024, "s1", "3", 2, "Реестр 2024.xlsx", 5),
        (2024, "s2", "3", 2, "Реестр 2024.xlsx", 9),
        (2024, "s3", "04", 2, "Реестр 2024.xlsx", 6),
    ]
    with connect(db) as con:
        con.executemany(
            "insert into raw.schools (year, school_id, municipality_code, _file_id, _source_file, "
            "_row_number) values (?, ?, ?, ?, ?, ?)",
            rows,
        )
    model = ["--select", "stg_registry__schools"]
    test = "assert_municipality_codes_one_spelling"
    try:
        assert _dbt(["run", *model], db).returncode == 0
        with connect(db) as con:
            counted = con.execute(
                "select school_id, registry_year, municipality_code "
                "from staging.stg_registry__schools order by all"
            ).fetchall()
        tested = _dbt(["test", "--select", test, "--store-failures"], db)
        (result,) = [
            r
            for r in json.loads((empty_build / "run_results.json").read_text())["results"]
            if test in r["unique_id"]
        ]
        with connect(db) as con:
            (schema,) = con.execute(
                "select table_schema from information_schema.tables where table_name = ?", [test]
            ).fetchone()
            warned = con.execute(
                "select delivered_municipality_code, counted_as, source_file, n_schools, "
                f"first_row_number from {schema}.{test}"
            ).fetchall()
            con.execute(f"drop table {schema}.{test}")
    finally:
        with connect(db) as con:
            con.execute("delete from raw.schools")
        _dbt(["run", *model, "--empty"], db)
    assert counted == [
        ("s1", 2023, "03"),
        ("s1", 2024, "03"),
        ("s2", 2024, "03"),
        ("s3", 2024, "04"),
    ]
    assert tested.returncode == 0  # a warning does not fail the build
    assert (result["status"], result["failures"]) == ("warn", 1)
    assert warned == [("3", "03", "Реестр 2024.xlsx", 2, 5)]
