"""The disk fills up during the load and during the promotion: the run fails with a message (no
traceback), nothing is promoted or published; once space is freed, the next run completes and
publishes exactly what a run that never saw the fault publishes.

The home lives on a small tmpfs made by the test (root only; skipped elsewhere); when the run
announces the stage, a filler file takes every free byte of it. `make reliability`."""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
from pathlib import Path

import pytest

from tests.reliability.kill import (
    EDUQ,
    ROOT,
    STAGE_LINE,
    STAGES,
    env_for,
    published_bytes,
    run_eduq,
)

pytestmark = pytest.mark.reliability
TODAY = "2025-11-01"


@pytest.fixture()
def small_fs(tmp_path: Path):
    mount = tmp_path / "fs"
    mount.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a size-limited file system needs root")
    made = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=256m", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
        check=False,
    )
    if made.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {made.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _fill(folder: Path) -> Path:
    """Take every free byte of the file system of ``folder``."""
    filler = folder / "filler.bin"
    stat = os.statvfs(folder)
    free = stat.f_bavail * stat.f_frsize
    with open(filler, "wb") as fh:
        try:
            os.posix_fallocate(fh.fileno(), 0, max(free - 4096, 4096))
        except OSError:
            pass
        chunk = b"\0" * (1 << 20)
        try:
            while True:
                fh.write(chunk)
                fh.flush()
        except OSError:
            pass
    return filler


def _run_filling_at(home: Path, stage: str, fs: Path) -> tuple[subprocess.CompletedProcess, str]:
    proc = subprocess.Popen(
        [str(EDUQ), "run"],
        cwd=ROOT,
        env=env_for(home, TODAY),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: list[str] = []

    def watch() -> None:
        filled = False
        for line in proc.stderr:
            lines.append(line)
            match = STAGE_LINE.match(line.strip())
            if not filled and match and match.group(1).startswith(STAGES[stage]):
                _fill(fs)
                filled = True

    reader = threading.Thread(target=watch, daemon=True)
    reader.start()
    out = proc.stdout.read()
    proc.wait(timeout=900)
    reader.join(timeout=30)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, "".join(lines)), out


@pytest.mark.parametrize("stage", ["load", "promote"])
def test_a_full_disk_fails_the_run_cleanly_and_nothing_is_lost(
    stage: str, small_fs: Path, tmp_path: Path
) -> None:
    from synthetic import generate_region

    delivered = tmp_path / "delivered"
    generate_region(delivered, seed=4, schools=12, years=(2022, 2023, 2024))
    clean_home = tmp_path / "clean"
    shutil.copytree(delivered, clean_home / "landing")
    clean = run_eduq(clean_home, TODAY)
    assert clean.returncode == 0, clean.stderr[-2000:]
    expected = published_bytes(clean_home, 2025)

    home = small_fs / "home"
    shutil.copytree(delivered, home / "landing")
    failed, _ = _run_filling_at(home, stage, small_fs)
    assert failed.returncode not in (0, None)
    text = failed.stdout + failed.stderr
    shown = [line for line in text.splitlines() if not line.startswith(("  loading", "  dbt", "["))]
    print(f"disk full during {stage}: exit code {failed.returncode}\n" + "\n".join(shown[-6:]))
    assert "Traceback" not in text
    assert "No space left on device" in text or "space" in text.lower(), text[-3000:]
    assert not (home / "warehouse" / "serving.duckdb").exists()  # nothing promoted
    assert not list(home.glob("publications/*/v*"))  # nothing published
    assert not list((home / "warehouse").glob(".serving.duckdb.*.tmp"))

    (small_fs / "filler.bin").unlink()  # space is freed
    resumed = run_eduq(home, TODAY)
    assert resumed.returncode == 0, resumed.stderr[-3000:] + resumed.stdout[-2000:]
    assert published_bytes(home, 2025) == expected
