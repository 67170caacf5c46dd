"""The parsed dbt project is kept between processes: each `eduq` process used to parse it again
(~4 s); now the first process pickles the Manifest beside
manifest.json, keyed by the project's fingerprint and the dbt versions, and the next load it."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from orchestration import dbt_project

NODES = """
from orchestration import dbt_project as d
print("NODES", len(d.manifest_object().nodes))
"""

WITHOUT_PARSING = """
import sys, tempfile
from pathlib import Path
from orchestration import dbt_project as d
def refuse(*args, **kwargs):
    raise SystemExit("the project was parsed again")
d.parse_into = refuse
manifest = d.manifest_object()
# the loaded project compiles (a model with refs and sources), as a build would
from dbt.cli.main import dbtRunner
work = Path(tempfile.mkdtemp())
d.apply_env({**d.TELEMETRY_OFF, "EDUQ_DBT_DB_PATH": str(work / "w.duckdb")})
result = dbtRunner(manifest=manifest).invoke(
    ["compile", "--quiet", "--select", "fct_shnor_list", "stg_programmes__support_programmes", *d.cli_args(work / "target")]
)
if not result.success:
    raise SystemExit(f"compile failed: {result.exception} {result.result}")
print("NODES", len(manifest.nodes))
"""


def _nodes(run: subprocess.CompletedProcess) -> int:
    assert run.returncode == 0, run.stderr[-2000:]
    return int(run.stdout.rsplit("NODES ", 1)[1])


def _python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=False
    )


def test_a_second_process_loads_the_parsed_project_instead_of_parsing_it() -> None:
    first = _nodes(_python(NODES))
    second = _nodes(_python(WITHOUT_PARSING))
    manifest = json.loads(dbt_project.MANIFEST.read_text(encoding="utf-8"))
    assert second == first == len(manifest["nodes"])


def test_a_damaged_pickle_is_parsed_again(monkeypatch: pytest.MonkeyPatch) -> None:
    manifest = dbt_project.manifest_object()  # this process's: loaded, or parsed once
    fingerprint = dbt_project.project_fingerprint()
    dbt_project._pickle_path(fingerprint).write_bytes(b"not a pickle")
    assert dbt_project._load_pickled(fingerprint) is None
    parses = []

    def parse(target_dir=dbt_project.TARGET_DIR, locked=False):  # the outcome, not its seconds
        parses.append(target_dir)
        return manifest

    monkeypatch.setattr(dbt_project, "parse_into", parse)
    monkeypatch.setattr(dbt_project, "_parsed", {})  # a new process: nothing kept in memory
    assert dbt_project.manifest_object() is manifest
    assert parses == [dbt_project.TARGET_DIR]
    # stored again by the parse, for the next processes
    stored = dbt_project._load_pickled(fingerprint)
    assert stored is not None and stored.nodes.keys() == manifest.nodes.keys()


def test_the_loaded_project_equals_the_parsed_one_field_by_field() -> None:
    """dbt's own pickling of a Manifest shifted its fields by one (a build then failed to compile
    every `ref`): the loaded manifest must hold, in every field, what the parse produced."""
    import dataclasses
    import pickle

    parsed = dbt_project.manifest_object()  # parsed in this process unless already pickled
    loaded = pickle.loads(dbt_project._dumps_manifest(parsed))
    for f in dataclasses.fields(parsed):
        if f.name == "_lock":
            continue
        assert type(getattr(loaded, f.name)) is type(getattr(parsed, f.name)), f.name
    assert loaded.nodes.keys() == parsed.nodes.keys()
    model = "model.eduq.stg_programmes__support_programmes"
    found = loaded.ref_lookup.find("stg_registry__schools", None, None, loaded)
    assert found is not None and found.unique_id == "model.eduq.stg_registry__schools"
    assert loaded.nodes[model].depends_on == parsed.nodes[model].depends_on


def test_a_process_that_waited_for_another_ones_parse_does_not_parse_again(
    monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:
    """Two processes that find the project unparsed (two test workers, `eduq run` beside `dagster
    dev`): the second waits for the target folder's lock, sees the first one's parse and takes it.
    The other process is a thread here: it holds the folder's lock through a file of its own, as a
    process does."""
    import threading
    import time

    from core.dbt_manifest import target_lock

    fingerprint = dbt_project.project_fingerprint()
    target = tmp_path / "target"
    target.mkdir()
    monkeypatch.setattr(dbt_project, "TARGET_DIR", target)
    monkeypatch.setattr(dbt_project, "MANIFEST", target / "manifest.json")
    monkeypatch.setattr(dbt_project, "FINGERPRINT", target / "eduq_project_fingerprint.txt")
    parses = []
    monkeypatch.setattr(dbt_project, "parse_into", lambda *a, **k: parses.append(a) or object())
    monkeypatch.setattr(dbt_project, "_store_pickled", lambda *a: None)
    monkeypatch.setattr(dbt_project, "_parsed", {})  # this process's parses: not the fake one
    seen = []  # what prepare_manifest found: unparsed first (outside the lock), then the parse
    looked = dbt_project.parsed_fingerprint
    monkeypatch.setattr(
        dbt_project, "parsed_fingerprint", lambda: seen.append(looked()) or seen[-1]
    )
    holding = threading.Event()

    def other_process() -> None:  # parses (half a second) and records what it parsed
        with target_lock(target, exclusive=True):
            holding.set()
            time.sleep(0.5)
            dbt_project.MANIFEST.write_text("{}", encoding="utf-8")
            dbt_project.FINGERPRINT.write_text(fingerprint + "\n", encoding="utf-8")

    other = threading.Thread(target=other_process)
    other.start()
    assert holding.wait(10)
    try:
        assert dbt_project.prepare_manifest() == target / "manifest.json"
    finally:
        other.join()
    assert parses == []
    assert seen == [None, fingerprint]  # it waited for the other's parse, then took it
    # and with nobody else parsing, an unparsed project is parsed (once)
    dbt_project.FINGERPRINT.unlink()
    dbt_project.prepare_manifest()
    assert len(parses) == 1
