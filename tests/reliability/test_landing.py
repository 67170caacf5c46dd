"""The landing folder changes during a run: a file still being copied in is not loaded until it is
complete (the ``.part`` convention, or EDUQ_LANDING_SETTLE_SECONDS), and a file whose bytes change
between the survey and the end of its load is not kept and stays for the next run; nothing is lost."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ingestion.loader import load_source, survey_landing
from tests.fixtures.ingestion.harness import CORPUS, Region, open_region


@pytest.fixture()
def region(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Region]:
    yield from open_region(tmp_path, monkeypatch)


def test_a_part_file_waits_until_it_is_renamed(region: Region) -> None:
    part = region.deliver("resource_survey_2024.csv", as_name="resource_survey_2024.csv.part")
    assert region.run().files == []
    assert part.exists()
    final = part.rename(part.with_name("resource_survey_2024.csv"))
    outcome = region.run().outcome("resource_survey_2024.csv")
    assert outcome.status == "loaded" and not final.exists()


def test_a_file_modified_within_the_settle_time_waits(region: Region) -> None:
    region.settings = dataclasses.replace(region.settings, landing_settle_seconds=60)
    fresh = region.deliver("resource_survey_2024.csv")
    assert region.run().files == []
    assert fresh.exists()
    then = time.time() - 120
    os.utime(fresh, (then, then))  # the copy finished two minutes ago
    assert region.run().outcome("resource_survey_2024.csv").status == "loaded"


def test_a_file_replaced_while_it_is_loaded_is_left_for_the_next_run(region: Region) -> None:
    complete = (CORPUS / "resource_survey_2024.csv").read_bytes()
    lines = complete.splitlines(keepends=True)
    path = region.write("resource_survey_2024.csv", b"".join(lines[: len(lines) // 2]))
    survey_landing(region.con, region.settings)  # the survey hashed and queued the first half
    path.write_bytes(complete)  # ... then the rest of the copy arrives before the load reads it
    report = load_source(region.con, region.settings, "resource_survey")
    assert report.files == [] and report.deferred == ["resource_survey_2024.csv"]
    assert path.exists()
    assert region.query("select count(*) from raw.resource_survey") == [(0,)]
    assert region.query("select count(*) from raw._load_log where source = 'resource_survey'") == [
        (0,)
    ]
    # complete now: the next run loads it, once, as it is now
    outcome = region.run().outcome("resource_survey_2024.csv")
    assert outcome.status == "loaded" and not path.exists()
    assert region.query("select file_hash from raw._load_log where source = 'resource_survey'") == [
        (hashlib.sha256(complete).hexdigest(),)
    ]
