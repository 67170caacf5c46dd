"""A damaged serving warehouse (bytes flipped, truncated, replaced by random bytes, or changed by
hand) is never served: every publication compares its SHA-256 with the hash promotion recorded in
serving.json and refuses, naming `eduq rebuild`. A promotion killed between writing that record and
renaming the new file leaves the previous file, which stays servable."""

from __future__ import annotations

import json
import os
import random
from pathlib import Path

import pytest

from core.settings import Settings, load_settings
from gate.errors import PublicationRefused
from gate.promote import promote, serving_integrity
from publishing.publish import publish_list, versions
from tests.unit.test_publishing import LISTED, audit, write_candidate


@pytest.fixture()
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("EDUQ_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("EDUQ_TODAY", "2025-09-01")
    monkeypatch.delenv("EDUQ_METHODOLOGY_PROFILE", raising=False)
    s = load_settings()
    s.ensure_dirs()
    write_candidate(s, LISTED)
    audit(s)
    promote(s)
    return s


def _flip(path: Path) -> None:
    data = bytearray(path.read_bytes())
    rng = random.Random(7)
    for _ in range(16):
        data[rng.randrange(len(data) // 2, len(data))] ^= 0xFF
    path.write_bytes(bytes(data))


def _truncate(path: Path) -> None:
    os.truncate(path, path.stat().st_size // 2)


def _random(path: Path) -> None:
    path.write_bytes(random.Random(3).randbytes(path.stat().st_size))


@pytest.mark.parametrize(
    "damage", [_flip, _truncate, _random], ids=["flipped", "truncated", "random"]
)
def test_a_damaged_serving_file_is_never_published(settings: Settings, damage) -> None:
    assert serving_integrity(settings.serving_db) is None
    damage(settings.serving_db)
    with pytest.raises(
        PublicationRefused, match="is damaged or was changed after promotion"
    ) as refused:
        publish_list(settings, 2025)
    assert "eduq rebuild" in str(refused.value)
    assert versions(settings, 2025) == []


def test_a_serving_file_without_its_promotion_record_is_refused(settings: Settings) -> None:
    (settings.warehouse_dir / "serving.json").unlink()
    with pytest.raises(PublicationRefused, match="has no promotion record"):
        publish_list(settings, 2025)


def test_a_promotion_interrupted_before_its_rename_leaves_a_servable_file(
    settings: Settings,
) -> None:
    """What a kill between the record and the rename leaves: the record names the new build, the
    file in place is the previous one, whose hash the record keeps."""
    state_path = settings.warehouse_dir / "serving.json"
    state = json.loads(state_path.read_text(encoding="utf-8"))
    state["previous_serving_sha256"] = state["serving_sha256"]
    state["serving_sha256"] = "0" * 64  # the file that was about to be renamed into place
    state_path.write_text(json.dumps(state), encoding="utf-8")
    assert serving_integrity(settings.serving_db) is None
    assert publish_list(settings, 2025).status == "published"
