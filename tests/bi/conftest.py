"""Servers for the BI tests (`make test-bi`): a PostgreSQL cluster started once per session by the
project's own script (scripts/postgres.sh) and stopped at the end; the session's built region
(tests/integration/conftest.py) is the warehouse they serve."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from publishing.postgres import read_credentials
from tests.integration.conftest import (  # noqa: F401 - the session's built region
    region_documents,
    small_region,
)

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass(frozen=True)
class PgCluster:
    home: Path  # EDUQ_HOME of the cluster (reachable by the server's system user)
    port: int
    owner_url: str
    reader_url: str
    env: dict[str, str]


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PgCluster]:
    # not under pytest's temporary folder: started by root, the server runs as the system user
    # postgres, which must reach its data folder
    home = Path(tempfile.mkdtemp(prefix="eduq-bi-"))
    home.chmod(0o755)
    port = free_port()
    env = dict(os.environ, EDUQ_HOME=str(home), EDUQ_PG_PORT=str(port))
    script = str(ROOT / "scripts" / "postgres.sh")
    started = subprocess.run(
        [script, "start"], check=False, env=env, capture_output=True, text=True
    )
    try:
        assert started.returncode == 0, started.stdout + started.stderr
        creds = read_credentials(home / "postgres")
        base = f"@127.0.0.1:{port}/{creds['DATABASE']}"
        yield PgCluster(
            home,
            port,
            f"postgresql://{creds['OWNER_USER']}:{creds['OWNER_PASSWORD']}{base}",
            f"postgresql://{creds['BI_USER']}:{creds['BI_PASSWORD']}{base}",
            env,
        )
    finally:
        subprocess.run([script, "stop"], check=False, env=env, capture_output=True, text=True)
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_configured(pg_cluster: PgCluster) -> Iterator[PgCluster]:
    """EDUQ_PG_URL names the test cluster for the rest of the session: pipeline runs publish to it."""
    monkeypatch = pytest.MonkeyPatch()
    monkeypatch.setenv("EDUQ_PG_URL", pg_cluster.owner_url)
    try:
        yield pg_cluster
    finally:
        monkeypatch.undo()


@dataclass(frozen=True)
class SupersetServer:
    url: str
    home: Path
    password: str
    duckdb_file: Path  # the serving warehouse exported for DuckDB 1.x, registered read-only


@pytest.fixture(scope="session")
def superset(small_region, pg_cluster: PgCluster) -> Iterator[SupersetServer]:  # noqa: F811
    """Superset set up by the project's script (`make bi`) on the test cluster's marts and on an
    export of the serving warehouse that its DuckDB 1.x reads, served on a free loopback port."""
    from gate.serving_export import export_warehouse
    from orchestration.dbt_project import MANIFEST
    from publishing.postgres import publish_marts

    publish_marts(small_region.settings.serving_db, pg_cluster.owner_url, MANIFEST)
    warehouse = pg_cluster.home / "warehouse_v1"
    warehouse.mkdir(exist_ok=True)
    exported = warehouse / "serving.duckdb"
    if not exported.exists():
        export_warehouse(
            small_region.settings.serving_db, exported, ["marts", "reference", "audit"]
        )
    port = free_port()
    env = dict(pg_cluster.env, EDUQ_SUPERSET_PORT=str(port), EDUQ_WAREHOUSE_DIR=str(warehouse))
    script = str(ROOT / "scripts" / "superset.sh")
    for command in ("init", "serve"):
        done = subprocess.run(
            [script, command], check=False, env=env, capture_output=True, text=True
        )
        assert done.returncode == 0, f"superset.sh {command}:\n{done.stdout}\n{done.stderr}"
    home = pg_cluster.home / "superset"
    try:
        yield SupersetServer(
            f"http://127.0.0.1:{port}",
            home,
            (home / "admin_password").read_text().strip(),
            exported,
        )
    finally:
        subprocess.run([script, "stop"], check=False, env=env, capture_output=True, text=True)
