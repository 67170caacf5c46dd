"""An incomplete year does not stop the region (issue 9, point 9): a registry addition lists a school
with pupils whose 2024 results have not arrived. Nothing proves a value false, so the nightly run
promotes the new build (the completeness is visible in its marts), reports INCOMPLETE rather than
failed (exit code 0), refuses only the list built on the incomplete results year, naming what is
missing, and the earlier complete list still publishes."""

from __future__ import annotations

import duckdb
import pytest

from tests.integration.test_gates_support import (
    REGISTRY_HEADER,
    copy_home,
    registry_row,
    serving_build,
    snapshot,
    write_csv,
)

pytestmark = pytest.mark.integration


def test_an_incomplete_year_is_promoted_reported_and_blocks_only_its_own_list(
    small_region, tmp_path, monkeypatch, capsys
) -> None:
    from orchestration.cli import main

    settings = copy_home(small_region.settings, tmp_path / "home", monkeypatch)
    build_before = serving_build(settings)
    v1_2025 = snapshot(settings.publications_dir / "2025" / "v1")
    model = registry_row(settings, 2024)
    late = model["school_id"][:-3] + "998"
    write_csv(
        settings.landing_dir / "schools" / "schools_2024_late.csv",
        REGISTRY_HEADER,
        [
            [
                late,
                "МБОУ «Школа без результатов»",
                model["municipality_code"],
                model["municipality_name"],
                "город" if model["locality"] == "urban" else "село",
                120,
            ]
        ],
    )

    code = main(["run"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert out.rstrip().endswith("— INCOMPLETE")
    assert "INCOMPLETE:" in out and "2025" in out
    # promoted: the serving warehouse is the new, audited build, with the completeness visible
    assert serving_build(settings) != build_before
    with duckdb.connect(str(settings.serving_db), read_only=True) as con:
        passed = con.execute("select passed from audit.build").fetchone()[0]
        missing = con.execute(
            """select count(*) from marts.fct_delivery_completeness
               where year = 2024 and not is_complete and municipality_code = ?""",
            [model["municipality_code"]],
        ).fetchone()[0]
        list_2025 = con.execute(
            "select is_computable, is_publishable from marts.dim_list_year where list_year = 2025"
        ).fetchone()
        list_2024 = con.execute(
            "select is_computable, is_publishable from marts.dim_list_year where list_year = 2024"
        ).fetchone()
    assert passed and missing > 0
    assert list_2025 == (True, False)  # computed, not publishable: its results year is incomplete
    assert list_2024 == (True, True)
    # nothing of the 2025 list changed; asking for it says what is missing
    assert snapshot(settings.publications_dir / "2025" / "v1") == v1_2025
    assert not (settings.publications_dir / "2025" / "v2").exists()
    assert main(["publish", "--year", "2025"]) == 2
    refusal = capsys.readouterr().err
    assert "2024" in refusal and late in refusal
    # the earlier, complete list is published from the promoted build (its report and cards are
    # rendered in tests/integration/conftest.py region_documents)
    assert main(["publish", "--year", "2024", "--no-documents"]) == 0
    assert (settings.publications_dir / "2024" / "v1" / "manifest.json").exists()
    assert not (settings.publications_dir / "2024" / "cards").exists()
