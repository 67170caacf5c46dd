"""The region of seed 003 (tests/report/seed003.py), built once for the report's end-to-end tests
(`make test-report`): the pipeline loads it, audits and promotes it, and the report of the list
year 2023 — the year of the seed — is published from it."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from core.settings import Settings, load_settings


@dataclass
class Seed003Region:
    settings: Settings
    report: Path  # publications/2023/report/v1
    schools: list


@pytest.fixture(scope="session")
def seed003_region(tmp_path_factory: pytest.TempPathFactory) -> Seed003Region:
    import dagster as dg

    from orchestration.runner import run_pipeline
    from publishing.report.publish import publish_report
    from tests.report import seed003

    monkeypatch = pytest.MonkeyPatch()
    try:
        home = tmp_path_factory.mktemp("seed003") / "home"
        monkeypatch.setenv("EDUQ_HOME", str(home))
        monkeypatch.setenv("EDUQ_TODAY", "2024-03-16")
        monkeypatch.delenv("EDUQ_METHODOLOGY_PROFILE", raising=False)
        settings = load_settings()
        schools = seed003.write(settings.landing_dir)
        run_pipeline(settings, instance=dg.DagsterInstance.ephemeral(), quiet=True)
        result = publish_report(settings, 2023)
        yield Seed003Region(settings, result.directory, schools)
    finally:
        monkeypatch.undo()


def require_tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(
            f"{name} is not installed: run `make setup-report` (scripts/install_report_tools.sh)"
        )
    return path
