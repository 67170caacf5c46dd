"""Errors a regional analyst can act on: each names the file and what was expected."""

from __future__ import annotations

from pathlib import Path


class IngestionError(Exception):
    """Base class for errors that reject a whole file."""

    def __init__(self, path: Path | str, message: str) -> None:
        self.path = Path(path)
        self.message = message
        super().__init__(f"{self.path.name}: {message}")


class UnreadableFileError(IngestionError):
    """The file is not a table we can read (corrupted, empty, not CSV/XLSX)."""


class UnrecognisedFileError(IngestionError):
    """No contract's required columns were found in any sheet or header row."""


class MissingColumnsError(IngestionError):
    """The file belongs to a source but lacks required columns."""


class MissingYearError(IngestionError):
    """The source needs a year and neither a column nor the file name gives one."""
