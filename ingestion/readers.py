"""Readers: turn a landing file into a staged all-text DuckDB table with source row numbers.

Every reader produces the same thing: a temporary DuckDB table ``<name>`` with columns
``_row_number`` (the row number a person sees when opening the file: 1-based, counting the
title block and the header) and ``c0 .. cN`` (text cells of the columns under the header).
Typing and validation happen afterwards, in SQL, driven by the contract
(:mod:`ingestion.validate`), so that large files are parsed by DuckDB, not by Python.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt

import os
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pyarrow as pa

from ingestion.contract import Contract, normalise_label
from ingestion.errors import MissingColumnsError, UnreadableFileError, UnrecognisedFileError

HEADER_SCAN_ROWS = 30
SNIFF_BYTES = 256 * 1024
XLSX_BATCH_ROWS = 50_000
CSV_DELIMITERS = (";", "\t", ",")
XLSX_SUFFIXES = {".xlsx", ".xlsm"}
CSV_SUFFIXES = {".csv", ".txt", ".tsv"}


@dataclass
class HeaderMatch:
    """Where a contract's header was found and which file column is which canonical column."""

    row_index: int  # 0-based index of the header among the scanned rows/lines
    mapping: dict[int, str]  # file column index -> canonical column name
    missing_required: list[str]
    width: int
    headers: list[str]

    @property
    def score(self) -> int:
        return len(self.mapping)


@dataclass
class FileLayout:
    """What sniffing found out about a file; serialisable to JSON for the load log."""

    kind: str  # "csv" | "xlsx"
    header_row: int  # 1-based row number of the header in the file
    width: int
    mapping: dict[int, str]
    headers: list[str]
    encoding: str | None = None
    delimiter: str | None = None
    sheet: str | None = None
    extra: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict:
        return {
            "kind": self.kind,
            "header_row": self.header_row,
            "width": self.width,
            "mapping": {str(k): v for k, v in self.mapping.items()},
            "headers": self.headers,
            "encoding": self.encoding,
            "delimiter": self.delimiter,
            "sheet": self.sheet,
        }

    @classmethod
    def from_json(cls, data: dict) -> FileLayout:
        return cls(
            kind=data["kind"],
            header_row=data["header_row"],
            width=data["width"],
            mapping={int(k): v for k, v in data["mapping"].items()},
            headers=data["headers"],
            encoding=data.get("encoding"),
            delimiter=data.get("delimiter"),
            sheet=data.get("sheet"),
        )


def match_header(cells: Sequence[object], contract: Contract) -> HeaderMatch:
    """Map the cells of one candidate header row to the contract's canonical columns."""
    keys = {c.name: c.header_keys() for c in contract.columns}
    mapping: dict[int, str] = {}
    taken: set[str] = set()
    for idx, cell in enumerate(cells):
        label = normalise_label(cell)
        if not label:
            continue
        for name, aliases in keys.items():
            if name not in taken and label in aliases:
                mapping[idx] = name
                taken.add(name)
                break
    missing = [c.name for c in contract.required_columns if c.name not in taken]
    return HeaderMatch(0, mapping, missing, len(cells), [str(c or "") for c in cells])


def best_header(rows: Sequence[Sequence[object]], contract: Contract) -> HeaderMatch | None:
    """The candidate row that matches the most contract columns (ties: the first)."""
    best: HeaderMatch | None = None
    for i, row in enumerate(rows):
        match = match_header(row, contract)
        match.row_index = i
        if match.score and (best is None or match.score > best.score):
            best = match
    return best


def missing_columns_error(path: Path, contract: Contract, match: HeaderMatch | None) -> Exception:
    if match is None or match.score == 0:
        return UnrecognisedFileError(
            path, f"no header row of «{contract.title_ru}» ({contract.source}) found in the first "
            f"{HEADER_SCAN_ROWS} rows of any sheet"
        )
    details = "; ".join(
        f"{name} (accepted headers: {', '.join(contract.column(name).aliases)})"
        for name in match.missing_required
    )
    return MissingColumnsError(
        path, f"header in row {match.row_index + 1} lacks required columns of "
        f"{contract.source}: {details}"
    )


# --------------------------------------------------------------------------- CSV


def detect_encoding(head: bytes) -> str:
    """UTF-8 (with or without BOM) or Windows-1251, the encodings regions send."""
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    try:
        head.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError as exc:
        # a multi-byte character cut at the end of the sniffed block is still UTF-8
        if exc.start >= len(head) - 3:
            return "utf-8"
        return "cp1251"


