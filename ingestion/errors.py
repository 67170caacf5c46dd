"""Errors a regional analyst can act on: each names the file and what was expected.

Every error here rejects a whole file: the loader moves it to ``landing/rejected/`` with a
``<name>.reason.txt`` beside it holding :attr:`IngestionError.message`, and records the
message in ``raw._load_log``. Problems with single rows are not exceptions: those rows go
to ``raw._quarantine`` (see :mod:`ingestion.validate`).
"""

from __future__ import annotations

from pathlib import Path

from core.errors import EduqError


class IngestionError(EduqError):
    """Base class for errors that reject a whole file."""

    def __init__(self, path: Path | str, message: str) -> None:
        self.path = Path(path)
        self.message = message
        super().__init__(f"{self.path.name}: {message}")


class UnreadableFileError(IngestionError):
    """The file is not a table we can read (corrupted, not CSV/XLSX, unparseable)."""


class EmptyFileError(UnreadableFileError):
    """The file has no bytes, or only blank lines."""


class EncodingError(UnreadableFileError):
    """The text is neither UTF-8 (with or without BOM), UTF-16 nor Windows-1251 throughout."""


class OversizedWorkbookError(UnreadableFileError):
    """A workbook would unpack to more than eduq reads in memory, or compresses like a zip bomb."""


class UnrecognisedFileError(IngestionError):
    """No contract's required columns were found in any sheet or header row."""


class MissingColumnsError(IngestionError):
    """The file belongs to a source but its header lacks required columns."""


class AmbiguousSheetsError(IngestionError):
    """Several sheets of a workbook hold data of the same source: which one is meant?"""


class NoDataRowsError(IngestionError):
    """The header was found but there is not a single data row below it."""


class MissingYearError(IngestionError):
    """The source needs a year and neither a column nor the file name gives one."""


class FileChangedWhileLoading(EduqError):
    """The file's bytes changed between the survey and the end of its load (still being copied in, or
    replaced): nothing of it is kept, it stays in the landing folder for the next run."""


class RowCountMismatchError(RuntimeError):
    """Internal invariant broken: rows read != rows loaded + rows quarantined (a bug, not bad data)."""
