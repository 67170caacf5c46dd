"""The life of a worker process (Great Expectations', gate/expectations/gx_runner.py; dbt's,
orchestration/dbt_worker.py): it starts what it serves, says whether it is ready, then answers its
caller's requests one at a time until the caller says it is done (None) or is gone."""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Callable
from typing import Any


def serve(
    connection: Any,
    start: Callable[[], Any],
    answer: Callable[[Any, Any], tuple],
    send: Callable[[tuple], None] | None = None,
) -> None:
    """Run a worker: ``start()`` (its imports), then ``answer(started, request)`` for every request
    of ``connection``, each reply sent back. A worker ignores Ctrl+C, which a terminal sends to the
    whole process group: its caller stops, and ends the worker (a KeyboardInterrupt here printed
    its traceback under the caller's message)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    send = send or connection.send
    try:
        started = start()
        send(("ready", None))
    except BaseException as exc:  # noqa: BLE001 — reported to the caller, which does without
        send(("failed", f"{type(exc).__name__}: {exc}"))
        return
    while True:
        try:
            request = connection.recv()
        except EOFError:
            request = None
        if request is None:
            connection.close()
            leave(0)
        send(answer(started, request))


def leave(code: int) -> None:
    """End the worker without the interpreter's shutdown (seconds with Great Expectations or dbt
    loaded; a worker has nothing to flush between requests), its multiprocessing locks released
    first: dbt makes them, and the caller's resource tracker would warn at the caller's exit of
    every one left."""
    from multiprocessing import util

    # the caller's tracker may be gone (the caller killed): it has cleaned up itself then
    with contextlib.suppress(Exception):
        util._run_finalizers()
    os._exit(code)


def close(connection: Any, process: Any) -> None:
    """The caller's side: end an idle worker (asked to stop, waited for 5 s, then terminated)."""
    with contextlib.suppress(OSError, ValueError):
        connection.send(None)
    process.join(timeout=5)
    if process.is_alive():
        process.terminate()
