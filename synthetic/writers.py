"""Streaming, byte-deterministic CSV and XLSX writers.

Rows go to disk as they are produced: CSV through `csv.writer`, XLSX as the sheet's XML
streamed into its zip entry (never kept in memory). Files are written under a hidden name
(`.name.part`, ignored by the landing scan) and renamed when complete. XLSX files are
reproducible: fixed document properties and fixed timestamps of the zip entries.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import math
import numbers
import os
import re
import zipfile
from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Self
from xml.sax.saxutils import escape as xml_escape

import numpy as np
from openpyxl.utils import get_column_letter

FIXED_TIMESTAMP = dt.datetime(2000, 1, 1)
_ZIP_TIMESTAMP = (2000, 1, 1, 0, 0, 0)


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
    the header row, then data rows appended one by one (titles and header bold).

    The sheet's XML is written as rows come, straight into its zip entry (openpyxl's write-only
    workbook took ~1 s of the demo region's ~4 s: a cell object and an XML element a cell); the
    other parts of the workbook are fixed. Strings are inline; numbers, booleans and dates (as
    Excel serial numbers with a date format) typed; an empty cell is left out."""

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
        self._zip = zipfile.ZipFile(self._part, "w", zipfile.ZIP_DEFLATED)
        try:
            for name, text in _workbook_parts(sheet).items():
                self._zip.writestr(_zip_entry(name), text.encode("utf-8"))
            self._sheet = self._zip.open(_zip_entry(_SHEET), "w")
            last = get_column_letter(len(header))
            merged = "".join(f'<mergeCell ref="A{i}:{last}{i}"/>' for i in range(1, len(title) + 1))
            self._tail = "</sheetData>" + (
                f'<mergeCells count="{len(title)}">{merged}</mergeCells>' if title else ""
            )
            cols = "".join(
                f'<col min="{i}" max="{i}" width="{_number(w)}" customWidth="1"/>'
                for i, w in enumerate(widths or [], start=1)
            )
            self._row = 0
            self._put(_SHEET_HEAD + (f"<cols>{cols}</cols>" if cols else "") + "<sheetData>")
            for text in title:
                self._append([text], _BOLD)
            if title:
                self._row += blank_rows
            self._append(header, _BOLD)
        except BaseException:
            self.abort()
            raise

    def _put(self, text: str) -> None:
        self._sheet.write(text.encode("utf-8"))

    def _append(self, values: Sequence[Any], style: int = 0) -> None:
        self._row += 1
        n = self._row
        cells = "".join(
            _cell(f"{_LETTERS[i]}{n}", v, style) for i, v in enumerate(values) if v is not None
        )
        self._put(f'<row r="{n}">{cells}</row>')

    def write(self, row: Sequence[Any]) -> None:
        self._append(row)
        self.rows += 1

    def close(self) -> None:
        self._put(self._tail + "</worksheet>")
        self._sheet.close()
        self._zip.close()
        os.replace(self._part, self.path)

    def abort(self) -> None:
        with contextlib.suppress(Exception):
            self._sheet.close()
        with contextlib.suppress(Exception):
            self._zip.close()
        self._part.unlink(missing_ok=True)


_SHEET = "xl/worksheets/sheet1.xml"
_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_RELS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PACKAGE_RELS = "http://schemas.openxmlformats.org/package/2006/relationships"
_XML = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
_SHEET_HEAD = f'{_XML}<worksheet xmlns="{_MAIN}" xmlns:r="{_RELS}">'
_LETTERS = [get_column_letter(i) for i in range(1, 257)]
_BOLD, _DATE, _DATETIME = 1, 2, 3  # cell formats of styles.xml
_EXCEL_EPOCH = dt.datetime(1899, 12, 30)
_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")  # not allowed in XML 1.0


def _zip_entry(name: str) -> zipfile.ZipInfo:
    entry = zipfile.ZipInfo(name, date_time=_ZIP_TIMESTAMP)
    entry.compress_type = zipfile.ZIP_DEFLATED
    entry.external_attr = 0o644 << 16
    return entry


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _cell(ref: str, value: Any, style: int) -> str:
    s = f' s="{style}"' if style else ""
    if isinstance(value, str):
        if _ILLEGAL.search(value):
            raise ValueError(f"cell {ref}: a character XML cannot hold in {value!r}")
        text = xml_escape(value)
        space = ' xml:space="preserve"' if value != value.strip() else ""
        return f'<c r="{ref}" t="inlineStr"{s}><is><t{space}>{text}</t></is></c>'
    if isinstance(value, bool | np.bool_):
        return f'<c r="{ref}" t="b"{s}><v>{int(value)}</v></c>'
    if isinstance(value, numbers.Integral):
        return f'<c r="{ref}"{s}><v>{int(value)}</v></c>'
    if isinstance(value, numbers.Real):
        if not math.isfinite(value):
            raise ValueError(f"cell {ref}: {value!r} is not a number a spreadsheet holds")
        return f'<c r="{ref}"{s}><v>{float(value)!r}</v></c>'
    if isinstance(value, dt.datetime):
        serial = (value - _EXCEL_EPOCH) / dt.timedelta(days=1)
        return f'<c r="{ref}" s="{_DATETIME}"><v>{serial!r}</v></c>'
    if isinstance(value, dt.date):
        serial = (value - _EXCEL_EPOCH.date()).days
        return f'<c r="{ref}" s="{_DATE}"><v>{serial}</v></c>'
    raise TypeError(f"cell {ref}: a {type(value).__name__} is not written to a spreadsheet")


