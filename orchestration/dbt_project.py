"""The dbt project as Dagster sees it, parsed once and reused while the project is unchanged.

Nothing happens at import time. :func:`prepare_manifest` parses the project in this process only
when a model, macro, test, seed or project file changed since the last parse (a fingerprint of
their names, sizes and modification times is kept beside the manifest), and keeps the parsed
``Manifest`` object so that the dbt build of the same process does not parse again.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import os
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from core.dbt_manifest import read_manifest, target_lock
from core.settings import Settings
from orchestration.dbt_events import fast_event_messages

DBT_PROJECT_DIR = Path(__file__).resolve().parent.parent / "dbt_project"
SEEDS_DIR = DBT_PROJECT_DIR.parent / "seeds"
TARGET_DIR = DBT_PROJECT_DIR / "target"
MANIFEST = TARGET_DIR / "manifest.json"
FINGERPRINT = TARGET_DIR / "eduq_project_fingerprint.txt"
PROJECT_FOLDERS = ("models", "macros", "tests")
PROJECT_FILES = ("dbt_project.yml", "profiles.yml")
TELEMETRY_OFF = {"DBT_SEND_ANONYMOUS_USAGE_STATS": "False", "DO_NOT_TRACK": "1"}
# dbt's own loggers off (its console and its file log). Each formats a line for every event (a
# statement sent, a connection opened, a node started) before the logger's level drops it: ~10% of
# a whole-project build went to lines nobody read. Warnings and errors are kept by EventLog.
LOGGERS_OFF = ("--log-level", "none", "--log-level-file", "none")

_lock = threading.Lock()
_parsed: dict[str, Any] = {}  # fingerprint -> dbt Manifest object of this process


def project_fingerprint() -> str:
    """Names, sizes and modification times of every file dbt parses (cheap: no file is read)."""
    digest = hashlib.sha256()
    folders = [DBT_PROJECT_DIR / f for f in PROJECT_FOLDERS] + [SEEDS_DIR]
    for folder in folders:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                stat = path.stat()
                digest.update(f"{path}|{stat.st_size}|{stat.st_mtime_ns}\n".encode())
    for name in PROJECT_FILES:
        stat = (DBT_PROJECT_DIR / name).stat()
        digest.update(f"{name}|{stat.st_size}|{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def dbt_env(settings: Settings) -> dict[str, str]:
    """What dbt reads from the environment (profiles.yml): the candidate warehouse of these settings
    and DuckDB's memory, threads and spill folder; telemetry off."""
    return {
        **TELEMETRY_OFF,
        "EDUQ_DBT_DB_PATH": str(settings.candidate_db),
        "EDUQ_DUCKDB_MEMORY_LIMIT": settings.duckdb_memory_limit,
        "EDUQ_DUCKDB_THREADS": str(settings.duckdb_threads),
        "EDUQ_DUCKDB_TEMP_DIR": str(settings.spill_dir),
    }


def apply_env(env: Mapping[str, str]) -> None:
    """``env`` in this process's environment for good (telemetry off: dbt reads it at every
    invocation, a parse too); a build's candidate and DuckDB settings are set for the build only
    (orchestration.dbt_build.run_build)."""
    os.environ.update(env)


def cli_args(target_dir: Path = TARGET_DIR) -> list[str]:
    return [
        "--project-dir",
        str(DBT_PROJECT_DIR),
        "--profiles-dir",
        str(DBT_PROJECT_DIR),
        "--target-path",
        str(target_dir),
        "--log-path",
        str(target_dir / "logs"),
    ]


