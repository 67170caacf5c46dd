from __future__ import annotations

import dataclasses
import logging
import os
import pickle
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import duckdb
import pandas as pd
import pytest

from core.settings import Settings, load_settings
from orchestration.cli import _output_to
from tests.integration import expected


@dataclass
class BuiltRegion:
    settings: Settings
    landing_copy: Path  # the generated files as delivered (landing files are moved to the archive)
    summary: object
    instance: dg.DagsterInstance
    expected_counts: dict[str, int]
    expected_results: pd.DataFrame
    # the Dagster events of the build are in `instance` (False: a copy of a region built by another
    # pytest-xdist worker, with a new instance; see small_region)
    build_events: bool = True


def build_region(
    tmp: Path, monkeypatch: pytest.MonkeyPatch, *, schools: int, years: tuple[int, ...], seed: int
) -> BuiltRegion:
    from orchestration.runner import run_pipeline
    from synthetic import generate_region

    home = tmp / "home"
    monkeypatch.setenv("EDUQ_HOME", str(home))
    monkeypatch.setenv("EDUQ_TODAY", f"{max(years) + 1}-11-01")
    monkeypatch.delenv("EDUQ_METHODOLOGY_PROFILE", raising=False)
    settings = load_settings()
    generate_region(settings.landing_dir, seed=seed, schools=schools, years=years)
    copy = tmp / "delivered"
    shutil.copytree(settings.landing_dir, copy)
    counts = expected.count_rows(copy)
    results = expected.procedure_counts(copy)
    instance = dg.DagsterInstance.ephemeral()
    # as `eduq run` does: dbt's and Dagster's output and the log records (from INFO) in the run's log,
    # which tests/integration/test_personal_data.py scans for participant codes
    (home / "logs").mkdir(parents=True)
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.INFO)
    try:
        with _output_to(home / "logs" / "run-region.log"):
            summary = run_pipeline(settings, instance=instance)
    finally:
        root.setLevel(level)
    return BuiltRegion(settings, copy, summary, instance, counts, results)


SMALL_REGION = {"schools": 60, "years": (2022, 2023, 2024), "seed": 7}
# the unit of work (tests/conftest.py) whose process builds the small region under pytest-xdist: it
# holds the modules that read the Dagster events of the build; the other workers copy the region
BUILDER_SCOPE = "tests/integration/test_gates.py"
_requesting: list[str] = [""]  # the test being set up in this process (pytest_runtest_setup)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    _requesting[0] = item.nodeid


