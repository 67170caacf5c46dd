"""Run a command and measure it: wall time, CPU time and peak memory of its whole process tree.

Peak memory is the largest sum of resident set sizes (VmRSS) over the process and all its
descendants, sampled from /proc every 50 ms (a process that lives shorter than that may be
missed; the tools measured here live seconds to minutes). CPU time is user + system of the
process and the descendants it waited for (os.wait4). With ``stamp_lines`` every line of the
log starts with the seconds since the start at which it was written (``   12.345 | text``), so
that the stages a tool prints can be timed from the outside.
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

SAMPLE_SECONDS = 0.05


@dataclass
class Measured:
    label: str
    seconds: float
    cpu_seconds: float
    peak_rss_bytes: int
    exit_code: int
    output_tail: str  # the last lines of stdout and stderr

    def to_json(self) -> dict[str, object]:
        return asdict(self)


def _children(pid: int) -> list[int]:
    found: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return found
    for task in tasks:
        try:
            with open(f"/proc/{pid}/task/{task}/children") as fh:
                found.extend(int(c) for c in fh.read().split())
        except OSError:
            continue
    return found


def _rss(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def tree_rss(pid: int) -> int:
    """Resident memory of a process and all its descendants, in bytes."""
    total, stack, seen = 0, [pid], set()
    while stack:
        p = stack.pop()
        if p in seen:
            continue
        seen.add(p)
        total += _rss(p)
        stack.extend(_children(p))
    return total


def run(
    label: str,
    command: list[str],
    *,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    log: Path | None = None,
    stamp_lines: bool = False,
) -> Measured:
    """Run `command` to the end and measure it; its output goes to `log` (or is kept in memory),
    each line prefixed with the seconds since the start when ``stamp_lines``.

    What earlier runs wrote is flushed to disk first (``os.sync``, not timed): a run started while the
    kernel still writes back the gigabytes a country build left in the page cache waits behind that
    writeback at its own commits (a country night measured 12.5–14.1 s after a sync, 13.5–20.0 s
    without one, alternating), which times the run before it, not this one."""
    os.sync()
    out_path = log or Path(os.devnull)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    peak = 0
    stamping = stamp_lines and log is not None
    with open(out_path, "w+b") if log else open(os.devnull, "wb") as sink:
        started = time.perf_counter()
        process = subprocess.Popen(
            command,
            env=env,
            cwd=cwd,
            stdout=subprocess.PIPE if stamping else sink,
            stderr=subprocess.STDOUT,
        )
        done = threading.Event()
        stamper = None
        if stamping:

            def stamp() -> None:
                assert process.stdout is not None
                for line in process.stdout:
                    sink.write(f"{time.perf_counter() - started:9.3f} | ".encode() + line)
                    sink.flush()

            stamper = threading.Thread(target=stamp, daemon=True)
            stamper.start()

        def sample() -> None:
            nonlocal peak
            while not done.is_set():
                peak = max(peak, tree_rss(process.pid))
                done.wait(SAMPLE_SECONDS)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - started
        done.set()
        sampler.join()
        if stamper is not None:
            # the pipe ends with the process, or with the last child still holding it
            stamper.join(timeout=30)
        process.returncode = os.waitstatus_to_exitcode(status)
        tail = ""
        if log:
            sink.flush()
            sink.seek(0)
            lines = sink.read().decode("utf-8", errors="replace").splitlines()
            if stamping:
                lines = [line.split(" | ", 1)[-1] for line in lines]
            tail = "\n".join(lines[-15:])
    return Measured(
        label=label,
        seconds=seconds,
        cpu_seconds=usage.ru_utime + usage.ru_stime,
        peak_rss_bytes=max(peak, usage.ru_maxrss * 1024),
        exit_code=process.returncode,
        output_tail=tail,
    )