class EventLog:
    """A dbt callback that keeps what dbt's loggers kept of an invocation with ``--quiet`` and
    ``--log-level-file warn`` (LOGGERS_OFF turns them off): its warnings and errors as lines of
    ``path`` (the invocation's dbt.log), created on the first one, and its errors on stdout
    (where `eduq run` writes its log); dbt's print events (``{{ print() }}``, `dbt show`) count as
    errors, as dbt's loggers count them. Secrets in the environment are scrubbed, as dbt does. A
    log that cannot be written (a full disk) is left: dbt's own loggers never failed a build."""

    LEVELS = ("warn", "error")

    def __init__(self, path: Path) -> None:
        from dbt_common.events.functions import env_scrubber
        from dbt_common.events.logger import PRINT_EVENT_NAMES

        self.path = path
        self._lock = threading.Lock()
        self._scrub = env_scrubber
        self._printed = frozenset(PRINT_EVENT_NAMES)  # looked up once: called for every event

    def __call__(self, event: Any) -> None:
        level = event.info.level
        if level not in self.LEVELS:
            if event.info.name not in self._printed:
                return
            level = "error"
        message = self._scrub(event.info.msg)
        moment = event.info.ts.ToDatetime(tzinfo=dt.UTC)
        with self._lock:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                with self.path.open("a", encoding="utf-8") as out:
                    out.write(
                        f"{moment.isoformat(timespec='milliseconds')} [{level:<5}] {message}\n"
                    )
            except OSError:
                pass
            if level == "error":
                print(message, flush=True)


def parse_into(target_dir: Path = TARGET_DIR, locked: bool = False) -> Any:
    """`dbt parse` in this process, writing ``target_dir/manifest.json`` under the folder's exclusive
    lock (core/dbt_manifest.py): dbt rewrites the manifest in place, and a reader in another process
    (two homes on one installation, `eduq docs` during `eduq run`, a publication reading the marts'
    descriptions) waits instead of reading half a file. ``locked``: the caller holds that lock
    already. Returns dbt's Manifest object."""
    from dbt.cli.main import dbtRunner

    apply_env(TELEMETRY_OFF)
    fast_event_messages()  # (orchestration/dbt_events.py)
    with contextlib.nullcontext() if locked else target_lock(target_dir, exclusive=True):
        # a whole parse (~4 s, once per project state: manifest_object keeps it): dbt's partial
        # parsing, after an edit of tests/singular/_singular_tests.yml, left the singular tests
        # without their descriptions, which the audit prints for a failing test
        result = dbtRunner(callbacks=[EventLog(target_dir / "logs" / "dbt.log")]).invoke(
            ["parse", *LOGGERS_OFF, "--no-partial-parse", *cli_args(target_dir)]
        )
    if not result.success:
        raise RuntimeError(f"dbt could not parse the project: {result.exception}")
    return result.result


def parsed_fingerprint() -> str | None:
    """The project fingerprint ``MANIFEST`` was parsed from (None: no parse recorded)."""
    try:
        return FINGERPRINT.read_text(encoding="utf-8").strip() if MANIFEST.exists() else None
    except FileNotFoundError:
        return None


def manifest_fingerprint(manifest: Any) -> str | None:
    """The project fingerprint a Manifest object of :func:`manifest_object` was parsed from."""
    with _lock:
        return next((f for f, m in _parsed.items() if m is manifest), None)


def prepare_manifest() -> Path:
    """The manifest of the project as it is now, parsed only when the project changed."""
    fingerprint = project_fingerprint()
    with _lock:
        if parsed_fingerprint() == fingerprint:
            return MANIFEST
        with target_lock(TARGET_DIR, exclusive=True):
            # another process that found the project unparsed too (two test workers, `eduq run`
            # beside `dagster dev`) may have parsed it while this one waited: parsed once
            if parsed_fingerprint() == fingerprint:
                return MANIFEST
            # the file no longer says which project MANIFEST is while a parse rewrites it (a
            # build's copy of the manifest checks it: orchestration.dbt_build._write_artifacts)
            FINGERPRINT.unlink(missing_ok=True)
            _parsed[fingerprint] = _parse_and_store(fingerprint, locked=True)
            FINGERPRINT.write_text(fingerprint + "\n", encoding="utf-8")
    return MANIFEST


