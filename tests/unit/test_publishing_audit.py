"""The audit without Dagster: dbt results read from the files dbt writes, the verdict bound to the
candidate's hash, failing rows saved for every failed check."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from core.files import sha256_file
from core.settings import Settings, load_settings
from gate.audit import find_passed_audit, read_record, run_audit
from gate.dbt_results import find_invocation_dir, read_invocation
from tests.unit.test_expectations import build_warehouse

FAILING_SQL = "select school_id, list_year from marts.fct_shnor_list where is_shnor and fioko_cluster = 'severe'"


def write_invocation(folder: Path, statuses: dict[str, str]) -> Path:
    """A dbt target folder as dagster-dbt leaves it: manifest.json and run_results.json."""
    folder.mkdir(parents=True)
    model = {"resource_type": "model", "name": "fct_shnor_list", "schema": "marts", "config": {}}
    nodes = {
        "model.eduq.fct_shnor_list": model,
        "test.eduq.no_severe": {
            "resource_type": "test",
            "name": "no_severe",
            "config": {"severity": "ERROR"},
            "attached_node": "model.eduq.fct_shnor_list",
            "description": "no severe school",
        },
        "test.eduq.soft_check": {
            "resource_type": "test",
            "name": "soft_check",
            "config": {"severity": "warn"},
            "attached_node": "model.eduq.fct_shnor_list",
        },
        "test.eduq.forgotten": {
            "resource_type": "test",
            "name": "forgotten",
            "config": {"severity": "ERROR"},
            "attached_node": "model.eduq.fct_shnor_list",
        },
    }
    unit_tests = {
        "unit_test.eduq.fct_shnor_list.rule": {
            "resource_type": "unit_test",
            "name": "rule",
            "model": "fct_shnor_list",
        }
    }
    (folder / "manifest.json").write_text(json.dumps({"nodes": nodes, "unit_tests": unit_tests}))
    results = [
        {
            "unique_id": uid,
            "status": status,
            "failures": 1 if status in ("fail", "warn") else 0,
            "message": None,
            "compiled_code": FAILING_SQL
            if uid == "test.eduq.no_severe"
            else "select 1 where false",
        }
        for uid, status in statuses.items()
    ]
    (folder / "run_results.json").write_text(json.dumps({"results": results}))
    return folder


@pytest.fixture()
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("EDUQ_HOME", str(tmp_path / "home"))
    s = load_settings()
    s.ensure_dirs()
    with duckdb.connect(str(s.candidate_db)) as con:
        build_warehouse(con)
    return s


def test_dbt_results_of_a_run_are_found_and_read(tmp_path: Path) -> None:
    target = tmp_path / "target"
    write_invocation(
        target / "eduq_dbt_models-1a2b3c4-aaaaaaa",
        {
            "model.eduq.fct_shnor_list": "success",
            "test.eduq.no_severe": "fail",
            "test.eduq.soft_check": "warn",
        },
    )
    assert (
        find_invocation_dir(target, "1a2b3c4d-0000") == target / "eduq_dbt_models-1a2b3c4-aaaaaaa"
    )
    assert find_invocation_dir(target, "ffffffff-0000") is None
    results = {r.name: r for r in read_invocation(target / "eduq_dbt_models-1a2b3c4-aaaaaaa")}
    assert {n: (r.level, r.status, r.asset) for n, r in results.items()} == {
        "fct_shnor_list": ("error", "passed", "marts/fct_shnor_list"),
        "no_severe": ("error", "failed", "marts/fct_shnor_list"),
        "soft_check": ("warning", "failed", "marts/fct_shnor_list"),
        "forgotten": (
            "error",
            "not_run",
            "marts/fct_shnor_list",
        ),  # in the project, not in the build
        "rule": ("error", "skipped", "marts/fct_shnor_list"),  # a unit test left out of the build
    }


def test_audit_fails_on_a_failed_dbt_test_saves_its_rows_and_binds_to_the_hash(
    settings, tmp_path
) -> None:
    folder = write_invocation(
        tmp_path / "t",
        {
            "model.eduq.fct_shnor_list": "success",
            "test.eduq.no_severe": "fail",
            "test.eduq.soft_check": "warn",
            "test.eduq.forgotten": "pass",
        },
    )
    record = run_audit(settings, "build-1", read_invocation(folder), run_id="run-1")
    assert not record.passed
    assert [c.key for c in record.errors] == ["dbt__no_severe"]
    assert [c.key for c in record.warnings] == ["dbt__soft_check"]
    rows = pd.read_parquet(
        settings.warehouse_dir / "audit" / "build-1" / record.errors[0].failing_rows_file
    )
    assert rows.values.tolist() == [["sch000003", 2025]]
    assert record.candidate_sha256 == sha256_file(settings.candidate_db)
    assert read_record(settings, "build-1").to_json() == record.to_json()
    assert find_passed_audit(settings, record.candidate_sha256) is None
    # the GX suites ran too, and the row count of every table is recorded
    assert any(c.source == "gx" for c in record.checks)
    assert record.table_rows["marts.fct_shnor_list"] == 6


def test_audit_passes_when_every_error_level_check_passes(settings, tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(
        "gate.audit.gx_outcomes", lambda *args, **kwargs: []
    )  # GX: see the test above
    folder = write_invocation(
        tmp_path / "t",
        {
            "model.eduq.fct_shnor_list": "success",
            "test.eduq.no_severe": "pass",
            "test.eduq.soft_check": "pass",
            "test.eduq.forgotten": "pass",
        },
    )
    record = run_audit(settings, "build-2", read_invocation(folder))
    assert record.passed, record.describe_failures()
    assert find_passed_audit(settings, sha256_file(settings.candidate_db)).build_id == "build-2"


def test_audit_without_dbt_results_fails(settings, monkeypatch) -> None:
    monkeypatch.setattr("gate.audit.gx_outcomes", lambda *args, **kwargs: [])
    record = run_audit(settings, "build-3", None)
    assert not record.passed
    assert [c.key for c in record.errors] == ["dbt_build_results"]
    assert "same run as the dbt build" in record.describe_failures()
