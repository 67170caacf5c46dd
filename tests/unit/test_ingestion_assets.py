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


def test_rejections_and_quarantine_are_visible_as_warn_checks(
    bare: Region, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each check also says in words what was rejected or quarantined (its description and
    ``message`` metadata), and the audit picks that up: no «no_quarantined_rows:» with nothing
    after the colon. The load writes through the loader's connection (no row groups merged when
    it checkpoints: ingestion.warehouse.connect_for_loading)."""
    import orchestration.assets.ingestion as assets_module
    from orchestration.assets.ingestion import ingestion_assets
    from orchestration.assets.publication import other_checks_of_run
    from orchestration.resources import EduqResource

    merges: list[int] = []
    loading_connection = assets_module.connect_for_loading

    def recording(path: Path, settings: object) -> object:
        con = loading_connection(path, settings)
        merges.append(con.execute("select current_setting('max_vacuum_tasks')").fetchone()[0])
        return con

    monkeypatch.setattr(assets_module, "connect_for_loading", recording)

    for name in (
        "schools_2024.csv",
        "school_codes.csv",
        "ВПР_2024_участники_Кировский.csv",
        "empty.csv",
        "vpr_results_header_only.csv",
    ):
        bare.deliver(name)
    wanted = {"raw/schools", "raw/school_codes", "raw/school_successors", "raw/vpr_results"}
    instance = dg.DagsterInstance.ephemeral()
    selection = [dg.AssetKey(["raw", "landing_survey"])] + [
        dg.AssetKey(k.split("/")) for k in sorted(wanted)
    ]
    result = dg.materialize(
        [ingestion_assets()],
        instance=instance,
        resources={"eduq": EduqResource()},
        selection=selection,
    )
    assert result.success
    assert merges == [0]  # one connection for the whole load, merging off
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
    materialised = [
        m
        for m in result.asset_materializations_for_node("ingestion")
        if m.asset_key == dg.AssetKey(["raw", "vpr_results"])
    ]
    assert materialised[0].metadata["rows_loaded"].value == 4

    words = {
        (e.asset_key.to_user_string(), e.check_name): (e.description, e.metadata["message"].value)
        for e in result.get_asset_check_evaluations()
    }
    quarantined = (
        "7 rows of 1 file quarantined: 1 above_max, 1 below_min, 1 duplicate_row, 1 future_year, "
        "1 not_data, 1 total_row, 1 unknown_school — see raw._quarantine (file, row, column, "
        "value, reason)"
    )
    assert words[("raw/vpr_results", "no_quarantined_rows")] == (quarantined, quarantined)
    survey_rejected = (
        "1 file rejected: empty.csv: the file is empty (0 bytes) — each waits in "
        "landing/rejected/ with <name>.reason.txt; fix it and drop it into the landing folder again"
    )
    assert words[("raw/landing_survey", "no_rejected_files")] == (survey_rejected, survey_rejected)
    assert words[("raw/vpr_results", "no_rejected_files")][0] == (
        "1 file rejected: vpr_results_header_only.csv: the header (row 1) has no data rows below "
        "it: an empty template? Fill it in and resend — each waits in landing/rejected/ with "
        "<name>.reason.txt; fix it and drop it into the landing folder again"
    )
    assert words[("raw/schools", "no_quarantined_rows")][0] == (
        "no row quarantined (6 rows read from 1 file)"
    )
    assert words[("raw/schools", "no_rejected_files")][0] == "no file rejected"
    assert words[("raw/school_successors", "no_quarantined_rows")][0] == (
        "no row quarantined (no new file)"
    )

    audit = {
        o.key: (o.level, o.status, o.message) for o in other_checks_of_run(instance, result.run_id)
    }
    assert audit["dagster__raw__vpr_results__no_quarantined_rows"] == (
        "warning",
        "failed",
        quarantined,
    )
    assert audit["dagster__raw__landing_survey__no_rejected_files"] == (
        "warning",
        "failed",
        survey_rejected,
    )