def _pickle_path(fingerprint: str) -> Path:
    from importlib.metadata import version

    # -fields: _dumps_manifest; -whole: parse_into without partial parsing (not an older pickle)
    tools = f"{version('dbt-core')}-{version('dbt-duckdb')}-fields-whole"
    key = hashlib.sha256(f"{fingerprint}|{tools}".encode()).hexdigest()[:24]
    return TARGET_DIR / f"eduq_manifest-{key}.pickle"


def _load_pickled(fingerprint: str) -> Any | None:
    """The Manifest object pickled by an earlier process for this project state and these dbt
    versions (a parse costs ~4 s; unpickling ~0.02 s)."""
    with target_lock(TARGET_DIR, exclusive=False):
        return _read_pickled(fingerprint)


def _read_pickled(fingerprint: str) -> Any | None:
    """:func:`_load_pickled` for a caller holding the target folder's lock."""
    import pickle

    try:
        return pickle.loads(_pickle_path(fingerprint).read_bytes())
    except FileNotFoundError:
        return None
    except (
        pickle.UnpicklingError,
        EOFError,
        AttributeError,
        ImportError,
        TypeError,
        ValueError,
    ):
        return None  # damaged, or written by other classes: parse again


def _restore_manifest(cls: type, state: dict[str, Any]) -> Any:
    """A Manifest from its fields; those not pickled (its lock) get their defaults."""
    import dataclasses

    manifest = cls.__new__(cls)
    for f in dataclasses.fields(cls):
        if f.name not in state and f.default_factory is not dataclasses.MISSING:
            state[f.name] = f.default_factory()
    manifest.__dict__.update(state)
    return manifest


def _dumps_manifest(manifest: Any) -> bytes:
    """Pickle a Manifest field by field: dbt's own ``Manifest.__reduce_ex__`` passes the fields by
    position and leaves two out (``fixtures``, ``_saved_query_lookup``), so an unpickled manifest
    had its lookups shifted by one and failed to compile a ``ref`` («RefableLookup.find() missing
    1 required positional argument»)."""
    import io
    import pickle

    kind = type(manifest)

    class _Pickler(pickle.Pickler):
        def reducer_override(self, obj: Any) -> Any:
            if type(obj) is kind:
                state = {k: v for k, v in obj.__dict__.items() if k != "_lock"}
                return _restore_manifest, (kind, state)
            return NotImplemented

    buffer = io.BytesIO()
    _Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL).dump(manifest)
    return buffer.getvalue()


def _store_pickled(fingerprint: str, manifest: Any) -> None:
    from core.files import write_bytes_atomic

    path = _pickle_path(fingerprint)
    for old in TARGET_DIR.glob("eduq_manifest-*.pickle"):
        if old != path:
            old.unlink(missing_ok=True)
    write_bytes_atomic(path, _dumps_manifest(manifest))


def _parse_and_store(fingerprint: str, locked: bool = False) -> Any:
    """Parse the project and pickle the result for the next processes (``locked``: the caller holds
    the target folder's exclusive lock)."""
    manifest = parse_into(TARGET_DIR, locked=locked)
    _store_pickled(fingerprint, manifest)
    return manifest


def manifest_object() -> Any:
    """The parsed dbt Manifest of the project as it is now: parsed once per project state (and dbt
    version), kept in this process and pickled beside the manifest for the next processes."""
    prepare_manifest()
    fingerprint = project_fingerprint()
    with _lock:
        if fingerprint not in _parsed:
            manifest = _load_pickled(fingerprint)
            if manifest is None:
                with target_lock(TARGET_DIR, exclusive=True):
                    # stored by another process while this one waited for the lock: parsed once
                    manifest = _read_pickled(fingerprint)
                    if manifest is None:
                        manifest = _parse_and_store(fingerprint, locked=True)
            _parsed[fingerprint] = manifest
        return _parsed[fingerprint]


def manifest_json() -> dict[str, Any]:
    return read_manifest(prepare_manifest())
