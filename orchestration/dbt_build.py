"""`dbt build` with the project parsed once (dbtRunner with a preloaded manifest), in dbt's worker
process (orchestration/dbt_worker.py: started when a run's load starts, it imports dbt on the other
core and serves the process's builds) or in this process.

A subprocess per build cost dbt's start-up and parse every night (~4 s); with dbt imported and the
project loaded beforehand a build of the demo region's models, seeds and data tests takes a few
seconds. The build never stops the
pipeline because a test failed: dbt skips what depends on a failed test, and the audit judges every
result (gate/audit.py). Only a build that cannot run at all raises.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core import duck, progress
from core.dbt_manifest import target_lock
from core.environ import temporary_environment
from core.settings import Settings
from orchestration import dbt_worker
from orchestration.dbt_events import fast_event_messages
from orchestration.dbt_project import (
    LOGGERS_OFF,
    MANIFEST,
    TARGET_DIR,
    TELEMETRY_OFF,
    EventLog,
    apply_env,
    cli_args,
    dbt_env,
    manifest_fingerprint,
    manifest_object,
    parsed_fingerprint,
)

log = logging.getLogger(__name__)

BUILDS_DIR = TARGET_DIR / "builds"
KEEP_BUILDS = 20

_preloading: threading.Thread | None = None
_preload_lock = threading.Lock()


class DbtBuildError(RuntimeError):
    """dbt could not run the build at all (not a failed test: those are results)."""


@dataclass(frozen=True)
class NodeEvent:
    """One node finished: what it was, how it ended, how long it took."""

    unique_id: str
    resource_type: str
    name: str
    status: str  # dbt's: success / error / skipped / pass / fail / warn
    seconds: float
    failures: int = 0
    message: str = ""


@dataclass
class DbtBuild:
    target_dir: Path
    seconds: float
    nodes: list[NodeEvent] = field(default_factory=list)
    # what a model said while it was built ({{ log(..., info=true) }}: e.g. the years an incremental
    # model computed again), by unique_id
    notes: dict[str, list[str]] = field(default_factory=dict)


def _import_dbt() -> None:
    try:
        import dbt.adapters.duckdb  # noqa: F401
        from dbt.cli.main import dbtRunner  # noqa: F401

        manifest_object()
        _build_dbt_schemas()
    except Exception as exc:  # noqa: BLE001 — the build imports again and reports its own error
        log.debug("dbt preload failed: %s", exc)


def _build_dbt_schemas() -> None:
    """Every dbt invocation validates the project, its flags, the profile's credentials, the
    selectors and the hooks against JSON schemas that dbt builds from their classes the first time
    a process asks (and keeps): ~0.2 s of Python at the start of the build, built here instead."""
    from dbt.adapters.duckdb.credentials import DuckDBCredentials
    from dbt.artifacts.resources import Hook
    from dbt.contracts.project import ProfileConfig, Project, ProjectFlags
    from dbt.contracts.selection import SelectorFile

    for schema_of in (Project, ProjectFlags, ProfileConfig, DuckDBCredentials, SelectorFile, Hook):
        schema_of.json_schema()


def preload() -> None:
    """Start dbt's worker process (orchestration/dbt_worker.py): dbt's imports and the parsed
    project, ~2.5 s of Python, on the other core while the load runs, and the build there. A
    process that has imported dbt already (a test process, a Python session) builds here: the
    worker would import it again for nothing. Where the worker cannot start, dbt is imported on a
    thread of this process instead (the build waits for it). Idempotent."""
    if "dbt.cli.main" not in sys.modules and dbt_worker.start():
        return
    global _preloading
    with _preload_lock:
        if _preloading is None:
            _preloading = threading.Thread(target=_import_dbt, name="eduq-dbt-preload", daemon=True)
            _preloading.start()


def _wait_for_preload() -> None:
    with _preload_lock:
        thread = _preloading
    if thread is not None:
        thread.join()


def build_args(
    settings: Settings, select: Sequence[str] = (), judged_up_to_file: int | None = None
) -> list[str]:
    """`dbt build` of the data (models, seeds, data tests) with the run's methodology profile; unit
    tests check the SQL on fixed inputs and run in CI (`make test`), not every night. With
    ``settings.full_refresh`` the incremental models count every year again. ``judged_up_to_file``:
    a build by its plan (gate.baseline), the last file id of the audited build it starts from (a
    test that judges a model year by year judges the years of the later files: the var
    ``eduq_judged_up_to_file``, tests/generic/unique_combination_of_columns.sql)."""
    variables: dict[str, object] = {"methodology_profile": settings.methodology_profile}
    if judged_up_to_file is not None:
        variables["eduq_judged_up_to_file"] = int(judged_up_to_file)
    args = [
        "build",
        "--threads",
        str(settings.dbt_threads),
        "--exclude-resource-type",
        "unit_test",
        "--vars",
        json.dumps(variables),
    ]
    if select:
        # eager: a test with any selected parent runs (gate/baseline.py carries the verdicts of the
        # tests left out, which must then have no rebuilt parent), whatever DBT_INDIRECT_SELECTION says
        args += ["--select", *select, "--indirect-selection", "eager"]
    if settings.full_refresh:
        args.append("--full-refresh")
    return args


def target_dir_for(run_id: str) -> Path:
    """dbt's target folder of one pipeline run (run_results.json and manifest.json of its build)."""
    return BUILDS_DIR / f"build-{run_id[:7]}-{run_id[8:16]}"


