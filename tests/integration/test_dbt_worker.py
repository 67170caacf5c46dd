"""dbt's worker process (orchestration/dbt_worker.py): a build made there is the build made in the
caller's process — the same nodes with the same outcomes, the same notes, the same marts, the
same artifacts — and the caller hears every node as it finishes; a worker that ends during a build
fails that build with words and the next build is made; the worker never outlives its caller."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from orchestration import dbt_worker
from orchestration.dbt_build import DbtBuildError, NodeEvent, run_build
from tests.integration.test_delivery_shapes import _settings

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
LIST = ["+fct_shnor_list"]  # the list and everything it is computed from (models and their tests)


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A warehouse with the seeds and a 24-school region's files loaded, not built."""
    from ingestion.loader import ingest_all
    from ingestion.warehouse import connect
    from synthetic import generate_region
    from tests.dbt_inprocess import seeded_warehouse

    home = tmp_path_factory.mktemp("worker_region")
    generate_region(home / "landing", seed=11, schools=24, years=(2022, 2023))
    settings = _settings(home, home / "landing")
    settings.ensure_dirs()
    seeded_warehouse(settings.candidate_db)
    with connect(settings.candidate_db) as con:
        ingest_all(con, settings, run_id="worker")
    return settings.candidate_db


def _home(loaded: Path, tmp_path: Path, name: str):
    settings = _settings(tmp_path / name, tmp_path / name / "landing")
    settings.ensure_dirs()
    shutil.copyfile(loaded, settings.candidate_db)
    return settings


def _rows(db: Path, models: list[str]) -> dict[str, list[tuple]]:
    """Every row of the models built, but when and by which dbt invocation (timestamp columns,
    int_result_key_checks.checked_by_invocation)."""
    with duckdb.connect(str(db), read_only=True) as con:
        columns: dict[str, tuple[str, list[str]]] = {}
        for schema, table, column, kind in con.execute(
            "select table_schema, table_name, column_name, data_type from information_schema.columns "
            "where table_catalog = current_database() order by ordinal_position"
        ).fetchall():
            if not kind.startswith("TIMESTAMP") and column != "checked_by_invocation":
                columns.setdefault(table, (schema, []))[1].append(f'"{column}"')
        return {
            m: con.execute(
                f"select {', '.join(columns[m][1])} from {columns[m][0]}.{m} order by all"
            ).fetchall()
            for m in models
        }


def _outcomes(target: Path) -> list[tuple[str, str, object]]:
    results = json.loads((target / "run_results.json").read_text())["results"]
    return sorted((r["unique_id"], r["status"], r["failures"]) for r in results)


def test_a_build_in_the_worker_is_the_build_made_here(
    loaded: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    heard: list[NodeEvent] = []
    assert dbt_worker.start()
    worker = dbt_worker.ready_worker()
    assert worker is not None, "the worker imported dbt"
    there_home, here_home = _home(loaded, tmp_path, "there"), _home(loaded, tmp_path, "here")
    there = run_build(
        there_home,
        "aaaaaaa1-0000-4000-8000-000000000001",
        select=LIST,
        on_node=heard.append,
    )
    with monkeypatch.context() as patched:
        patched.setattr(dbt_worker, "ready_worker", lambda: None)
        here = run_build(here_home, "aaaaaaa2-0000-4000-8000-000000000002", select=LIST)
    assert len(there.nodes) == len(here.nodes) > 20
    assert heard == there.nodes, "the caller heard every node, as it finished"
    key = lambda n: (n.unique_id, n.resource_type, n.name, n.status, n.failures)
    assert sorted(map(key, there.nodes)) == sorted(map(key, here.nodes))
    assert all(n.status in ("success", "pass") for n in there.nodes), [
        (n.name, n.status, n.message) for n in there.nodes if n.status not in ("success", "pass")
    ]
    assert there.notes == here.notes
    assert _outcomes(there.target_dir) == _outcomes(here.target_dir)
    assert (there.target_dir / "manifest.json").exists()
    tables = sorted(n.name for n in there.nodes if n.resource_type == "model")
    assert {"fct_shnor_list", "fct_procedure_results", "int_procedure_counts"} <= set(tables)
    there_rows = _rows(there_home.candidate_db, tables)
    assert there_rows["fct_shnor_list"], "the region has a list"
    assert there_rows == _rows(here_home.candidate_db, tables)
    # built again (incremental models say which years they count again): the notes come back
    there_again = run_build(there_home, "aaaaaaa5-0000-4000-8000-000000000005")
    with monkeypatch.context() as patched:
        patched.setattr(dbt_worker, "ready_worker", lambda: None)
        here_again = run_build(here_home, "aaaaaaa6-0000-4000-8000-000000000006")
    assert there_again.notes == here_again.notes and there_again.notes, (
        "the models' notes came back"
    )
    assert dbt_worker.ready_worker() is worker, "one worker serves the process's builds"


def test_a_worker_that_ends_during_a_build_fails_it_with_words_and_the_next_build_is_made(
    loaded: Path, tmp_path: Path
) -> None:
    assert dbt_worker.start()
    worker = dbt_worker.ready_worker()
    assert worker is not None

    def end_worker(node: NodeEvent) -> None:
        # ended mid-build (SIGTERM: a SIGKILL, the OOM killer's, leaves dbt's multiprocessing locks
        # to the resource tracker, which warns of them at this process's exit)
        if worker.process.is_alive():
            os.kill(worker.process.pid, signal.SIGTERM)

    with pytest.raises(DbtBuildError, match="worker process ended during the build"):
        run_build(
            _home(loaded, tmp_path, "killed"),
            "aaaaaaa3-0000-4000-8000-000000000003",
            select=LIST,
            on_node=end_worker,
        )
    assert dbt_worker.ready_worker() is None, "the dead worker is not asked again"
    after = run_build(
        _home(loaded, tmp_path, "after"),
        "aaaaaaa4-0000-4000-8000-000000000004",
        select=["stg_registry__schools"],
    )
    assert after.nodes and all(n.status in ("success", "pass") for n in after.nodes)
    assert dbt_worker.start()  # the process's next runs have a worker again


_CALLER = """
import sys, time
sys.path.insert(0, {root!r})
from orchestration import dbt_worker

if __name__ == "__main__":
    assert dbt_worker.start()
    print(dbt_worker._shared["worker"].process.pid, flush=True)
    time.sleep(120)
"""


def test_the_worker_ends_when_its_caller_is_killed(tmp_path: Path) -> None:
    """Killed while the worker imports dbt (the kernel's signal on its caller's death and the
    worker's own watch do not depend on what the worker is doing; a worker that has imported dbt
    costs make test ~3 s of CPU more)."""
    script = tmp_path / "caller.py"
    script.write_text(
        _CALLER.format(root=str(ROOT)).replace(
            "    time.sleep(120)",
            "    print('ready', flush=True)\n    time.sleep(120)",
        )
    )
    caller = subprocess.Popen(
        [sys.executable, str(script)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
    )
    try:
        pid = int(caller.stdout.readline())
        assert caller.stdout.readline().strip() == "ready"
        os.kill(caller.pid, signal.SIGKILL)
        caller.wait(timeout=10)
        deadline = time.monotonic() + 3
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _alive(pid), "the worker outlived its killed caller"
    finally:
        if caller.poll() is None:
            caller.kill()


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"  # a zombie has ended (its parent, init here, reaps it)
