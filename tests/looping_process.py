"""A Python script run as a separate process that loops until told to stop (a reader querying a
warehouse while the pipeline runs): it writes what it has seen so far to status.json and, when the
stop file appears, its report to report.json. Used by the readers of the concurrency tests."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any


class LoopingScript:
    """Runs ``script`` as ``python reader.py *leading stop status report *trailing``."""

    def __init__(
        self, script: str, folder: Path, leading: Sequence[str], trailing: Sequence[str] = ()
    ) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.stop_file = folder / "stop"
        self.status_file = folder / "status.json"
        self.report_file = folder / "report.json"
        path = folder / "reader.py"
        path.write_text(script, encoding="utf-8")
        self.process = subprocess.Popen(
            [
                sys.executable,
                str(path),
                *leading,
                str(self.stop_file),
                str(self.status_file),
                str(self.report_file),
                *trailing,
            ]
        )

    def status(self) -> Any:
        """What the script has written to status.json so far (None before its first write)."""
        try:
            return json.loads(self.status_file.read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return None

    def builds(self) -> list:
        """The states seen so far, in order (each script says how it writes them)."""
        raise NotImplementedError

    def wait_for(self, condition: Callable[[list], bool], timeout: float = 60) -> bool:
        deadline = time.time() + timeout
        while time.time() < deadline:
            if condition(self.builds()):
                return True
            if self.process.poll() is not None:
                return False
            time.sleep(0.05)
        return False

    def stop(self) -> dict:
        self.stop_file.write_text("stop")
        self.process.wait(timeout=60)
        return json.loads(self.report_file.read_text())