def _prune(keep: int = KEEP_BUILDS) -> None:
    if not BUILDS_DIR.exists():
        return
    folders = sorted(BUILDS_DIR.iterdir(), key=lambda p: p.stat().st_mtime)
    for folder in folders[:-keep]:
        shutil.rmtree(folder, ignore_errors=True)


def run_build(
    settings: Settings,
    run_id: str,
    select: Sequence[str] = (),
    on_node: Callable[[NodeEvent], None] | None = None,
    judged_up_to_file: int | None = None,
) -> DbtBuild:
    """Build the candidate warehouse of ``settings``: in dbt's worker process when :func:`preload`
    started it (orchestration/dbt_worker.py), else in this process; ``on_node`` hears of every node
    (in this process either way); ``judged_up_to_file``: see :func:`build_args`."""
    # a process outside the writer lock that holds the candidate open (a reader's session) is
    # waited for and named here: dbt would fail on its first node with DuckDB's lock error
    duck.connect(settings.candidate_db, settings).close()
    target = target_dir_for(run_id)
    target.mkdir(parents=True, exist_ok=True)
    apply_env(TELEMETRY_OFF)  # for good (dbt's later parses of this process too)
    request = BuildRequest(
        # the candidate and the DuckDB settings of this home for the build only: not left to
        # whatever reads the environment later in the process (the settings of another home loaded
        # in the same process, e.g. a test process or a Python session calling the runner: its
        # spill folder would be this home's)
        environ={**os.environ, **dbt_env(settings)},
        cwd=os.getcwd(),
        # dbt's loggers off, its warnings and errors in the build's logs/dbt.log (EventLog);
        # run_results.json holds every node's result and message
        args=(
            *build_args(settings, select, judged_up_to_file),
            *LOGGERS_OFF,
            "--no-write-json",  # written by execute (_write_artifacts)
            *cli_args(target),
        ),
        target=str(target),
        select=tuple(select),
    )
    build = DbtBuild(target, 0.0)
    listener = _Listener(build, on_node)
    started = time.perf_counter()
    worker = dbt_worker.ready_worker()
    if worker is not None:
        failure = worker.build(request, listener)
    else:
        _wait_for_preload()  # an import half done on the preload thread is not started again here
        failure = execute(request, listener)
    build.seconds = time.perf_counter() - started
    if failure is not None:
        raise DbtBuildError(failure)
    # the oldest build folders go while the run audits and promotes (deleting ~500 files took a
    # second or more in the run's path); not a daemon: the process finishes it before it exits
    threading.Thread(target=_prune, name="eduq-background-prune-dbt-builds").start()
    return build


@dataclass(frozen=True)
class BuildRequest:
    """One `dbt build`, as :func:`execute` runs it here or in the worker process: the caller's
    environment with dbt's for the build, its working folder, dbt's arguments, the target folder
    and the selection (for the count of nodes it reaches)."""

    environ: dict[str, str]
    cwd: str
    args: tuple[str, ...]
    target: str
    select: tuple[str, ...] = ()


class _Listener:
    """What the build tells the caller (:func:`execute`'s messages), heard in the caller's process:
    the stage and the count of nodes, every node that finished, what a model said, what dbt
    printed."""

    def __init__(self, build: DbtBuild, on_node: Callable[[NodeEvent], None] | None) -> None:
        self.build = build
        self.on_node = on_node

    def __call__(self, message: tuple) -> None:
        kind = message[0]
        if kind == "node":
            _, item, total = message
            self.build.nodes.append(item)
            progress.nodes_done(len(self.build.nodes), total, item.name)
            if self.on_node is not None:
                self.on_node(item)
        elif kind == "note":
            _, unique_id, text = message
            self.build.notes.setdefault(unique_id, []).append(text)
            progress.note(text)
        elif kind == "stage":
            progress.stage(message[1])
        elif kind == "out":  # printed in the worker: here, where this process's output goes
            dbt_worker.print_out(message)


