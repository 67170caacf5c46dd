"""A DuckDB file held open by another process, as an analyst's session or a run holds it."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

HOLD = """
import sys, time, duckdb
con = duckdb.connect(sys.argv[1], read_only=sys.argv[2] == "read")
print("held", flush=True)
time.sleep(float(sys.argv[3]))
"""


@contextmanager
def held(path: Path, mode: str = "read", seconds: float = 60.0) -> Iterator[subprocess.Popen]:
    """``path`` open in another process (``mode`` read or write) for ``seconds`` or until the block
    ends; yields the process (its pid is the one DuckDB names)."""
    process = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(path), mode, str(seconds)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout.readline().strip() == "held"
        yield process
    finally:
        process.kill()
        process.wait()
