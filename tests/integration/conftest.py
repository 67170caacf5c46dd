from __future__ import annotations

import logging
import shutil
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


@pytest.fixture(scope="session")
def small_region(tmp_path_factory: pytest.TempPathFactory) -> BuiltRegion:
    monkeypatch = pytest.MonkeyPatch()
    try:
        yield build_region(
            tmp_path_factory.mktemp("region"),
            monkeypatch,
            schools=60,
            years=(2022, 2023, 2024),
            seed=7,
        )
    finally:
        monkeypatch.undo()


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