def execute(request: BuildRequest, emit: Callable[[tuple], None]) -> str | None:
    """Run ``request`` with dbt in this process (the caller's, or dbt's worker process), telling
    ``emit`` what happens (messages of :class:`_Listener`); the build's run_results.json and
    manifest.json are written to its target folder. Returns None, or why dbt could not run at all
    (a failed test is a result, not a reason)."""
    target = Path(request.target)
    unset = [name for name in os.environ if name not in request.environ]
    with temporary_environment(request.environ, unset=unset), _working_folder(request.cwd):
        fast_event_messages()
        from dbt.cli.main import dbtRunner

        manifest = manifest_object()
        built = {
            uid
            for uid, n in manifest.nodes.items()
            if n.resource_type in ("model", "seed", "snapshot", "test")
        }
        total = len(built)
        reached = _downstream_of_sources(manifest, request.select)
        if reached is not None:
            total = len(reached & built)
            emit(
                (
                    "stage",
                    f"dbt build ({total} of {len(built)} models, seeds and tests: what the load reaches)",
                )
            )
        else:
            emit(("stage", f"dbt build ({total} models, seeds and tests)"))

        def callback(event: Any) -> None:
            if event.info.name == "JinjaLogInfo":
                uid = getattr(getattr(event.data, "node_info", None), "unique_id", "")
                if uid:
                    emit(("note", uid, str(event.data.msg)))
                return
            if event.info.name != "NodeFinished":
                return
            info = event.data.run_result
            node = event.data.node_info
            item = NodeEvent(
                unique_id=node.unique_id,
                resource_type=node.resource_type,
                name=node.node_name,
                status=str(info.status),
                seconds=float(info.execution_time or 0.0),
                failures=int(info.num_failures or 0),
                message=str(info.message or ""),
            )
            emit(("node", item, total))

        try:
            events = EventLog(target / "logs" / "dbt.log")
            # the build's files are written in place: their readers (the audit) take the shared lock
            with target_lock(target, exclusive=True):
                result = dbtRunner(manifest=manifest, callbacks=[events, callback]).invoke(
                    list(request.args)
                )
                if result.exception is None:
                    _write_artifacts(result.result, manifest, target)
        finally:
            release_connections()
    if result.exception is not None or not (target / "run_results.json").exists():
        # dbt's message spans lines (Runtime Error / the database's error): keep all of it on one line
        cause = " ".join(str(result.exception).split()) or "no result written"
        return f"dbt build could not run: {cause}"
    return None


@contextmanager
def _working_folder(folder: str) -> Iterator[None]:
    """The caller's working folder for the block (the worker process's may be another)."""
    here = os.getcwd()
    if folder == here:
        yield
        return
    os.chdir(folder)
    try:
        yield
    finally:
        os.chdir(here)


def _write_artifacts(results: Any, manifest: Any, target: Path) -> None:
    """The build's run_results.json, and its manifest.json: the parsed project's (``MANIFEST``,
    copied), which is the build's but for the compiled SQL, which run_results.json holds.

    dbt would write its manifest anew after every build: ~0.3 s of a night (every node turned into
    its artifact class and serialized) for the file the parse wrote. When the parsed file is not
    the one of this manifest (another process parsed a changed project meanwhile), the manifest is
    written as dbt writes it."""
    if hasattr(results, "write"):
        results.write(str(target / "run_results.json"))
    fingerprint = manifest_fingerprint(manifest)
    with target_lock(TARGET_DIR, exclusive=False):  # a parse rewrites MANIFEST in place
        if fingerprint is not None and parsed_fingerprint() == fingerprint:
            shutil.copyfile(MANIFEST, target / "manifest.json")
            return
    manifest.write(str(target / "manifest.json"))


def _downstream_of_sources(manifest: Any, select: Sequence[str]) -> set[str] | None:
    """The nodes a selection of ``source:<source>.<table>+`` reaches, each item narrowed by
    ``,resource_type:<type>`` or ``,config.materialized:<kind>`` if it says so (gate.baseline's
    selection of a build by its plan); None for any other selection."""
    if not select:
        return None
    children: dict[str, list[str]] = {}
    for uid, node in manifest.nodes.items():
        for parent in getattr(node.depends_on, "nodes", ()):
            children.setdefault(parent, []).append(uid)
    downstream: dict[str, set[str]] = {}  # of each source named
    selected: set[str] = set()
    for item in select:
        head, *narrowed = item.split(",")
        if not (head.startswith("source:") and head.endswith("+")):
            return None
        wanted = head[len("source:") : -1]
        if wanted not in downstream:
            todo = [
                uid
                for uid, src in manifest.sources.items()
                if f"{src.source_name}.{src.name}" == wanted
            ]
            downstream[wanted] = set()
            while todo:
                for child in children.get(todo.pop(), ()):
                    if child not in downstream[wanted]:
                        downstream[wanted].add(child)
                        todo.append(child)
        reached = downstream[wanted]
        for condition in narrowed:
            method, _, value = condition.partition(":")
            if method == "resource_type":
                reached = {u for u in reached if manifest.nodes[u].resource_type == value}
            elif method == "config.materialized":
                reached = {
                    u
                    for u in reached
                    if getattr(manifest.nodes[u].config, "materialized", None) == value
                }
            else:
                return None
        selected |= reached
    return selected


def release_connections() -> None:
    """Close the DuckDB connection dbt-duckdb keeps open in this process between invocations, so that
    the next step of the pipeline (or a reader in this process) opens the file afresh."""
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager
    from dbt.adapters.factory import reset_adapters

    reset_adapters()
    adapter_env = DuckDBConnectionManager._ENV  # dbt-duckdb keeps it at class level
    if adapter_env is not None:
        adapter_env.close()
    DuckDBConnectionManager.close_all_connections()
