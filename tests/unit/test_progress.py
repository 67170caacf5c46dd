"""The progress lines of `eduq run`: stages, files and rows loaded with a rate, and an estimate of
the time left that rests on the loading so far (never on the run's start-up, never on a first tiny
file)."""

from __future__ import annotations

import io
import logging

import pytest

from core import progress


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def rendered(monkeypatch: pytest.MonkeyPatch):
    clock = Clock()
    monkeypatch.setattr(progress.time, "perf_counter", clock)
    out = io.StringIO()
    handler = progress.show_on(out)
    try:
        yield clock, out
    finally:
        progress.hide(handler)
        logging.getLogger("eduq.progress").setLevel(logging.NOTSET)


def test_the_estimate_waits_for_enough_loading_and_ignores_start_up(rendered) -> None:
    clock, out = rendered
    progress.stage("загрузка")
    clock.now += 5.0  # start-up before the survey: must not count as loading time
    progress.files_to_load(3, 100_000_000)
    clock.now += 0.1
    progress.file_loaded("small.csv", "schools", 1_000_000, 500, 0.1)  # 1% after 0.1 s: no estimate
    clock.now += 4.9
    progress.file_loaded("big.csv", "vpr_results", 49_000_000, 400_000, 4.9)  # 50% after 5 s
    clock.now += 5.0
    progress.file_loaded("last.csv", "gia_results", 50_000_000, 400_000, 5.0)  # all of it
    lines = out.getvalue().splitlines()
    assert lines[0].endswith("загрузка")
    small, big, last = (line for line in lines if line.startswith("  loading:"))
    assert small == "  loading: 1/3 files, 500 rows, 5,000 rows/s, 1% of 100 MB"
    # 50% of the bytes in 5 s of loading: about 5 s left (the 5 s of start-up are not extrapolated)
    assert big == "  loading: 2/3 files, 400,500 rows, 80,100 rows/s, 50% of 100 MB, about 5 s left"
    assert last == "  loading: 3/3 files, 800,500 rows, 80,050 rows/s, 100% of 100 MB"


def test_a_slow_start_gets_an_estimate_after_three_seconds(rendered) -> None:
    clock, out = rendered
    progress.files_to_load(2, 1_000_000_000)
    clock.now += 4.0
    progress.file_loaded("a.csv", "vpr_results", 20_000_000, 100_000, 4.0)  # 2% after 4 s
    line = out.getvalue().splitlines()[-1]
    assert line.endswith("2% of 1000 MB, about 3.3 min left")


def test_dbt_progress_in_a_log_is_a_line_at_each_quarter(rendered) -> None:
    _clock, out = rendered
    for done in range(1, 9):
        progress.nodes_done(done, 8, f"model_{done}")
    assert out.getvalue().splitlines() == [
        f"  dbt build: {done}/8 nodes (model_{done})" for done in (2, 4, 6, 8)
    ]