def _csv_head_rows(text: str, delimiter: str) -> list[list[str]]:
    lines = text.splitlines()[:HEADER_SCAN_ROWS]
    return list(csv.reader(lines, delimiter=delimiter))


def sniff_csv(path: Path, contracts: Sequence[Contract]) -> tuple[Contract, FileLayout, HeaderMatch]:
    with open(path, "rb") as fh:
        head = fh.read(SNIFF_BYTES)
    if not head.strip():
        raise UnreadableFileError(path, "the file is empty")
    encoding = detect_encoding(head)
    text = head.decode(encoding, errors="replace")
    best: tuple[Contract, str, HeaderMatch] | None = None
    for contract in contracts:
        for delim in CSV_DELIMITERS:
            match = best_header(_csv_head_rows(text, delim), contract)
            if match is None:
                continue
            key = (not match.missing_required, match.score)
            if best is None or key > (not best[2].missing_required, best[2].score):
                best = (contract, delim, match)
    if best is None or best[2].missing_required:
        if len(contracts) == 1:
            raise missing_columns_error(path, contracts[0], best[2] if best else None)
        raise UnrecognisedFileError(path, "no header row matching any known source was found")
    contract, delim, match = best
    layout = FileLayout(
        kind="csv",
        header_row=match.row_index + 1,
        width=match.width,
        mapping=match.mapping,
        headers=match.headers,
        encoding=encoding,
        delimiter=delim,
    )
    return contract, layout, match


def _utf8_copy(path: Path, encoding: str) -> Path:
    """Stream-transcode a Windows-1251 file to a temporary UTF-8 file DuckDB can read."""
    fd, tmp = tempfile.mkstemp(suffix=".csv", prefix="eduq_")
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    with open(path, "rb") as src, os.fdopen(fd, "w", encoding="utf-8", newline="") as dst:
        while chunk := src.read(8 * 1024 * 1024):
            dst.write(decoder.decode(chunk))
        dst.write(decoder.decode(b"", final=True))
    return Path(tmp)


def stage_csv(con: duckdb.DuckDBPyConnection, path: Path, layout: FileLayout, table: str) -> int:
    """Load a CSV file as text into ``table``; returns the number of data rows read."""
    source = path
    tmp: Path | None = None
    if layout.encoding == "cp1251":
        tmp = source = _utf8_copy(path, "cp1251")
    try:
        columns = {f"c{i}": "VARCHAR" for i in range(layout.width)}
        con.execute(
            f"""
            create or replace temp table {table} as
            select * from read_csv(
                ?, delim = ?, header = false, skip = ?, columns = ?, quote = '"', escape = '"',
                null_padding = true, all_varchar = true, auto_detect = false
            )
            """,
            [str(source), layout.delimiter, layout.header_row, columns],
        )
    except duckdb.Error as exc:
        raise UnreadableFileError(path, f"cannot be parsed as CSV: {exc}") from exc
    finally:
        if tmp is not None:
            tmp.unlink(missing_ok=True)
    _number_rows(con, table, layout.header_row)
    return con.execute(f"select count(*) from {table}").fetchone()[0]


def _number_rows(con: duckdb.DuckDBPyConnection, table: str, header_row: int) -> None:
    # insertion order is preserved, so rowid follows the order of the file
    con.execute(
        f"create or replace temp table {table} as "
        f"select rowid + {header_row + 1} as _row_number, * from {table}"
    )


# --------------------------------------------------------------------------- XLSX


def _cell_text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if value.is_integer():
            return str(int(value))
        return repr(value)
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    text = str(value)
    return text if text.strip() else None


def _open_workbook(path: Path):
    from python_calamine import CalamineWorkbook

    try:
        return CalamineWorkbook.from_path(str(path))
    except Exception as exc:  # calamine raises several error types for broken files
        raise UnreadableFileError(path, f"cannot be opened as an Excel workbook: {exc}") from exc


def _sheet_rows(sheet) -> Iterator[list[object]]:
    """Rows of a sheet from row 1 of the worksheet (calamine starts at the used area)."""
    start = sheet.start or (0, 0)
    for _ in range(start[0]):
        yield []
    for row in sheet.iter_rows():
        yield [None] * start[1] + list(row)


