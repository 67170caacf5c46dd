"""`kill -9` of Dagster-launched runs of eduq's jobs (nightly_load, then publish_list, as the schedule
and the sensors start them) at seeded random points, the invariants checked after each kill, each
group of nights resumed to completion and compared with a clean `eduq run` byte for byte
(tests/reliability/dagster_kill.py). Minutes long: `make reliability`, not make test.

EDUQ_DAGSTER_KILLS (default 12) and EDUQ_DAGSTER_KILL_SEED (default 1) choose the campaign."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.reliability.dagster_kill import dagster_campaign

pytestmark = pytest.mark.reliability


def test_kill_9_of_dagster_runs_at_random_points_loses_nothing(tmp_path: Path) -> None:
    kills = int(os.environ.get("EDUQ_DAGSTER_KILLS", "12"))
    seed = int(os.environ.get("EDUQ_DAGSTER_KILL_SEED", "1"))
    report = dagster_campaign(tmp_path, seed=seed, kills=kills)
    print(report.render())
    assert not report.failures, report.render()
    assert sum(report.kills.values()) >= kills
    assert report.completed_groups == report.identical_groups >= 1
    # after every kill of a run that held the lock (one killed while winding down had released it)
    assert report.stale_locks_cleared == sum(report.kills.values()) - report.killed_after_release
    if kills >= 10:  # both jobs were hit (seeded)
        assert set(report.kills) & {"load", "dbt", "audit", "promote"}
        assert set(report.kills) & {
            "publish_marts",
            "publish_report",
            "publish_cards",
            "publish_list",
        }
