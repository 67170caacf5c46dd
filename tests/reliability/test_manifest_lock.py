"""dbt rewrites ``manifest.json`` in place; the readers of the marts catalog must never see half of it.

Real processes: a writer runs real `dbt parse`s of the project into a target folder, one after the
other (orchestration.dbt_project.parse_into: the exclusive lock of the folder); meanwhile two reader
processes read the marts' descriptions from that manifest as publications do
(publishing.mart_catalog.read_manifest_docs: the shared lock) as fast as they can. Every read must
be a whole manifest with every public mart. A third reader reads the same file without the lock, as
the readers did before (a control: it shows how often a reader would have caught dbt mid-write).
`make reliability` (a dozen parses, ~30 s)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.looping_process import LoopingScript
from tests.marts import PUBLIC_MARTS

pytestmark = pytest.mark.reliability
ROOT = Path(__file__).resolve().parents[2]

WRITER = """
import sys
from pathlib import Path
from orchestration.dbt_project import parse_into
target, parses = Path(sys.argv[1]), int(sys.argv[2])
parse_into(target)
print("ready", flush=True)
for _ in range(parses):
    parse_into(target)
print("done", flush=True)
"""

READER = """
import json, sys
from pathlib import Path
manifest, locked = Path(sys.argv[1]), sys.argv[2] == "locked"
stop, status, report = (Path(p) for p in sys.argv[3:6])
expected = set(json.loads(sys.argv[6]))
from publishing.mart_catalog import ManifestMissing, read_manifest_docs
reads = torn = incomplete = 0
errors = []
while not stop.exists():
    if locked:
        try:
            docs = read_manifest_docs(manifest)
        except ManifestMissing as exc:
            torn += 1
            errors.append(str(exc)[:300])
            continue
    else:
        try:
            nodes = json.loads(manifest.read_text(encoding="utf-8"))["nodes"].values()
        except (json.JSONDecodeError, KeyError) as exc:
            torn += 1
            continue
        docs = {n["name"]: n for n in nodes if n.get("schema") == "marts"}
    reads += 1
    if not expected <= set(docs):
        incomplete += 1
report.write_text(json.dumps(
    {"reads": reads, "torn": torn, "incomplete": incomplete, "errors": errors[:5]}
))
"""


def test_no_reader_sees_a_half_written_manifest(tmp_path: Path) -> None:
    parses = int(os.environ.get("EDUQ_MANIFEST_PARSES", "12"))
    target = tmp_path / "target"
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(target), str(parses)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "DBT_SEND_ANONYMOUS_USAGE_STATS": "False", "DO_NOT_TRACK": "1"},
    )
    readers = []
    try:
        assert writer.stdout.readline().strip() == "ready"
        manifest = target / "manifest.json"
        mtime = manifest.stat().st_mtime_ns
        expected = json.dumps(sorted(PUBLIC_MARTS))
        readers = [
            LoopingScript(READER, tmp_path / name, [str(manifest), mode], [expected])
            for name, mode in (("locked1", "locked"), ("locked2", "locked"), ("control", "plain"))
        ]
        assert writer.stdout.readline().strip() == "done"
        assert writer.wait(timeout=600) == 0
    finally:
        reports = [r.stop() for r in readers]
        if writer.poll() is None:
            writer.kill()
    assert manifest.stat().st_mtime_ns > mtime  # the parses did rewrite the manifest
    locked, control = reports[:2], reports[2]
    print(
        f"{parses} dbt parses rewriting the manifest; readers under the lock: "
        f"{sum(r['reads'] for r in locked)} reads, {sum(r['torn'] for r in locked)} torn; "
        f"control reader without the lock: {control['reads']} reads, {control['torn']} torn"
    )
    for report in locked:
        assert report["reads"] > parses  # they did read while dbt wrote
        assert report["torn"] == 0, report["errors"]
        assert report["incomplete"] == 0
    # the control shows the fault is real: without the lock, readers catch dbt mid-write
    assert control["torn"] > 0, control
