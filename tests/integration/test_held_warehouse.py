"""A night that finds the candidate warehouse held open by another process (an analyst's DuckDB
session on candidate.duckdb instead of the serving file): the load waits EDUQ_LOCK_WAIT_SECONDS,
then the run changes nothing, names the holder and exits with 75 («try again later»), as when
another eduq writer holds the home; the delivered file waits for the next night."""

from __future__ import annotations

import pytest

from tests.held_file import held
from tests.integration.test_gates_support import (
    REGISTRY_HEADER,
    copy_home,
    registry_row,
    serving_build,
    write_csv,
)

pytestmark = pytest.mark.integration


def test_a_night_that_finds_the_candidate_held_open_changes_nothing_and_exits_75(
    small_region, tmp_path, monkeypatch, capsys
) -> None:
    from orchestration.cli import EXIT_LOCKED, main

    settings = copy_home(small_region.settings, tmp_path / "home", monkeypatch)
    monkeypatch.setenv("EDUQ_LOCK_WAIT_SECONDS", "0.5")
    build_before = serving_build(settings)
    model = registry_row(settings, 2024)
    delivered = write_csv(
        settings.landing_dir / "schools" / "schools_2024_addition.csv",
        REGISTRY_HEADER,
        [
            [
                model["school_id"][:-3] + "997",
                "МБОУ «Новая школа»",
                model["municipality_code"],
                model["municipality_name"],
                "город",
                0,
            ]
        ],
    )
    candidate = settings.candidate_db.read_bytes()
    with held(settings.candidate_db, "read") as holder:
        code = main(["run"])
    out, err = capsys.readouterr()
    assert code == EXIT_LOCKED, out + err
    assert "is held open by another process (" in err and f"(PID {holder.pid}))" in err
    assert "waited 0.5 s, EDUQ_LOCK_WAIT_SECONDS" in err and "Traceback" not in out + err
    assert serving_build(settings) == build_before
    assert settings.candidate_db.read_bytes() == candidate
    assert delivered.exists()  # left for the next night
