"""`eduq docs`: the dbt documentation of the warehouse with the catalog of the serving warehouse,
served on loopback.

dbt opens its database read-write, and the serving file must stay untouched for analysts and the
audit, so the catalog is read from a copy that is removed afterwards. The site is written to
``$EDUQ_HOME/docs/site`` (not to the dbt target folder the pipeline uses).
"""

from __future__ import annotations

import functools
import http.server
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from core import duck
from core.dbt_manifest import target_lock
from core.errors import EduqError
from core.settings import Settings
from orchestration.dbt_project import DBT_PROJECT_DIR
from publishing.mart_catalog import read_marts, undocumented


class DocsFailed(EduqError, RuntimeError):
    """The dbt documentation could not be built or served."""


@dataclass(frozen=True)
class DocsSite:
    folder: Path
    marts: int
    columns: int
    undocumented: list[str]


def docs_dir(settings: Settings) -> Path:
    return settings.home / "docs"


def build_docs(settings: Settings) -> DocsSite:
    """Generate the dbt docs (manifest, catalog of a copy of serving, index.html) and check that
    every public mart and column is described."""
    serving = settings.serving_db
    if not serving.exists():
        raise DocsFailed(f"no serving warehouse at {serving}: run `eduq run` first")
    folder = docs_dir(settings)
    site = folder / "site"
    folder.mkdir(parents=True, exist_ok=True)
    copy = folder / "serving.duckdb"
    shutil.copyfile(serving, copy)
    env = dict(os.environ, EDUQ_DBT_DB_PATH=str(copy), DBT_SEND_ANONYMOUS_USAGE_STATS="False")
    dbt = Path(sys.executable).with_name("dbt")
    try:
        # dbt rewrites site/manifest.json in place; read_marts below (and another `eduq docs`) read it
        # under the folder's shared lock (core/dbt_manifest.py)
        with target_lock(site, exclusive=True):
            done = subprocess.run(
                [
                    str(dbt),
                    "docs",
                    "generate",
                    "--project-dir",
                    str(DBT_PROJECT_DIR),
                    "--profiles-dir",
                    str(DBT_PROJECT_DIR),
                    "--target-path",
                    str(site),
                    "--quiet",
                ],
                cwd=DBT_PROJECT_DIR,
                env=env,
                capture_output=True,
                check=False,
                text=True,
            )
        if done.returncode != 0:
            raise DocsFailed(
                f"dbt docs generate failed:\n{(done.stdout + done.stderr).strip()[-2000:]}"
            )
        with duck.connect(copy, settings, read_only=True) as con:
            marts = read_marts(con, site / "manifest.json")
    finally:
        copy.unlink(missing_ok=True)
        copy.with_name(copy.name + ".wal").unlink(missing_ok=True)
    return DocsSite(site, len(marts), sum(len(m.columns) for m in marts), undocumented(marts))


def serve_docs(folder: Path, port: int, on_ready: Callable[[], None] | None = None) -> None:
    """Serve ``folder`` on http://127.0.0.1:<port>/ until interrupted (Ctrl-C); ``on_ready`` is
    called once the port listens (saying «serving» before would send a quick client away)."""
    handler = functools.partial(_QuietHandler, directory=str(folder))
    try:
        server = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    except OSError as exc:
        raise DocsFailed(
            f"cannot serve the docs on 127.0.0.1:{port} ({exc.strerror}): set EDUQ_DOCS_PORT or "
            "pass --port"
        ) from exc
    import signal
    import threading

    def stop(signum: int, frame: object) -> None:  # Ctrl-C or a service manager's SIGTERM
        threading.Thread(target=server.shutdown, daemon=True).start()

    with server:
        previous = {s: signal.signal(s, stop) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            if on_ready is not None:
                on_ready()
            server.serve_forever(poll_interval=0.2)
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args) -> None:
        pass
