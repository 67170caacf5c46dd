"""A warehouse file held open by another process: eduq waits for it up to EDUQ_LOCK_WAIT_SECONDS
and then says who holds it and what to do, instead of DuckDB's lock error (core.duck.connect); dbt's
build waits and says the same before its first node; `eduq check-files` holds the candidate only
while it copies the codes, and says when a run is writing it."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import duckdb
import pytest

from core import duck
from core.settings import load_settings
from tests.held_file import held


@pytest.fixture()
def warehouse(tmp_path: Path) -> Path:
    path = tmp_path / "candidate.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute("create table t as select 1 as x")
    return path


def _settings(tmp_path: Path, wait: float):
    settings = load_settings({"EDUQ_HOME": str(tmp_path / "home")})
    return dataclasses.replace(settings, lock_wait_seconds=wait)


def test_a_file_held_longer_than_the_wait_is_said_with_its_holder(
    warehouse: Path, tmp_path: Path
) -> None:
    settings = _settings(tmp_path, 0.3)
    with held(warehouse, "read") as holder:
        started = time.monotonic()
        with pytest.raises(duck.WarehouseHeld) as refused:
            duck.connect(warehouse, settings)
        assert time.monotonic() - started >= 0.3
    assert isinstance(refused.value, duckdb.IOException)  # fallbacks for an unreadable file hold
    message = str(refused.value)
    assert f"{warehouse} is held open by another process (" in message
    assert f"(PID {holder.pid}))" in message
    assert "cannot be written now (waited 0.3 s, EDUQ_LOCK_WAIT_SECONDS)" in message
    assert "serving.duckdb" in message
    with held(warehouse, "write"), pytest.raises(duck.WarehouseHeld, match="cannot be read now"):
        duck.connect(warehouse, settings, read_only=True)


def test_a_file_released_within_the_wait_is_opened(warehouse: Path, tmp_path: Path) -> None:
    with (
        held(warehouse, "read", seconds=0.5),
        duck.connect(warehouse, _settings(tmp_path, 30)) as con,
    ):
        assert con.execute("select x from t").fetchall() == [(1,)]


def test_connections_without_settings_and_other_errors_are_not_waited_for(
    warehouse: Path, tmp_path: Path
) -> None:
    with held(warehouse, "read"):
        started = time.monotonic()
        with pytest.raises(duck.WarehouseHeld, match="cannot be written now. Close"):
            duck.connect(warehouse)  # no settings: said at once
        assert time.monotonic() - started < 5
    damaged = tmp_path / "damaged.duckdb"
    damaged.write_bytes(b"not a database, " * 1000)
    with pytest.raises(duckdb.Error) as failed:
        duck.connect(damaged, _settings(tmp_path, 30))
    assert not isinstance(failed.value, duck.WarehouseHeld)


def test_the_dbt_build_waits_for_the_candidate_before_its_first_node(tmp_path: Path) -> None:
    from orchestration.dbt_build import run_build

    settings = _settings(tmp_path, 0.2)
    settings.ensure_dirs()
    with duckdb.connect(str(settings.candidate_db)):
        pass
    with (
        held(settings.candidate_db, "read"),
        pytest.raises(duck.WarehouseHeld, match="cannot be written now"),
    ):
        run_build(settings, "held")
