"""`dagster dev -w workspace.yaml` serves the whole asset graph (as data engineers start it)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.integration


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _graphql(port: int, query: str) -> dict:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql",
        data=json.dumps({"query": query}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


# `dagster dev` started as from a terminal, with SIGINT and SIGTERM at their defaults: a process
# started in the background by a shell without job control (a CI script, `make test &`) has SIGINT
# ignored, which its children inherit; `dagster dev` maps SIGTERM to SIGINT's handler and would
# then ignore the SIGTERM that stops it (_stop waited its 20 s, then killed it)
_AS_FROM_A_TERMINAL = (
    "import os, signal, sys\n"
    "for s in (signal.SIGINT, signal.SIGTERM):\n"
    "    signal.signal(s, signal.SIG_DFL)\n"
    "os.execv(sys.argv[1], sys.argv[1:])"
)


def test_dagster_dev_serves_the_whole_graph(tmp_path: Path) -> None:
    from orchestration.definitions import get_definitions

    defs = get_definitions()

    expected = {k.to_user_string() for k in defs.resolve_asset_graph().get_all_asset_keys()}
    port = _free_port()
    home = tmp_path / "dagster"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    env = dict(os.environ, DAGSTER_HOME=str(home), EDUQ_HOME=str(tmp_path / "eduq"))
    dagster = Path(sys.executable).with_name("dagster")
    proc = subprocess.Popen(
        [sys.executable, "-c", _AS_FROM_A_TERMINAL, str(dagster)]
        + ["dev", "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        keys: set[str] = set()
        while time.monotonic() < deadline:
            try:
                data = _graphql(port, "{ assetNodes { assetKey { path } } }")
                keys = {"/".join(n["assetKey"]["path"]) for n in data["data"]["assetNodes"]}
                if keys:
                    break
            except (OSError, KeyError, TypeError):
                pass
            time.sleep(0.25)
        assert keys == expected
        jobs = _graphql(
            port,
            "{ repositoriesOrError { ... on RepositoryConnection { nodes { jobs { name } "
            "schedules { name } sensors { name } } } } }",
        )
        repo = jobs["data"]["repositoriesOrError"]["nodes"][0]
        assert {"nightly_load", "publish_list"} <= {j["name"] for j in repo["jobs"]}
        assert {s["name"] for s in repo["schedules"]} == {"nightly_load_schedule"}
        assert {"landing_sensor", "publish_after_load"} <= {s["name"] for s in repo["sensors"]}
    finally:
        _stop(proc)


def _stop(proc: subprocess.Popen) -> None:
    """Stop `dagster dev` as Ctrl+C does: it stops its webserver, daemon and code server itself
    (a SIGTERM to the whole group makes it restart the code server it then waits for); what is
    left of the group after it exits is killed."""
    try:
        os.kill(proc.pid, signal.SIGTERM)
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        pytest.fail("`dagster dev` did not stop within 20 s of SIGTERM")
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
