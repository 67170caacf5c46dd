"""One writer at a time on an EDUQ_HOME: the run lock.

Every command that writes the warehouse or the publications (`eduq run`, `eduq publish`, `eduq
report`, `eduq card`, `eduq pg-publish`, `eduq rebuild`) and every Dagster run of the jobs
(schedule, sensors, the UI) holds an exclusive ``flock`` on ``$EDUQ_HOME/eduq.lock`` for its whole
duration. A second writer waits up to ``EDUQ_LOCK_WAIT_SECONDS`` (default 10 s) and then refuses with
a message naming the holder (PID, command, start time).

The kernel releases a ``flock`` when its holder dies, however it dies (``kill -9``, a power cut of
the process): a lock is never "stuck". The file itself stays, with the dead holder's PID in it; the
next writer sees that this PID no longer runs, says that it cleared a stale lock, and takes it.

The lock is re-entrant within a process (the CLI holds it, then the Dagster job it executes in
process asks for it again): ``flock`` locks belong to an open file description, so a second
``open`` + ``flock`` in the same process would wait for itself.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import logging
import os
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from core.errors import EduqError

LOCK_NAME = "eduq.lock"
POLL_SECONDS = 0.1
log = logging.getLogger("eduq.lock")

_held: dict[str, tuple[int, int]] = {}  # lock path -> (fd, depth) held by this process
_guard = threading.Lock()


class HomeLocked(EduqError):
    """Another eduq process is writing to the same EDUQ_HOME."""


@dataclass(frozen=True)
class Holder:
    pid: int | None
    command: str
    since: str

    def describe(self) -> str:
        pid = f"PID {self.pid}" if self.pid else "PID unknown"
        return f"{pid}, `{self.command}`, since {self.since}" if self.command else pid


def lock_path(home: Path) -> Path:
    return home / LOCK_NAME


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    return True


def _read_holder(fd: int) -> Holder | None:
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        text = os.read(fd, 4096).decode("utf-8", "replace").strip()
    except OSError:
        return None
    if not text:
        return None
    try:
        data = json.loads(text)
        return Holder(
            int(data.get("pid") or 0) or None,
            str(data.get("command", "")),
            str(data.get("since", "")),
        )
    except (ValueError, TypeError, AttributeError):
        return Holder(None, text[:200], "")


def read_holder(home: Path) -> Holder | None:
    """Who holds (or last held) the lock of ``home``, from the lock file."""
    path = lock_path(home)
    if not path.exists():
        return None
    fd = os.open(path, os.O_RDONLY)
    try:
        return _read_holder(fd)
    finally:
        os.close(fd)


def is_locked(home: Path) -> bool:
    """True when a live process holds the lock of ``home`` (a probe; takes nothing)."""
    path = lock_path(home)
    if str(path) in _held:
        return True
    if not path.exists():
        return False
    fd = os.open(path, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


def _command() -> str:
    argv = [os.path.basename(sys.argv[0]) if sys.argv else "python", *sys.argv[1:4]]
    return " ".join(argv)[:200]


def _refusal(home: Path, holder: Holder | None, waited: float, purpose: str) -> HomeLocked:
    who = holder.describe() if holder else "PID unknown"
    return HomeLocked(
        f"Другой процесс eduq уже записывает в {home} ({who}); {purpose} не запущен, чтобы не "
        f"было двух писателей. Дождитесь окончания и повторите.\n"
        f"Another eduq process is writing to {home} ({who}); waited {waited:.0f} s, so {purpose} "
        f"did not start (never two writers on a warehouse or a publication folder). Wait for it to "
        f"finish and try again."
    )


@contextlib.contextmanager
def writer_lock(
    home: Path, purpose: str = "this run", wait_seconds: float = 10.0
) -> Iterator[None]:
    """Hold the writer lock of ``home`` for the block; wait up to ``wait_seconds`` for it, then raise
    :class:`HomeLocked`. Re-entrant within a process."""
    home.mkdir(parents=True, exist_ok=True)
    path = lock_path(home)
    key = str(path)
    with _guard:
        if key in _held:
            fd, depth = _held[key]
            _held[key] = (fd, depth + 1)
            reentered = True
        else:
            reentered = False
    if reentered:
        try:
            yield
        finally:
            with _guard:
                fd, depth = _held[key]
                _held[key] = (fd, depth - 1)
        return

    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    started = time.monotonic()
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                waited = time.monotonic() - started
                if waited >= wait_seconds:
                    raise _refusal(home, _read_holder(fd), waited, purpose) from None
                time.sleep(POLL_SECONDS)
        previous = _read_holder(fd)
        stale = previous is not None and previous.pid and previous.pid != os.getpid()
        if stale and not pid_alive(previous.pid):
            log.warning(
                "stale lock of a process that no longer runs (%s) cleared", previous.describe()
            )
        record = {
            "pid": os.getpid(),
            "command": _command(),
            "since": dt.datetime.now().isoformat(timespec="seconds"),
        }
        os.ftruncate(fd, 0)
        os.pwrite(fd, (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8"), 0)
    except BaseException:
        os.close(fd)
        raise
    with _guard:
        _held[key] = (fd, 1)
    try:
        yield
    finally:
        with _guard:
            _held.pop(key, None)
        try:
            os.ftruncate(fd, 0)  # released cleanly: no holder any more
        except OSError:
            pass
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
