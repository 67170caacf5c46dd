"""dbt unit tests (the formulas at their boundaries) run on an empty warehouse.

dbt needs the parents of a unit-tested model to exist, so the raw schema is created from the
contracts, seeds are loaded and models are built with --empty before `dbt test`.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from ingestion.warehouse import connect, ensure_raw_schema
from orchestration.dbt_project import DBT_PROJECT_DIR

DBT = str(Path(sys.executable).with_name("dbt"))


def _dbt(args: list[str], db: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, EDUQ_DBT_DB_PATH=str(db), DBT_SEND_ANONYMOUS_USAGE_STATS="False")
    return subprocess.run(
        [DBT, *args, "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR),
         "--target-path", str(db.parent / "target")],
        cwd=DBT_PROJECT_DIR, env=env, capture_output=True, text=True, timeout=600,
    )


@pytest.fixture(scope="module")
def empty_warehouse(tmp_path_factory) -> Path:
    db = tmp_path_factory.mktemp("dbt_unit") / "unit.duckdb"
    with connect(db) as con:
        ensure_raw_schema(con)
    for args in (["seed"], ["run", "--empty"]):
        result = _dbt(args, db)
        assert result.returncode == 0, result.stdout + result.stderr
    return db


def test_dbt_unit_tests_pass(empty_warehouse: Path) -> None:
    result = _dbt(["test", "--select", "test_type:unit"], empty_warehouse)
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-2000:]
    done = re.search(r"Done\. PASS=(\d+) WARN=(\d+) ERROR=(\d+)", result.stdout)
    assert done, result.stdout[-2000:]
    passed, _, errors = map(int, done.groups())
    assert passed > 0 and errors == 0
