from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
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
            summary = run_pipeline(settings, instance=instance, documents=True)
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