def sniff_xlsx(path: Path, contracts: Sequence[Contract]) -> tuple[Contract, FileLayout, HeaderMatch]:
    workbook = _open_workbook(path)
    best: tuple[Contract, str, HeaderMatch] | None = None
    try:
        for name in workbook.sheet_names:
            try:
                sheet = workbook.get_sheet_by_name(name)
            except Exception:  # chart sheets and the like
                continue
            head: list[list[object]] = []
            for row in _sheet_rows(sheet):
                head.append(row)
                if len(head) >= HEADER_SCAN_ROWS:
                    break
            for contract in contracts:
                match = best_header(head, contract)
                if match is None:
                    continue
                key = (not match.missing_required, match.score)
                if best is None or key > (not best[2].missing_required, best[2].score):
                    best = (contract, name, match)
    finally:
        workbook.close()
    if best is None or best[2].missing_required:
        if len(contracts) == 1:
            raise missing_columns_error(path, contracts[0], best[2] if best else None)
        raise UnrecognisedFileError(path, "no sheet has a header row matching any known source")
    contract, sheet_name, match = best
    layout = FileLayout(
        kind="xlsx",
        header_row=match.row_index + 1,
        width=match.width,
        mapping=match.mapping,
        headers=match.headers,
        sheet=sheet_name,
    )
    return contract, layout, match


def stage_xlsx(con: duckdb.DuckDBPyConnection, path: Path, layout: FileLayout, table: str) -> int:
    workbook = _open_workbook(path)
    names = ["_row_number"] + [f"c{i}" for i in range(layout.width)]
    schema = pa.schema([("_row_number", pa.int64())] + [(n, pa.string()) for n in names[1:]])
    con.execute(
        f"create or replace temp table {table} (_row_number bigint, "
        + ", ".join(f"c{i} varchar" for i in range(layout.width))
        + ")"
    )
    try:
        sheet = workbook.get_sheet_by_name(layout.sheet)
        batch: list[list[object]] = [[] for _ in names]
        for row_number, row in enumerate(_sheet_rows(sheet), start=1):
            if row_number <= layout.header_row:
                continue
            cells = [_cell_text(v) for v in row[: layout.width]]
            if not any(c is not None for c in cells):
                continue  # blank spacer rows are not data
            cells += [None] * (layout.width - len(cells))
            batch[0].append(row_number)
            for i, cell in enumerate(cells, start=1):
                batch[i].append(cell)
            if len(batch[0]) >= XLSX_BATCH_ROWS:
                _flush(con, table, batch, schema)
                batch = [[] for _ in names]
        _flush(con, table, batch, schema)
    except UnreadableFileError:
        raise
    except Exception as exc:
        raise UnreadableFileError(path, f"cannot be read as an Excel workbook: {exc}") from exc
    finally:
        workbook.close()
    return con.execute(f"select count(*) from {table}").fetchone()[0]


def _flush(con: duckdb.DuckDBPyConnection, table: str, batch: list[list], schema: pa.Schema) -> None:
    if not batch[0]:
        return
    arrow_batch = pa.Table.from_arrays([pa.array(col, type=f.type) for col, f in zip(batch, schema)], schema=schema)
    con.register("_eduq_batch", arrow_batch)
    con.execute(f"insert into {table} select * from _eduq_batch")
    con.unregister("_eduq_batch")


# --------------------------------------------------------------------------- dispatch


def file_kind(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in XLSX_SUFFIXES:
        return "xlsx"
    if suffix in CSV_SUFFIXES:
        return "csv"
    with open(path, "rb") as fh:
        magic = fh.read(4)
    if magic == b"PK\x03\x04":
        return "xlsx"
    raise UnreadableFileError(path, f"unsupported file type {suffix or '(none)'}: expected .xlsx or .csv")


def sniff(path: Path, contracts: Sequence[Contract]) -> tuple[Contract, FileLayout]:
    """Find which source a file is and where its header is."""
    if path.stat().st_size == 0:
        raise UnreadableFileError(path, "the file is empty")
    kind = file_kind(path)
    contract, layout, _ = (sniff_xlsx if kind == "xlsx" else sniff_csv)(path, contracts)
    return contract, layout


def stage(con: duckdb.DuckDBPyConnection, path: Path, layout: FileLayout, table: str) -> int:
    if layout.kind == "xlsx":
        return stage_xlsx(con, path, layout, table)
    return stage_csv(con, path, layout, table)


__all__ = ["FileLayout", "HeaderMatch", "sniff", "stage", "match_header"]