@pytest.fixture(scope="session")
def small_region(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    """A region of 60 schools built by the whole pipeline, once per `make test`: the pytest-xdist
    worker that runs BUILDER_SCOPE's unit builds it and leaves a copy as it was built (before any
    test runs again on it); another worker waits for that copy and works on a copy of its own, with
    a new Dagster instance (`build_events` False). Without xdist, or when no process will build it,
    the process builds it itself."""
    monkeypatch = pytest.MonkeyPatch()
    try:
        shared = _shared_region_dir(tmp_path_factory)
        if shared is not None and not _builds_here(request.session) and _wait_for(shared):
            yield _copied_region(shared / "built", tmp_path_factory.mktemp("region"), monkeypatch)
            return
        try:
            region = build_region(tmp_path_factory.mktemp("region"), monkeypatch, **SMALL_REGION)
            if shared is not None:
                _leave_copy(region, shared)
        except BaseException:
            if shared is not None:
                shared.mkdir(parents=True, exist_ok=True)
                (shared / "failed").touch()  # another worker waiting builds it itself
            raise
        yield region
    finally:
        monkeypatch.undo()


def _shared_region_dir(tmp_path_factory: pytest.TempPathFactory) -> Path | None:
    """Under pytest-xdist, a folder the workers of this session share (their base temporary folders'
    parent); else None."""
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        return None
    return tmp_path_factory.getbasetemp().parent / "small_region"


def _builds_here(session: pytest.Session) -> bool:
    """This process builds the region when it runs BUILDER_SCOPE's unit, or when no test of that
    unit that uses the region was collected (no other process will build it)."""
    from tests.conftest import scope_of

    if scope_of(_requesting[0]) == BUILDER_SCOPE:
        return True
    return not any(
        scope_of(item.nodeid) == BUILDER_SCOPE
        and "small_region" in getattr(item, "fixturenames", ())
        for item in session.items
    )


def _wait_for(shared: Path, timeout: float = 900.0) -> bool:
    """True once the builder's copy is there; False when its build failed or took too long."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if (shared / "built").is_dir():
            return True
        if (shared / "failed").exists():
            return False
        time.sleep(0.2)
    return False


def _leave_copy(region: BuiltRegion, shared: Path) -> None:
    """The built region's home, its delivered files and what the fixture computed, for the other
    workers (written aside, then renamed: a waiting worker sees all of it or nothing)."""
    staging = shared / f"staging-{os.getpid()}"
    shutil.copytree(region.settings.home, staging / "home", ignore=shutil.ignore_patterns(".lock"))
    shutil.copytree(region.landing_copy, staging / "delivered")
    state = {
        "home": region.settings.home,
        "summary": region.summary,
        "expected_counts": region.expected_counts,
        "expected_results": region.expected_results,
    }
    (staging / "state.pickle").write_bytes(pickle.dumps(state))
    staging.rename(shared / "built")


def _copied_region(built: Path, tmp: Path, monkeypatch: pytest.MonkeyPatch) -> BuiltRegion:
    state = pickle.loads((built / "state.pickle").read_bytes())
    shutil.copytree(built / "home", tmp / "home")
    shutil.copytree(built / "delivered", tmp / "delivered")
    monkeypatch.setenv("EDUQ_HOME", str(tmp / "home"))
    monkeypatch.setenv("EDUQ_TODAY", f"{max(SMALL_REGION['years']) + 1}-11-01")
    monkeypatch.delenv("EDUQ_METHODOLOGY_PROFILE", raising=False)
    settings = load_settings()
    return BuiltRegion(
        settings,
        tmp / "delivered",
        _rebased(state["summary"], state["home"], settings.home),
        dg.DagsterInstance.ephemeral(),
        state["expected_counts"],
        state["expected_results"],
        build_events=False,
    )


def _rebased(value, old: Path, new: Path):
    """``value`` (a dataclass, a path, a text, a list, a tuple, a dict or anything else) with every
    path under ``old`` moved under ``new``."""
    if isinstance(value, Path):
        return new / value.relative_to(old) if value.is_relative_to(old) else value
    if isinstance(value, str):  # (the lines that name a published file)
        return value.replace(str(old), str(new))
    if isinstance(value, list | tuple):
        return type(value)(_rebased(item, old, new) for item in value)
    if isinstance(value, dict):
        return {key: _rebased(item, old, new) for key, item in value.items()}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        changes = {
            f.name: _rebased(getattr(value, f.name), old, new)
            for f in dataclasses.fields(value)
            if f.init
        }
        return dataclasses.replace(value, **changes)
    return value


@dataclass
class RegionDocuments:
    publication: object  # orchestration.runner.PublicationSummary
    build_id: str  # the serving warehouse's build they were published from


@pytest.fixture(scope="session")
def region_documents(small_region: BuiltRegion):
    """The regional report and the school cards of the region's latest list year, published by the
    job publish_list as `eduq run --documents` and `eduq publish` do (the list and the marts files
    are unchanged by it). Rendering them costs ~8 s: only the worker running the modules that read
    them pays it (tests/conftest.py runs those modules on one worker, with test_gates.py whose
    failed run copies the region with its documents). Other modules on that worker
    may have run again on the region's home before: they are published from its serving warehouse
    as it is then (its build is returned with them)."""
    from orchestration.runner import publish

    settings = small_region.settings
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.INFO)
    try:
        with _output_to(settings.home / "logs" / "run-documents.log"):
            publication = publish(
                settings, small_region.summary.list_year, instance=small_region.instance
            )
    finally:
        root.setLevel(level)
    with duckdb.connect(str(settings.serving_db), read_only=True) as con:
        build_id = con.execute("select build_id from audit.build").fetchone()[0]
    return RegionDocuments(publication, build_id)
