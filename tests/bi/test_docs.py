"""`eduq docs` builds the dbt docs with the catalog of the serving warehouse (read from a copy: the
serving file is untouched) and serves them on loopback; the page sends nothing anywhere (dbt's
usage tracking is off in the manifest it reads)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from core.files import sha256_file
from tests.bi.conftest import free_port

pytestmark = pytest.mark.integration


def test_eduq_docs_builds_and_serves_the_catalog_on_loopback(small_region) -> None:
    settings = small_region.settings
    before = sha256_file(settings.serving_db)
    port = free_port()
    eduq = Path(sys.executable).with_name("eduq")
    process = subprocess.Popen(
        [str(eduq), "docs", "--port", str(port)],
        env=dict(os.environ, EDUQ_HOME=str(settings.home)),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        lines = []
        deadline = time.time() + 300
        while time.time() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            lines.append(line)
            if line.startswith("Serving on"):
                break
        assert lines and lines[-1].startswith(f"Serving on http://127.0.0.1:{port}/"), (
            "".join(lines) + process.stderr.read()
        )
        assert not any("UNDOCUMENTED" in line for line in lines)

        def get(name: str) -> bytes:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/{name}", timeout=30) as r:
                return r.read()

        assert b"<html" in get("index.html").lower()
        catalog = json.loads(get("catalog.json"))
        manifest = json.loads(get("manifest.json"))
    finally:
        process.send_signal(signal.SIGINT)
        # read both pipes while it stops: a child blocked writing to a full, unread stderr pipe
        # never exits (CI's clean clone timed out here once)
        process.communicate(timeout=30)
    assert process.returncode == 0
    shnor = catalog["nodes"]["model.eduq.fct_shnor_list"]
    assert {"school_id", "list_year", "is_shnor", "fioko_cluster"} <= set(shnor["columns"])
    marts = {k for k, n in catalog["nodes"].items() if n["metadata"]["schema"] == "marts"}
    # every mart of the project (building the docs must not drop an incremental one)
    assert marts == {
        k
        for k, n in manifest["nodes"].items()
        if n["resource_type"] == "model" and n["schema"] == "marts"
    }
    assert manifest["metadata"]["send_anonymous_usage_stats"] is False
    assert manifest["nodes"]["model.eduq.fct_shnor_list"]["columns"]["school_id"]["description"]
    assert sha256_file(settings.serving_db) == before
    assert not (settings.home / "docs" / "serving.duckdb").exists()
