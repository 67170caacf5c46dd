"""Streaming, byte-deterministic CSV and XLSX writers.

Rows go to disk as they are produced: CSV through `csv.writer`, XLSX through openpyxl's
write-only workbook (rows are serialised to a temporary file, never kept in memory). Files
are written under a hidden name (`.name.part`, ignored by the landing scan) and renamed when
complete. XLSX files are made reproducible: fixed document properties and fixed timestamps
of the zip entries (openpyxl stamps both with the current time).
"""

from __future__ import annotations

import csv
import datetime as dt
import os
import re
import shutil
import zipfile
from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

FIXED_TIMESTAMP = dt.datetime(2000, 1, 1)
_ZIP_TIMESTAMP = (2000, 1, 1, 0, 0, 0)
_CORE_DATES = re.compile(rb"(<dcterms:(created|modified)[^>]*>)[^<]*(</dcterms:\2>)")


def _part_path(path: Path) -> Path:
    return path.with_name(f".{path.name}.part")


class Sink(ABC):
    """A file being written: rows counted, completed by `close`, removed by `abort`."""

    path: Path
    rows: int

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()

    @abstractmethod
    def write(self, row: Sequence[Any]) -> None: ...

    def write_many(self, rows: Sequence[Sequence[Any]]) -> None:
        for row in rows:
            self.write(row)

    @abstractmethod
    def close(self) -> None: ...

    @abstractmethod
    def abort(self) -> None: ...


class CsvSink(Sink):
    """A CSV file with a header row. encoding «utf-8-sig» writes the BOM."""

    def __init__(
        self,
        path: Path,
        header: Sequence[str],
        *,
        encoding: str = "utf-8",
        delimiter: str = ";",
        lineterminator: str = "\r\n",
    ) -> None:
        self.path = path
        self.rows = 0
        self._part = _part_path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        # kept open across calls and closed in close()/abort()
        self._file = open(self._part, "w", encoding=encoding, newline="")  # noqa: SIM115
        self._writer = csv.writer(self._file, delimiter=delimiter, lineterminator=lineterminator)
        self._writer.writerow(header)

    def write(self, row: Sequence[Any]) -> None:
        self._writer.writerow(row)
        self.rows += 1

    def write_many(self, rows: Sequence[Sequence[Any]]) -> None:
        self._writer.writerows(rows)
        self.rows += len(rows)

    def close(self) -> None:
        self._file.close()
        os.replace(self._part, self.path)

    def abort(self) -> None:
        self._file.close()
        self._part.unlink(missing_ok=True)


class XlsxSink(Sink):
    """One sheet: optional title rows (each merged across the table's width), blank rows,
    the header row, then data rows appended one by one."""

    def __init__(
        self,
        path: Path,
        sheet: str,
        header: Sequence[str],
        *,
        title: Sequence[str] = (),
        blank_rows: int = 1,
        widths: Sequence[float] | None = None,
    ) -> None:
        self.path = path
        self.rows = 0
        self._part = _part_path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        self._wb = Workbook(write_only=True)
        self._ws = self._wb.create_sheet(sheet)
        last = get_column_letter(len(header))
        for i, width in enumerate(widths or [], start=1):
            self._ws.column_dimensions[get_column_letter(i)].width = width
        for i, _ in enumerate(title, start=1):
            self._ws.merged_cells.add(f"A{i}:{last}{i}")
        bold = Font(bold=True)
        for text in title:
            self._ws.append([self._cell(text, bold)])
        if title:
            for _ in range(blank_rows):
                self._ws.append([])
        self._ws.append([self._cell(h, bold) for h in header])

    def _cell(self, value: Any, font: Font) -> WriteOnlyCell:
        cell = WriteOnlyCell(self._ws, value=value)
        cell.font = font
        return cell

    def write(self, row: Sequence[Any]) -> None:
        self._ws.append(list(row))
        self.rows += 1

    def close(self) -> None:
        props = self._wb.properties
        props.creator = "eduq synthetic region generator"
        props.created = props.modified = FIXED_TIMESTAMP
        raw = self._part.with_name(self._part.name + ".raw")
        try:
            self._wb.save(raw)
            normalise_zip(raw, self._part)
        finally:
            raw.unlink(missing_ok=True)
        os.replace(self._part, self.path)

    def abort(self) -> None:
        self._part.unlink(missing_ok=True)


def normalise_zip(source: Path, target: Path) -> None:
    """Copy a zip (an XLSX) with fixed entry timestamps and fixed document dates."""
    stamp = FIXED_TIMESTAMP.strftime("%Y-%m-%dT%H:%M:%SZ").encode()
    with zipfile.ZipFile(source) as src, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            out = zipfile.ZipInfo(info.filename, date_time=_ZIP_TIMESTAMP)
            out.compress_type = zipfile.ZIP_DEFLATED
            out.external_attr = 0o644 << 16
            if info.filename == "docProps/core.xml":
                data = _CORE_DATES.sub(lambda m: m.group(1) + stamp + m.group(3), src.read(info))
                dst.writestr(out, data)
                continue
            with (
                src.open(info) as reader,
                dst.open(out, "w", force_zip64=info.file_size > 2**31) as writer,
            ):
                shutil.copyfileobj(reader, writer, 1 << 20)
