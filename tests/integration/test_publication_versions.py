"""A data correction republishes the list as v2 with the exact diff against v1; v1 is never touched;
publishing the same inputs again changes nothing; the published files can be reproduced byte for byte."""

from __future__ import annotations

import datetime as dt
import json

import duckdb
import pandas as pd
import pytest

from publishing.publish import render_list_files
from publishing.shnor_list import read_list
from publishing.xlsx import DocumentInfo
from tests.integration.test_gates_support import correction_run, snapshot

pytestmark = pytest.mark.integration

SEVERE = "сильно неуспевающие"
LABELS = {"basic": "базово неуспевающие", "moderate": "умеренно неуспевающие", "severe": SEVERE}


@pytest.fixture(scope="module")
def correction(small_region, region_documents, tmp_path_factory):
    return correction_run(small_region, region_documents, tmp_path_factory)


def _csv(path) -> pd.DataFrame:
    return pd.read_csv(path, sep=";", encoding="utf-8-sig", dtype=str, keep_default_na=False)


def test_a_correction_publishes_v2_with_the_exact_diff(correction) -> None:
    publication = correction.summary.publication
    assert (publication.status, publication.version) == ("published", 2)
    v2 = correction.settings.publications_dir / "2025" / "v2"
    assert publication.directory == v2
    assert sorted(p.name for p in v2.iterdir()) == [
        "diff_v1_v2.csv",
        "manifest.json",
        "shnor_list_2025.csv",
        "shnor_list_2025.parquet",
        "shnor_list_2025.xlsx",
    ]
    diff = _csv(v2 / "diff_v1_v2.csv")
    assert diff[
        ["Изменение", "Код ОО (логин ФИС ОКО)", "Кластер (было)", "Кластер (стало)"]
    ].values.tolist() == [
        ["добавлена", correction.added, "", SEVERE],
        ["исключена", correction.removed, _cluster_v1(correction), ""],
        ["изменён кластер", correction.changed, LABELS[correction.changed_from], SEVERE],
    ]
    # the lists themselves say the same, independently of the diff code
    before = set(_csv(correction.v1 / "shnor_list_2025.csv")["Код ОО (логин ФИС ОКО)"])
    after = set(_csv(v2 / "shnor_list_2025.csv")["Код ОО (логин ФИС ОКО)"])
    assert after == (before - {correction.removed}) | {correction.added}
    assert publication.diff == {"added": 1, "removed": 1, "cluster_changed": 1}


def _cluster_v1(correction) -> str:
    v1 = _csv(correction.v1 / "shnor_list_2025.csv")
    return v1.loc[v1["Код ОО (логин ФИС ОКО)"] == correction.removed, "Кластер ФИОКО"].item()


def test_v1_is_never_touched(correction) -> None:
    assert snapshot(correction.v1) == correction.v1_files


def test_v2_manifest_names_the_corrected_inputs_and_the_diff(correction) -> None:
    manifest = json.loads(
        (correction.settings.publications_dir / "2025" / "v2" / "manifest.json").read_text("utf-8")
    )
    assert manifest["version"] == 2 and manifest["previous_version"] == 1
    assert manifest["diff"] == {"added": 1, "removed": 1, "cluster_changed": 1}
    inputs = {i["file_name"]: i["sha256"] for i in manifest["inputs"]}
    assert {name: inputs.get(name) for name in correction.delivered} == correction.delivered
    assert manifest["warehouse"]["build_id"] == correction.build_after
    assert manifest["checks"]["passed"] is True


def test_publishing_the_same_inputs_again_is_unchanged(correction, monkeypatch) -> None:
    from orchestration.runner import publish
    from tests.integration.test_gates_support import new_instance

    monkeypatch.setenv("EDUQ_HOME", str(correction.settings.home))
    before = snapshot(correction.settings.publications_dir)
    # as the correction run did (eduq run publishes the list and the marts files; the report and the
    # cards of the corrected data would be new versions, made by `eduq report` / `eduq card`)
    again = publish(correction.settings, 2025, instance=new_instance(), quiet=True, documents=False)
    assert (again.status, again.version) == ("unchanged", 2)
    assert snapshot(correction.settings.publications_dir) == before


def test_published_list_files_are_reproducible_byte_for_byte(correction) -> None:
    v2 = correction.settings.publications_dir / "2025" / "v2"
    manifest = json.loads((v2 / "manifest.json").read_text("utf-8"))
    with duckdb.connect(str(correction.settings.serving_db), read_only=True) as con:
        table = read_list(con, 2025)
    info = DocumentInfo(
        list_year=2025,
        results_year=2024,
        version=2,
        document_date=dt.date.fromisoformat(manifest["document_date"]),
        profile_name=manifest["methodology"]["profile"],
        profile_version=manifest["methodology"]["version"],
    )
    for name, data in render_list_files(table, info).items():
        assert (v2 / name).read_bytes() == data, name
