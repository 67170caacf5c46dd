"""The parsed dbt project is kept between processes: each `eduq` process used to parse it again
(~1 s even with dbt's partial parsing); now the first process pickles the Manifest beside
manifest.json, keyed by the project's fingerprint and the dbt versions, and the next load it."""

from __future__ import annotations

import json
import subprocess
import sys

from orchestration import dbt_project

NODES = """
from orchestration import dbt_project as d
print(len(d.manifest_object().nodes))
"""

WITHOUT_PARSING = """
from orchestration import dbt_project as d
def refuse():
    raise SystemExit("the project was parsed again")
d._parse = refuse
print(len(d.manifest_object().nodes))
"""


def _python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=False
    )


def test_a_second_process_loads_the_parsed_project_instead_of_parsing_it() -> None:
    first = _python(NODES)
    assert first.returncode == 0, first.stderr[-2000:]
    second = _python(WITHOUT_PARSING)
    assert second.returncode == 0, second.stderr[-2000:]
    manifest = json.loads(dbt_project.MANIFEST.read_text(encoding="utf-8"))
    assert int(second.stdout) == int(first.stdout) == len(manifest["nodes"])


def test_a_damaged_pickle_is_parsed_again() -> None:
    assert _python(NODES).returncode == 0
    (pickled,) = dbt_project.TARGET_DIR.glob("eduq_manifest-*.pickle")
    pickled.write_bytes(b"not a pickle")
    again = _python(NODES)
    assert again.returncode == 0, again.stderr[-2000:]
    assert _python(WITHOUT_PARSING).returncode == 0  # stored again by the parse
