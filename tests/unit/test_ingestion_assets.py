"""The ingestion assets report rejected files and quarantined rows as WARN checks: the run
succeeds (bad input is normal) but is not a silent success."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest

from tests.fixtures.ingestion.harness import Region


@pytest.fixture()
def bare(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Region]:
    r = Region(tmp_path, monkeypatch)
    r.close()  # the assets open the warehouse themselves
    yield r


def _checks(result: dg.ExecuteInProcessResult) -> dict[tuple[str, str], tuple[bool, str, dict]]:
    found = {}
    for event in result.get_asset_check_evaluations():
        found[(event.asset_key.to_user_string(), event.check_name)] = (
            event.passed,
            event.severity.value,
            {k: v.value for k, v in event.metadata.items()},
        )
    return found


def test_rejections_and_quarantine_are_visible_as_warn_checks(bare: Region) -> None:
    from orchestration.assets.ingestion import landing_survey, source_assets
    from orchestration.resources import EduqResource

    for name in (
        "schools_2024.csv",
        "school_codes.csv",
        "ВПР_2024_участники_Кировский.csv",
        "empty.csv",
        "vpr_results_header_only.csv",
    ):
        bare.deliver(name)
    wanted = {"raw/schools", "raw/school_codes", "raw/school_successors", "raw/vpr_results"}
    assets = [landing_survey, *[a for a in source_assets() if a.key.to_user_string() in wanted]]
    result = dg.materialize(
        assets, instance=dg.DagsterInstance.ephemeral(), resources={"eduq": EduqResource()}
    )
    assert result.success
    checks = _checks(result)
    assert checks[("raw/landing_survey", "no_rejected_files")][:2] == (False, "WARN")
    assert (
        checks[("raw/landing_survey", "no_rejected_files")][2]["files_rejected"] == 1
    )  # empty.csv

    passed, severity, meta = checks[("raw/vpr_results", "no_rejected_files")]
    assert (passed, severity, meta["files_rejected"]) == (False, "WARN", 1)  # the header-only file
    assert "vpr_results_header_only.csv" in meta["rejected"]

    passed, severity, meta = checks[("raw/vpr_results", "no_quarantined_rows")]
    assert (passed, severity, meta["rows_quarantined"], meta["rows_read"]) == (False, "WARN", 7, 11)
    assert "total_row: 1 rows" in meta["by_reason"]

    assert checks[("raw/schools", "no_quarantined_rows")][:2] == (True, "WARN")
    assert checks[("raw/schools", "no_rejected_files")][:2] == (True, "WARN")
    materialised = result.asset_materializations_for_node("raw__vpr_results")
    assert materialised[0].metadata["rows_loaded"].value == 4