def _workbook_parts(sheet: str) -> dict[str, str]:
    """The workbook's parts but its sheet: one sheet named ``sheet``, fonts and formats of _cell's
    styles (normal, bold, date, date and time), fixed document properties."""
    stamp = FIXED_TIMESTAMP.strftime("%Y-%m-%dT%H:%M:%SZ")
    content = "application/vnd.openxmlformats-officedocument"
    return {
        "[Content_Types].xml": _XML
        + '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        f'<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        f'<Override PartName="/xl/workbook.xml" ContentType="{content}.spreadsheetml.sheet.main+xml"/>'
        f'<Override PartName="/{_SHEET}" ContentType="{content}.spreadsheetml.worksheet+xml"/>'
        f'<Override PartName="/xl/styles.xml" ContentType="{content}.spreadsheetml.styles+xml"/>'
        '<Override PartName="/docProps/core.xml" '
        'ContentType="application/vnd.openxmlformats-package.core-properties+xml"/>'
        f'<Override PartName="/docProps/app.xml" ContentType="{content}.extended-properties+xml"/>'
        "</Types>",
        "_rels/.rels": _XML + f'<Relationships xmlns="{_PACKAGE_RELS}">'
        f'<Relationship Id="rId1" Type="{_RELS}/officeDocument" Target="xl/workbook.xml"/>'
        '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/package/2006/'
        'relationships/metadata/core-properties" Target="docProps/core.xml"/>'
        f'<Relationship Id="rId3" Type="{_RELS}/extended-properties" Target="docProps/app.xml"/>'
        "</Relationships>",
        "docProps/app.xml": _XML
        + f'<Properties xmlns="{_RELS.rsplit("/", 1)[0]}/extended-properties">'
        "<Application>eduq synthetic region generator</Application></Properties>",
        "docProps/core.xml": _XML
        + '<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/'
        'core-properties" xmlns:dc="http://purl.org/dc/elements/1.1/" '
        'xmlns:dcterms="http://purl.org/dc/terms/" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
        "<dc:creator>eduq synthetic region generator</dc:creator>"
        f'<dcterms:created xsi:type="dcterms:W3CDTF">{stamp}</dcterms:created>'
        f'<dcterms:modified xsi:type="dcterms:W3CDTF">{stamp}</dcterms:modified>'
        "</cp:coreProperties>",
        "xl/workbook.xml": _XML + f'<workbook xmlns="{_MAIN}" xmlns:r="{_RELS}"><sheets>'
        f'<sheet name="{xml_escape(sheet, {chr(34): "&quot;"})}" sheetId="1" r:id="rId1"/>'
        "</sheets></workbook>",
        "xl/_rels/workbook.xml.rels": _XML + f'<Relationships xmlns="{_PACKAGE_RELS}">'
        f'<Relationship Id="rId1" Type="{_RELS}/worksheet" Target="worksheets/sheet1.xml"/>'
        f'<Relationship Id="rId2" Type="{_RELS}/styles" Target="styles.xml"/>'
        "</Relationships>",
        "xl/styles.xml": _XML + f'<styleSheet xmlns="{_MAIN}">'
        '<numFmts count="2"><numFmt numFmtId="164" formatCode="yyyy-mm-dd"/>'
        '<numFmt numFmtId="165" formatCode="yyyy-mm-dd h:mm:ss"/></numFmts>'
        '<fonts count="2"><font><sz val="11"/><name val="Calibri"/><family val="2"/></font>'
        '<font><b val="1"/><sz val="11"/><name val="Calibri"/><family val="2"/></font></fonts>'
        '<fills count="2"><fill><patternFill/></fill><fill><patternFill patternType="gray125"/>'
        "</fill></fills>"
        '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
        '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/>'
        "</cellStyleXfs>"
        '<cellXfs count="4"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
        '<xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1"/>'
        '<xf numFmtId="164" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
        '<xf numFmtId="165" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
        "</cellXfs>"
        '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
        "</styleSheet>",
    }
