"""Progress of a run: which stage it is in and, while loading, files and rows done of the total with
a rate and an estimate.

Stages report through the standard logger ``eduq.progress`` (records carry structured fields), so the
same reports become plain lines in a log file or under Dagster, and a progress line on a terminal
when `eduq run` installs :class:`TerminalProgress`. Reporting is cheap: one record per stage, per
loaded file and per few dbt nodes.
"""

from __future__ import annotations

import logging
import sys
import time
from typing import IO, Any

log = logging.getLogger("eduq.progress")
ESTIMATE_AFTER_SHARE = 0.05  # an estimate of the time left only once it rests on 5% of the bytes
ESTIMATE_AFTER_SECONDS = 3.0  # or on 3 seconds of loading


def _emit(message: str, **fields: Any) -> None:
    log.info(message, extra={"eduq_progress": fields})


def stage(name: str) -> None:
    """A new stage of the run begins (load, dbt build, audit, promotion, publication)."""
    _emit(f"stage: {name}", kind="stage", name=name)


def files_to_load(files: int, size_bytes: int) -> None:
    """The survey found this much to load."""
    _emit(
        f"to load: {files} file(s), {size_bytes / 1e6:.1f} MB",
        kind="total",
        files=files,
        bytes=size_bytes,
    )


def file_loaded(name: str, source: str, size_bytes: int, rows: int, seconds: float) -> None:
    rate = rows / seconds if seconds > 0 else 0.0
    _emit(
        f"loaded {name} ({source}): {rows} rows in {seconds:.1f} s ({rate:,.0f} rows/s)",
        kind="file",
        name=name,
        source=source,
        bytes=size_bytes,
        rows=rows,
        seconds=seconds,
    )


def nodes_done(done: int, total: int, name: str) -> None:
    _emit(f"dbt: {done}/{total} nodes ({name})", kind="dbt", done=done, total=total, name=name)


def note(text: str) -> None:
    """Something the run's log keeps (not drawn on the terminal): e.g. the years a model computed."""
    _emit(text, kind="note")


def _human(seconds: float) -> str:
    seconds = max(seconds, 0)
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.1f} min"


class TerminalProgress(logging.Handler):
    """Renders progress records: one updating line on a terminal, plain lines elsewhere."""

    def __init__(self, stream: IO[str] | None = None) -> None:
        super().__init__(logging.INFO)
        self.stream = stream or sys.__stderr__
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.started = time.perf_counter()
        self.total_files = self.total_bytes = 0
        self.done_files = self.done_bytes = self.done_rows = 0
        self.load_seconds = 0.0
        self.started_load: float | None = None
        self._line_open = False

    def _write(self, text: str, final: bool) -> None:
        if self.tty:
            self.stream.write("\r\x1b[2K" + text + ("\n" if final else ""))
            self._line_open = not final
        else:
            self.stream.write(text + "\n")
        self.stream.flush()

    def _load_line(self) -> str:
        # the estimate extrapolates the loading time so far (not the run's start-up) by bytes, and
        # is shown once it rests on something: 5% of the bytes or 3 seconds of loading
        elapsed = time.perf_counter() - (self.started_load or self.started)
        rate = self.done_rows / self.load_seconds if self.load_seconds else 0.0
        line = (
            f"  loading: {self.done_files}/{self.total_files} files, {self.done_rows:,} rows, "
            f"{rate:,.0f} rows/s"
        )
        if self.total_bytes and self.done_bytes:
            share = min(self.done_bytes / self.total_bytes, 1.0)
            line += f", {share:.0%} of {self.total_bytes / 1e6:.0f} MB"
            if share < 1.0 and (share >= ESTIMATE_AFTER_SHARE or elapsed >= ESTIMATE_AFTER_SECONDS):
                line += f", about {_human(elapsed / share - elapsed)} left"
        return line

    def emit(self, record: logging.LogRecord) -> None:
        fields = getattr(record, "eduq_progress", None)
        if not fields:
            return
        kind = fields.get("kind")
        if kind == "stage":
            if self._line_open:
                self._write(self._last, True)
            self._write(f"[{_human(time.perf_counter() - self.started):>6}] {fields['name']}", True)
        elif kind == "total":
            self.total_files += fields["files"]
            self.total_bytes += fields["bytes"]
            if self.started_load is None:
                self.started_load = time.perf_counter()
        elif kind == "file":
            self.done_files += 1
            self.done_bytes += fields["bytes"]
            self.done_rows += fields["rows"]
            self.load_seconds += fields["seconds"]
            self._last = self._load_line()
            self._write(self._last, not self.tty)
        elif kind == "dbt":
            self._last = f"  dbt build: {fields['done']}/{fields['total']} nodes ({fields['name']})"
            done, total = fields["done"], max(fields["total"], 1)
            # a terminal redraws one line; a log gets a line at each quarter of the build
            if self.tty or done == total or (4 * done // total) != (4 * (done - 1) // total):
                self._write(self._last, not self.tty)

    def close(self) -> None:
        if self._line_open:
            self._write(self._last, True)
        super().close()


def show_on(stream: IO[str] | None = None) -> TerminalProgress:
    """Install a terminal renderer for the progress records (returns it, to remove it later)."""
    handler = TerminalProgress(stream)
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    return handler


def hide(handler: TerminalProgress) -> None:
    handler.close()
    log.removeHandler(handler)
