"""The run lock with real processes: a second writer on the same home waits, then refuses with a
message naming the holder; a holder killed with SIGKILL leaves no stuck lock (the kernel releases
its flock) and the next writer says it cleared a stale lock."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from core.run_lock import HomeLocked, is_locked, lock_path, read_holder, writer_lock

ROOT = Path(__file__).resolve().parents[2]
EDUQ = Path(sys.executable).with_name("eduq")

HOLDER = """
import sys
from pathlib import Path
from core.run_lock import writer_lock
with writer_lock(Path(sys.argv[1]), "holder", wait_seconds=float(sys.argv[2])):
    print("held", flush=True)
    sys.stdin.readline()  # hold until told to go (or killed)
print("released", flush=True)
"""


def start_holder(home: Path, wait: float = 0.0) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(home), str(wait)],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout.readline().strip() == "held"
    return proc


def test_second_writer_refuses_naming_the_holder(tmp_path: Path) -> None:
    holder = start_holder(tmp_path)
    try:
        assert is_locked(tmp_path)
        with (
            pytest.raises(HomeLocked) as refused,
            writer_lock(tmp_path, "`eduq run`", wait_seconds=0.3),
        ):
            pytest.fail("two writers on one home")
        message = str(refused.value)
        assert f"PID {holder.pid}" in message
        assert "Другой процесс eduq уже записывает" in message
        assert "Another eduq process is writing" in message
        assert "`eduq run`" in message
    finally:
        holder.communicate("go\n", timeout=30)
    assert holder.returncode == 0
    assert not is_locked(tmp_path)
    assert lock_path(tmp_path).read_text() == ""  # released cleanly: no holder recorded


def test_second_writer_waits_for_the_first(tmp_path: Path) -> None:
    holder = start_holder(tmp_path)
    got: list[int] = []

    def second() -> None:
        with writer_lock(tmp_path, "second", wait_seconds=60):
            got.append(json.loads(lock_path(tmp_path).read_text())["pid"])

    thread = threading.Thread(target=second)
    thread.start()
    assert not got
    holder.communicate("go\n", timeout=30)  # the first finishes: the waiting one proceeds
    thread.join(timeout=60)
    assert got == [os.getpid()]


def test_killed_holder_leaves_a_stale_lock_that_is_cleared(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    holder = start_holder(tmp_path)
    holder.send_signal(signal.SIGKILL)
    holder.wait(timeout=30)
    assert read_holder(tmp_path).pid == holder.pid  # the file still names the dead process
    assert not is_locked(tmp_path)  # but the kernel released its flock
    with (
        caplog.at_level(logging.WARNING, logger="eduq.lock"),
        writer_lock(tmp_path, "next run", wait_seconds=0),
    ):
        assert read_holder(tmp_path).pid == os.getpid()
    assert f"stale lock of a process that no longer runs (PID {holder.pid}" in caplog.text


def test_lock_is_reentrant_within_a_process(tmp_path: Path) -> None:
    with writer_lock(tmp_path, "outer", wait_seconds=0):
        with writer_lock(tmp_path, "inner (the Dagster job under the CLI)", wait_seconds=0):
            assert is_locked(tmp_path)
        assert is_locked(tmp_path)
    assert not is_locked(tmp_path)


def _eduq(home: Path, *args: str) -> subprocess.Popen:
    env = {
        **os.environ,
        "EDUQ_HOME": str(home),
        "EDUQ_LOCK_WAIT_SECONDS": "0.5",
        "DAGSTER_HOME": str(home / "dagster"),
    }
    return subprocess.Popen(
        [str(EDUQ), *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.reliability
def test_eduq_run_and_publish_refuse_while_another_writer_runs(tmp_path: Path) -> None:
    """The CLI: `eduq run` (with a file waiting) and `eduq publish` while another process holds the
    home: exit code 75, one clear message, no traceback, nothing written."""
    (tmp_path / "landing").mkdir(parents=True)
    (tmp_path / "landing" / "schools_2024.csv").write_text(
        "school_id;school_name;year\nsch1;Школа 1;2024\n", encoding="utf-8"
    )
    (tmp_path / "warehouse").mkdir()
    (tmp_path / "warehouse" / "serving.duckdb").write_bytes(b"")  # publish gets as far as the lock
    holder = start_holder(tmp_path)
    try:
        started = [_eduq(tmp_path, "run"), _eduq(tmp_path, "publish", "--year", "2025")]
        results = [(p.wait(timeout=300), *p.communicate()) for p in started]
    finally:
        holder.communicate("go\n", timeout=30)
    for code, out, err in results:
        assert code == 75, err
        assert "Another eduq process is writing" in err
        assert f"PID {holder.pid}" in err
        assert "Traceback" not in err + out
    assert not (tmp_path / "warehouse" / "candidate.duckdb").exists()
    assert (tmp_path / "landing" / "schools_2024.csv").exists()


def test_dagster_run_refuses_while_the_cli_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run launched by the schedule or a sensor (any job run with the eduq resource) does not
    start while another process holds the home."""
    import dagster as dg

    from orchestration.resources import EduqResource

    @dg.asset(required_resource_keys={"eduq"})
    def touches_home(context) -> None:
        (Path(context.resources.eduq.settings().home) / "written").write_text("x")

    monkeypatch.setenv("EDUQ_LOCK_WAIT_SECONDS", "0.3")
    holder = start_holder(tmp_path)
    try:
        result = dg.materialize(
            [touches_home],
            resources={"eduq": EduqResource(home=str(tmp_path))},
            raise_on_error=False,
        )
    finally:
        holder.communicate("go\n", timeout=30)
    assert not result.success
    assert not (tmp_path / "written").exists()
    ok = dg.materialize(
        [touches_home], resources={"eduq": EduqResource(home=str(tmp_path))}
    )  # free again
    assert ok.success and (tmp_path / "written").exists()
