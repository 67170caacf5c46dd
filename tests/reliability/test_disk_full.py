"""The disk fills up during the load, the dbt build, the promotion, and the publication of the marts
files and of the list: the run fails with a message naming the full disk (no traceback); nothing is
promoted (load, dbt, promotion) and nothing is half-published (every published version folder is
complete, no staging folder is left); once space is freed, the next run completes and publishes
exactly what a run that never saw the fault publishes.

The home lives on a small tmpfs made by the test (root only; skipped elsewhere); when the run
announces the stage (the load: when half of its files are loaded), it is paused (SIGSTOP), a filler
file takes every free byte, and it goes on (SIGCONT). `make reliability`."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import threading
from pathlib import Path

import pytest

from tests.reliability.kill import (
    EDUQ,
    ROOT,
    STAGE_LINE,
    STAGES,
    check_publications,
    env_for,
    published_bytes,
    run_eduq,
)

pytestmark = pytest.mark.reliability
LOADING = re.compile(r"^loading: (\d+)/(\d+) files")
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
    # unbuffered: a buffered file kept the bytes a full disk refused and raised ENOSPC again when it
    # closed, which ended the thread that reads the run's output (the run's message was lost)
    with open(filler, "wb", buffering=0) as fh:
        try:
            os.posix_fallocate(fh.fileno(), 0, max(free - 4096, 4096))
        except OSError:
            pass
        chunk = b"\0" * (1 << 20)
        try:
            while fh.write(chunk):
                pass
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

    def due(line: str) -> bool:
        if stage == "load":  # inside the load: once half of the files are loaded
            done = LOADING.match(line.strip())
            return bool(done) and 2 * int(done.group(1)) >= int(done.group(2))
        match = STAGE_LINE.match(line.strip())
        return bool(match) and match.group(1).startswith(STAGES[stage])

    def watch() -> None:
        filled = False
        for line in proc.stderr:
            lines.append(line)
            if not filled and due(line):
                # the run is paused while the disk fills: a small step (the list's three files)
                # would otherwise be written before the filler took the space
                os.kill(proc.pid, signal.SIGSTOP)
                try:
                    _fill(fs)
                finally:
                    os.kill(proc.pid, signal.SIGCONT)
                filled = True

    reader = threading.Thread(target=watch, daemon=True)
    reader.start()
    out = proc.stdout.read()
    proc.wait(timeout=900)
    reader.join(timeout=30)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, "".join(lines)), out


@pytest.fixture(scope="module")
def clean_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """The delivered files, and the bytes a run that never saw the fault publishes."""
    from synthetic import generate_region

    folder = tmp_path_factory.mktemp("disk_full")
    delivered = folder / "delivered"
    generate_region(delivered, seed=4, schools=12, years=(2022, 2023, 2024))
    clean_home = folder / "clean"
    shutil.copytree(delivered, clean_home / "landing")
    clean = run_eduq(clean_home, TODAY)
    assert clean.returncode == 0, clean.stderr[-2000:]
    expected = published_bytes(clean_home, 2025)
    assert {k.split("/")[0] for k in expected} == {"list", "marts"}
    return delivered, expected


BEFORE_PROMOTION = ("load", "dbt", "promote")


@pytest.mark.parametrize("stage", ["load", "dbt", "promote", "publish_marts", "publish_list"])
def test_a_full_disk_fails_the_run_cleanly_and_nothing_is_lost(
    stage: str, small_fs: Path, clean_run: tuple[Path, dict[str, str]]
) -> None:
    delivered, expected = clean_run
    home = small_fs / "home"
    shutil.copytree(delivered, home / "landing")
    failed, _ = _run_filling_at(home, stage, small_fs)
    assert failed.returncode == 1  # a failed run (3 would be an error eduq did not foresee)
    text = failed.stdout + failed.stderr
    shown = [line for line in text.splitlines() if not line.startswith(("  loading", "  dbt", "["))]
    print(f"disk full during {stage}: exit code {failed.returncode}\n" + "\n".join(shown[-6:]))
    assert "Traceback" not in text
    assert "No space left on device" in text, text[-3000:]  # what failed, and why
    assert "The disk is full" in text and "free space there and run `eduq run` again" in text
    if stage not in BEFORE_PROMOTION:
        assert "The publication of list year 2025 failed" in text
    publications = home / "publications"
    if stage in BEFORE_PROMOTION:
        assert not (home / "warehouse" / "serving.duckdb").exists()  # nothing promoted
        assert not list(publications.glob("*/v*"))  # nothing published
    else:  # promoted, then the publication failed: the serving file is the audited one
        from gate.promote import serving_integrity

        assert serving_integrity(home / "warehouse" / "serving.duckdb") is None
        assert not list(publications.glob("*/v*"))  # the list was not published
    assert not list((home / "warehouse").glob(".serving.duckdb.*.tmp"))
    assert check_publications(publications) == []  # every version folder is complete
    assert not [p for p in publications.rglob(".*staging*")]  # no half-written version left

    (small_fs / "filler.bin").unlink()  # space is freed
    resumed = run_eduq(home, TODAY)
    assert resumed.returncode == 0, resumed.stderr[-3000:] + resumed.stdout[-2000:]
    assert published_bytes(home, 2025) == expected
