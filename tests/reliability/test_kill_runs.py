"""`kill -9` of `eduq run` at ≥ 30 seeded random points (loading, dbt, audit, promotion, publication),
the invariants checked after each kill, and each group of runs resumed to completion compared with a
clean run byte for byte (tests/reliability/kill.py). Minutes long: `make reliability`, not make test.

EDUQ_KILLS (default 30) and EDUQ_KILL_SEED (default 1) choose the campaign; EDUQ_KILL_STAGES (e.g.
``load`` or ``load,promote``) aims it at some stages only."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.reliability.kill import campaign

pytestmark = pytest.mark.reliability


def test_kill_9_at_random_points_loses_nothing(tmp_path: Path) -> None:
    kills = int(os.environ.get("EDUQ_KILLS", "30"))
    seed = int(os.environ.get("EDUQ_KILL_SEED", "1"))
    stages = tuple(s for s in os.environ.get("EDUQ_KILL_STAGES", "").split(",") if s)
    report = campaign(tmp_path, seed=seed, kills=kills, stages=stages)
    print(report.render())
    assert not report.failures, report.render()
    assert sum(report.kills.values()) >= kills
    assert report.completed_groups == report.identical_groups >= 1
    if kills >= 20 and not stages:  # every stage drawn at least once (seeded)
        assert set(report.kills) >= {"load", "dbt", "audit", "promote"}
