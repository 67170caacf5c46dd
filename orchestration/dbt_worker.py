"""dbt in a process of its own: its imports and the parsed project on the other core while the load
runs, and the build there.

A run's Python holds one interpreter lock: dbt's imports and the unpickled project (~2.5 s of
Python) took it from the load on a thread of the same process, and dbt's ~15 ms of Python per node
from Dagster's bookkeeping. The worker is started by :func:`orchestration.dbt_build.preload` when
the load starts (as Great Expectations' worker, gate/expectations/gx_runner.py), builds what
:func:`orchestration.dbt_build.run_build` asks (:func:`orchestration.dbt_build.execute`, the code
of a build in the caller's process) with the caller's environment and working folder, and tells
the caller every node, note and printed line as they happen; the caller does the rest (progress,
Dagster's events, the audit). One build at a time; the worker serves the process's later runs too.

It never outlives its caller: it ignores Ctrl+C (which reaches the whole process group: the caller
stops it), is stopped when the caller exits or is interrupted mid-build, and ends itself within a
quarter of a second when the caller is gone (killed: no orphan keeps the candidate open). A worker
that cannot start or import dbt leaves the build to the caller's process; one that ends during a
build fails that build (dbt could not run), and the next run starts another.
"""

from __future__ import annotations

import atexit
import logging
import os
import sys
import threading
import time
from typing import Any

from core.worker import close, leave, serve

log = logging.getLogger(__name__)

_shared: dict[str, DbtWorker] = {}
_shared_lock = threading.Lock()


class _Forward:
    """A worker's stdout or stderr: what is written goes to the caller, which writes it where its
    own output goes (`eduq run` sends dbt's output to the run's log)."""

    def __init__(self, send: Any, stream: str) -> None:
        self._send = send
        self._stream = stream

    def write(self, text: str) -> int:
        if text:
            self._send(("event", ("out", self._stream, text)))
        return len(text)

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False


def _watch_caller(caller: int) -> None:
    while True:
        time.sleep(0.25)
        if os.getppid() != caller:  # the caller is gone (killed): no build is wanted any more
            leave(1)


def _die_with_caller() -> None:
    """Linux: the kernel kills the worker when the thread that started it ends (the caller's main
    thread: the caller's process), at once, where the watch below takes up to a quarter of a second."""
    import ctypes
    import signal

    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL))
    except (OSError, AttributeError):  # not Linux: the watch alone
        pass


_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def _worker_main(connection: Any, caller: int, from_main_thread: bool) -> None:
    """The worker process: import dbt and load the parsed project once, then build as asked."""
    import gc
    import signal

    if from_main_thread:
        _die_with_caller()
    signal.signal(signal.SIGTERM, lambda *_: leave(1))  # the caller stops it mid-build
    threading.Thread(
        target=_watch_caller, args=(caller,), name="eduq-dbt-caller", daemon=True
    ).start()
    from orchestration.cli import GC_THRESHOLDS

    gc.set_threshold(*GC_THRESHOLDS)
    sending = threading.Lock()  # dbt's threads report nodes at once

    def send(message: tuple) -> None:
        with sending:
            connection.send(message)

    def build(_: None, request: Any) -> tuple:
        from orchestration.dbt_build import execute

        try:
            failure = execute(request, lambda message: send(("event", message)))
        except Exception as exc:  # noqa: BLE001 — the caller raises it as the build's failure
            failure = "dbt build could not run: " + (
                " ".join(str(exc).split()) or type(exc).__name__
            )
        return ("done", failure)

    sys.stdout = _Forward(send, "stdout")
    sys.stderr = _Forward(send, "stderr")
    serve(connection, _start, build, send=send)


def _start() -> None:
    from orchestration.dbt_build import _import_dbt

    _import_dbt()  # a project that cannot be parsed fails the build that needs it, with its words


class DbtWorker:
    """The caller's side of the worker process."""

    def __init__(self) -> None:
        import multiprocessing

        context = multiprocessing.get_context("spawn")
        self.connection, child = context.Pipe()
        self.process = context.Process(
            target=_worker_main,
            args=(child, os.getpid(), threading.current_thread() is threading.main_thread()),
            name="eduq-dbt-worker",
            daemon=True,
        )
        self.process.start()
        child.close()
        self._ready: bool | None = None
        self._lock = threading.Lock()

    def ready(self) -> bool:
        """Whether the worker imported dbt (waits until it has, or has failed)."""
        with self._lock:
            if self._ready is None:
                status, detail = self._receive_status()
                self._ready = status == "ready"
                if not self._ready:
                    log.warning("dbt's worker process is not available (%s): building here", detail)
            return self._ready

    def _receive_status(self) -> tuple[str, Any]:
        while True:
            try:
                status, detail = self.connection.recv()
            except (EOFError, OSError):
                return "failed", "the worker process ended"
            if status != "event":
                return status, detail
            print_out(detail)  # printed while dbt was imported

    def build(self, request: Any, listener: Any) -> str | None:
        """Have the worker run ``request``; ``listener`` hears its messages here. Returns what
        :func:`orchestration.dbt_build.execute` returns."""
        with self._lock:
            try:
                while True:
                    try:
                        if request is not None:
                            self.connection.send(request)
                            request = None
                        status, payload = self.connection.recv()
                    except (EOFError, OSError) as exc:
                        self.stop()
                        return (
                            "dbt build could not run: dbt's worker process ended during the build"
                            f" ({exc or type(exc).__name__})"
                        )
                    if status == "event":
                        listener(payload)
                    elif status == "done":
                        return payload
            except BaseException:
                self.stop()  # interrupted (Ctrl+C, SIGTERM) or the listener failed: no build goes on
                raise

    def stop(self) -> None:
        """End the worker now (a later run starts another)."""
        with _shared_lock:
            if _shared.get("worker") is self:
                del _shared["worker"]
        if self.process.is_alive():
            self.process.terminate()  # the worker releases its locks and ends
            self.process.join(timeout=2)
        if self.process.is_alive():
            self.process.kill()
        self.process.join(timeout=5)
        self.connection.close()

    def close(self) -> None:
        """End the worker when it is idle (at the caller's exit)."""
        close(self.connection, self.process)


def print_out(message: tuple) -> None:
    """A line the worker printed (``("out", stream, text)``), written to this process's stream."""
    if message and message[0] == "out":
        _, stream, text = message
        (sys.stderr if stream == "stderr" else sys.stdout).write(text)


def start() -> bool:
    """Start the worker process of this process if there is none (False: it could not start)."""
    with _shared_lock:
        if "worker" in _shared:
            return True
        try:
            worker = DbtWorker()
        except (OSError, RuntimeError) as exc:
            log.warning("could not start dbt's worker process (%s): dbt is imported here", exc)
            return False
        _shared["worker"] = worker
        atexit.register(worker.close)
        return True


def ready_worker() -> DbtWorker | None:
    """The worker of this process when it was started and imported dbt, else None (build here)."""
    with _shared_lock:
        worker = _shared.get("worker")
    if worker is None or not worker.ready():
        return None
    if not worker.process.is_alive():  # ended since (killed): this build is made here
        worker.stop()
        return None
    return worker
