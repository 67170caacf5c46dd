"""Readers: turn a landing file into a staged all-text DuckDB table with source row numbers.

Every reader produces the same thing, a :class:`StagedFile`: a SQL relation with columns
``_row_number`` (the row number a person sees when opening the file in a spreadsheet:
1-based, counting the title block, blank rows and the header; a CSV record with a quoted
line break is one row), ``_overflow`` (CSV only: number of cells of a row that has more
cells than the header, else NULL) and ``c0 .. cN`` (text cells of the columns under the
header). Rows whose cells are all empty are not data and are not part of the relation.
Typing and validation happen afterwards, in SQL, driven by the contract
(:mod:`ingestion.validate`), so that large files are parsed by DuckDB, not by Python.

CSV has two paths that give the same result:

* fast: DuckDB's parallel ``read_csv`` (Windows-1251 and UTF-16 are first transcoded to a
  temporary UTF-8 file). ``read_csv`` has no source row number, so the file's lines are
  counted as well; when every data line is exactly one record (no quoted line breaks, no
  blank lines in the middle) the row number is the position of the record.
* exact: when that does not hold, or DuckDB refuses the file (a row with more cells than
  the header, a stray quote), Python's ``csv`` module numbers every record itself.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import logging
import os
import re
import tempfile
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
from python_calamine import CalamineError, CalamineWorkbook, SheetVisibleEnum

from ingestion.contract import Contract, normalise_label
from ingestion.errors import (
    AmbiguousSheetsError,
    EmptyFileError,
    EncodingError,
    IngestionError,
    MissingColumnsError,
    OversizedWorkbookError,
    UnreadableFileError,
    UnrecognisedFileError,
)

HEADER_SCAN_ROWS = 30
DATA_PEEK_ROWS = (
    20  # rows below a header looked at to tell a table with data from an empty template
)
SNIFF_BYTES = 256 * 1024
READ_CHUNK = 8 * 1024 * 1024
BATCH_ROWS = 50_000
CSV_DELIMITERS = (";", "\t", ",")
XLSX_SUFFIXES = {".xlsx", ".xlsm", ".xls", ".xlsb", ".ods"}
CSV_SUFFIXES = {".csv", ".txt", ".tsv"}
log = logging.getLogger(__name__)


@dataclass
class HeaderMatch:
    """Where a contract's header was found and which file column is which canonical column."""

    row_index: int  # 0-based index of the (last) header row among the scanned rows
    mapping: dict[int, str]  # file column index -> canonical column name
    missing_required: list[str]
    width: int
    cells: Sequence[object]  # the header's cells as read
    header_rows: int = 1  # 2 when the header spans two rows (merged group cells above)

    @cached_property
    def headers(self) -> list[str]:
        """The header's cells as text (only the chosen header's are ever needed: not made for every
        candidate row a file's head offers)."""
        return [_cell_label(c) for c in self.cells]

    @property
    def score(self) -> int:
        return len(self.mapping)

    @property
    def complete(self) -> bool:
        return not self.missing_required


@dataclass
class FileLayout:
    """What sniffing found out about a file; serialisable to JSON for the load log."""

    kind: str  # "csv" | "xlsx"
    header_row: int  # 1-based row number of the (last) header row in the file
    width: int
    mapping: dict[int, str]
    headers: list[str]
    encoding: str | None = None
    delimiter: str | None = None
    sheet: str | None = None
    extra: dict[str, str] = field(default_factory=dict)
    header_lines: int | None = None  # CSV: physical lines up to and including the header
    header_rows: int = 1
    newline: str | None = None  # CSV: "\n" (also for \r\n) or "\r" (old Mac files)

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
            "header_lines": self.header_lines,
            "header_rows": self.header_rows,
            "newline": self.newline,
            "extra": self.extra,
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
            extra=data.get("extra") or {},
            header_lines=data.get("header_lines"),
            header_rows=data.get("header_rows", 1),
            newline=data.get("newline"),
        )


@dataclass
class StagedFile:
    """A file staged as text: ``relation`` is SQL over temp tables that ``tables`` lists."""

    relation: str
    rows_read: int
    tables: list[str]
    method: str  # how it was parsed: duckdb | python | calamine
    # True when no cell can start or end with a space nor hold a no-break space (the file's bytes
    # were scanned: :class:`CellEdges`): every cell's text is then the cell itself, and validation
    # skips the per-cell trimming tests (a third of its cost on a large file)
    plain_cells: bool = False


# --------------------------------------------------------------------------- header matching


def column_letter(index: int) -> str:
    """0 -> A, 25 -> Z, 26 -> AA: how a spreadsheet names a column."""
    letters = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


def _cell_label(cell: object) -> str:
    return "" if cell is None else str(cell).strip()


@dataclass(frozen=True)
class _HeaderIndex:
    """A contract's header spellings, computed once per contract: every normalised spelling -> the
    columns it names, in the contract's order (a spelling may name more than one), and the required
    columns' names."""

    columns: dict[str, tuple[str, ...]]
    required: tuple[str, ...]


_HEADER_INDEX: dict[int, tuple[Contract, _HeaderIndex]] = {}


def _header_index(contract: Contract) -> _HeaderIndex:
    cached = _HEADER_INDEX.get(id(contract))
    if cached is None or cached[0] is not contract:
        columns: dict[str, list[str]] = {}
        for column in contract.columns:
            for key in column.header_keys():
                columns.setdefault(key, []).append(column.name)
        index = _HeaderIndex(
            {key: tuple(names) for key, names in columns.items()},
            tuple(c.name for c in contract.required_columns),
        )
        cached = (contract, index)
        _HEADER_INDEX[id(contract)] = cached
    return cached[1]


def match_header(cells: Sequence[object], contract: Contract) -> HeaderMatch:
    """Map the cells of one candidate header row to the contract's canonical columns: a cell names
    the first column of the contract, not named by an earlier cell, that it spells."""
    index = _header_index(contract)
    mapping: dict[int, str] = {}
    taken: set[str] = set()
    for idx, cell in enumerate(cells):
        label = normalise_label(cell)
        if not label:
            continue
        for name in index.columns.get(label, ()):
            if name not in taken:
                mapping[idx] = name
                taken.add(name)
                break
    missing = [name for name in index.required if name not in taken]
    return HeaderMatch(0, mapping, missing, len(cells), cells)


def _two_row_header(upper: Sequence[object], lower: Sequence[object]) -> list[object]:
    """A header over two rows: the lower cell where there is one, else the (merged) upper cell."""
    width = max(len(upper), len(lower))
    up = list(upper) + [None] * (width - len(upper))
    low = list(lower) + [None] * (width - len(lower))
    return [lo if _cell_label(lo) else u for u, lo in zip(up, low)]


def best_header(rows: Sequence[Sequence[object]], contract: Contract) -> HeaderMatch | None:
    """The candidate header that matches the most contract columns.

    Candidates are every scanned row alone and every pair of consecutive rows read as one
    two-row header (a group title merged above sub-headers such as «2» «3» «4» «5»). Ties go
    to the complete match, then the one-row header, then the earlier row.
    """
    best: HeaderMatch | None = None
    for i, row in enumerate(rows):
        candidates = [(match_header(row, contract), 1)]
        if i + 1 < len(rows):
            candidates.append((match_header(_two_row_header(row, rows[i + 1]), contract), 2))
        for match, nrows in candidates:
            match.row_index = i + nrows - 1
            match.header_rows = nrows
            if not match.score:
                continue
            if best is None or (match.complete, match.score) > (best.complete, best.score):
                best = match
    return best


def _accepted(contract: Contract, name: str) -> str:
    column = contract.column(name)
    spellings = [*column.aliases, column.name]
    return f"{name} (accepted headers: {', '.join(f'«{s}»' for s in spellings)})"


def missing_columns_error(
    path: Path, contract: Contract, match: HeaderMatch | None, where: str = ""
) -> IngestionError:
    """One message naming the file, what is missing and which header spellings are accepted."""
    if match is None or match.score == 0:
        return UnrecognisedFileError(
            path,
            f"no header row of «{contract.title_ru}» ({contract.source}) in the first "
            f"{HEADER_SCAN_ROWS} rows{where}. Required columns: "
            + "; ".join(_accepted(contract, c.name) for c in contract.required_columns),
        )
    found = ", ".join(f"«{match.headers[i]}»" for i in sorted(match.mapping))
    return MissingColumnsError(
        path,
        f"the header in row {match.row_index + 1}{where} looks like «{contract.title_ru}» "
        f"({contract.source}) but lacks required columns: "
        + "; ".join(_accepted(contract, name) for name in match.missing_required)
        + f". Recognised columns: {found}",
    )


def _no_source_error(
    path: Path, best: tuple[Contract, HeaderMatch] | None, where: str, first_line: str
) -> IngestionError:
    if best is not None and best[1].score >= 2:
        return missing_columns_error(path, best[0], best[1], where)
    hint = f" The first non-empty row reads: «{first_line[:200]}»." if first_line else ""
    return UnrecognisedFileError(
        path,
        f"no header row of any known source in the first {HEADER_SCAN_ROWS} rows{where}.{hint} "
        "Put the file in a folder named after its source (e.g. landing/vpr_results/) to get the "
        "list of required columns, or check the delimiter (; , or tab) and the header row.",
    )


# --------------------------------------------------------------------------- CSV

_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)


def detect_encoding(head: bytes, path: Path | None = None) -> str:
    """UTF-8 (with or without BOM), UTF-16 (with BOM) or Windows-1251, the encodings regions send.

    When the sniffed head is plain ASCII the rest of the file is scanned for its first
    non-ASCII byte, so that a cp1251 file whose first 256 KB are digits is still recognised.
    """
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith(_UTF16_BOMS):
        return "utf-16"
    sample = head
    if head.isascii() and path is not None:
        with open(path, "rb") as fh:
            fh.seek(len(head))
            while chunk := fh.read(READ_CHUNK):
                if not chunk.isascii():
                    first = next(i for i, b in enumerate(chunk) if b >= 0x80)
                    sample = chunk[first : first + 4096]
                    break
    try:
        codecs.getincrementaldecoder("utf-8")().decode(
            sample, final=False
        )  # a cut last character is fine
        return "utf-8"
    except UnicodeDecodeError:
        return "cp1251"


_UTF8_CYRILLIC = re.compile(rb"[\xd0\xd1][\x80-\xbf]")


def mixes_utf8(sample: bytes) -> bool:
    """A text that is not valid UTF-8 but holds many UTF-8 Cyrillic letters mixes encodings.

    In Windows-1251 the UTF-8 Cyrillic byte pairs read as «Р»/«С» followed by punctuation
    or rare letters (the «РњР°С‚РµРјР°С‚РёРєР°» of a wrongly decoded file), which real
    Windows-1251 text hardly ever contains.
    """
    high = len(sample) - len(sample.translate(None, bytes(range(0x80, 0x100))))
    pairs = len(_UTF8_CYRILLIC.findall(sample))
    return pairs >= 4 and 2 * pairs >= 0.2 * high


def _decode_head(head: bytes, encoding: str) -> str:
    truncated = len(head) >= SNIFF_BYTES
    errors = "replace" if encoding == "cp1251" else "strict"
    text = codecs.getincrementaldecoder(encoding)(errors=errors).decode(head, final=not truncated)
    text = text.removeprefix("\ufeff")
    if truncated:  # the last line may be cut in the middle
        text = text[: text.rfind("\n") + 1] or text
    return text


def _physical_lines(text: str, newline: str) -> Iterator[str]:
    """The lines of ``text`` with their line ends, as they are read (the head's records are its
    first few dozen lines: the rest is not copied)."""
    parts = text.split(newline)
    for part in parts[:-1]:
        yield part + newline
    if parts[-1]:
        yield parts[-1]


def _head_records(
    text: str, delimiter: str, newline: str, limit: int
) -> list[tuple[list[str], int]]:
    """The first ``limit`` records with, for each, the physical lines read up to its end."""
    reader = csv.reader(_physical_lines(text, newline), delimiter=delimiter)
    records: list[tuple[list[str], int]] = []
    try:
        for row in reader:
            records.append((row, reader.line_num))
            if len(records) >= limit:
                break
    except csv.Error:
        pass  # a broken quote in the head: the records before it are still candidates
    return records


def sniff_csv(
    path: Path, contracts: Sequence[Contract]
) -> tuple[Contract, FileLayout, HeaderMatch]:
    with open(path, "rb") as fh:
        head = fh.read(SNIFF_BYTES)
    if not head.strip(b" \t\r\n\x00" + codecs.BOM_UTF8):
        raise EmptyFileError(path, "the file is empty (no rows at all)")
    if b"\x00" in head and not head.startswith(_UTF16_BOMS):
        raise UnreadableFileError(
            path,
            "is a binary file, not a CSV text table (save it from Excel as «CSV (разделители — точка с запятой)» or .xlsx)",
        )
    encoding = detect_encoding(head, path)
    if encoding == "cp1251" and mixes_utf8(head):
        raise EncodingError(
            path,
            "the file mixes UTF-8 and Windows-1251 text (was it pasted together from several files?); "
            "save it again in one encoding and resend",
        )
    try:
        text = _decode_head(head, encoding)
    except UnicodeDecodeError as exc:
        raise EncodingError(
            path, f"the text is not valid {encoding} ({exc.reason} at byte {exc.start})"
        ) from exc
    newline = "\n" if "\n" in text or "\r" not in text else "\r"
    best: tuple[Contract, str, HeaderMatch, list[tuple[list[str], int]]] | None = None
    for delim in CSV_DELIMITERS:
        records = _head_records(text, delim, newline, HEADER_SCAN_ROWS + DATA_PEEK_ROWS)
        rows = [r for r, _ in records[:HEADER_SCAN_ROWS]]
        for contract in contracts:
            match = best_header(rows, contract)
            if match is None:
                continue
            if best is None or (match.complete, match.score) > (best[2].complete, best[2].score):
                best = (contract, delim, match, records)
    if best is None or not best[2].complete:
        first_line = next((ln.strip() for ln in text.splitlines() if ln.strip()), "")
        if len(contracts) == 1:
            raise missing_columns_error(
                path, contracts[0], best[2] if best else None, _delimiter_hint(first_line)
            )
        raise _no_source_error(
            path, (best[0], best[2]) if best else None, _delimiter_hint(first_line), first_line
        )
    contract, delim, match, records = best
    layout = FileLayout(
        kind="csv",
        header_row=match.row_index + 1,
        width=match.width,
        mapping=match.mapping,
        headers=match.headers,
        encoding=encoding,
        delimiter=delim,
        header_lines=records[match.row_index][1],
        header_rows=match.header_rows,
        newline=newline,
    )
    return contract, layout, match


def _delimiter_hint(first_line: str) -> str:
    counts = {d: first_line.count(d) for d in ("|", ":", "^", "~")}
    other = max(counts, key=counts.get) if first_line else None
    if other and counts[other] >= 2 and not any(d in first_line for d in CSV_DELIMITERS):
        return f" (the file seems to use «{other}» as delimiter; accepted: «;», «,» or tab)"
    return ""


class CellEdges:
    """Watches a CSV text go by, chunk after chunk, for a cell that could start or end with a
    space or hold a no-break space: a space at the start or end of the text or next to the
    delimiter, a quote or a line break, or a no-break space anywhere.

    Such a cell is the only one whose text differs from the cell itself (``validate.text_expr``
    trims spaces and reads a no-break space as one); where none can exist the trimming tests are
    skipped. A cell cannot start or end with a space without one of these byte pairs (a cell is
    bounded by the delimiter, a line break, a quote or the ends of the text), so «none seen» is
    safe; a space next to a delimiter inside a quoted cell, or in the title lines, only costs the
    trimming tests. The text is UTF-8, or with ``windows_1251`` the file's own Windows-1251 bytes
    (ASCII is the same bytes; the no-break space is the byte A0).
    """

    SPACE, NBSP_LEAD, NBSP = 0x20, 0xC2, 0xA0

    def __init__(self, delimiter: str | None, windows_1251: bool = False) -> None:
        self.edge = np.zeros(256, dtype=bool)
        for ch in (delimiter or ";").encode("utf-8") + b'\r\n"':
            self.edge[ch] = True
        self.windows_1251 = windows_1251
        self.nbsp = b"\xa0" if windows_1251 else b"\xc2\xa0"
        self.tail: int | None = None  # the last byte so far: its right neighbour comes next
        self.found = False

    def feed(self, chunk: bytes) -> None:
        if self.found or not chunk:
            return
        a = np.frombuffer(chunk, dtype=np.uint8)
        first, tail = int(a[0]), self.tail
        self.tail = int(a[-1])
        if tail is None:
            boundary = first == self.SPACE  # a space at the very start
        else:  # the pair across the chunks
            boundary = (
                (tail == self.SPACE and self.edge[first])
                or (first == self.SPACE and self.edge[tail])
                or (len(self.nbsp) == 2 and tail == self.NBSP_LEAD and first == self.NBSP)
            )
        spaces = np.flatnonzero(a == self.SPACE)
        left = spaces[spaces >= 1]
        right = spaces[spaces < a.size - 1]
        self.found = bool(
            boundary
            or self.edge[a[left - 1]].any()
            or self.edge[a[right + 1]].any()
            or self.nbsp in chunk
        )

    def plain(self) -> bool:
        """No cell of the text seen can differ from its trimmed text (call after the last chunk)."""
        return not self.found and self.tail != self.SPACE


def _transcode(path: Path, encoding: str, edges: CellEdges | None = None) -> tuple[Path, int]:
    """Stream-transcode to a temporary UTF-8 file DuckDB can read; returns it and its '\\n' count.
    ``edges`` sees the text (Windows-1251: the file's bytes, else the UTF-8 written)."""
    fd, tmp = tempfile.mkstemp(suffix=".csv", prefix="eduq_")
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    newlines = 0
    try:
        with open(path, "rb") as src, os.fdopen(fd, "wb") as dst:
            while True:
                chunk = src.read(READ_CHUNK)
                try:
                    out = decoder.decode(chunk, final=not chunk).encode("utf-8")
                except UnicodeDecodeError as exc:
                    bad, line = _first_invalid_byte(path, encoding)
                    raise EncodingError(
                        path,
                        f"byte {bad} (line {line}) is not valid {encoding}: the file mixes encodings; "
                        "save it again as UTF-8 or Windows-1251",
                    ) from exc
                newlines += out.count(b"\n")
                if edges is not None:
                    edges.feed(chunk if edges.windows_1251 else out)
                dst.write(out)
                if not chunk:
                    break
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return Path(tmp), newlines


def _content_lines(path: Path, newlines: int | None = None, edges: CellEdges | None = None) -> int:
    """Physical lines of a UTF-8 file, not counting blank lines at its very end. ``edges`` sees
    the file's bytes when they are read here (``newlines`` not given)."""
    size = path.stat().st_size
    with open(path, "rb") as fh:
        if newlines is None:
            newlines = 0
            while chunk := fh.read(READ_CHUNK):
                newlines += chunk.count(b"\n")
                if edges is not None:
                    edges.feed(chunk)
        tail_size = min(size, 64 * 1024)
        fh.seek(size - tail_size)
        tail = fh.read(tail_size)
    stripped = tail.rstrip(b"\r\n")
    trailing = tail[len(stripped) :].count(b"\n")
    if not stripped and tail_size < size:  # 64 KB of blank lines: count the slow way
        return len([ln for ln in path.read_bytes().rstrip(b"\r\n").split(b"\n")])
    return newlines - trailing + 1


def stage_csv(
    con: duckdb.DuckDBPyConnection, path: Path, layout: FileLayout, table: str
) -> StagedFile:
    """Stage a CSV file as text (DuckDB when its lines are records, else Python's csv)."""
    if layout.newline == "\n" and layout.header_lines is not None:
        staged = _stage_csv_duckdb(con, path, layout, table)
        if staged is not None:
            return staged
    return _stage_csv_python(con, path, layout, table)


def _stage_csv_duckdb(
    con: duckdb.DuckDBPyConnection, path: Path, layout: FileLayout, table: str
) -> StagedFile | None:
    source, tmp, newlines = path, None, None
    encoding = layout.encoding or "cp1251"
    edges = CellEdges(layout.delimiter, windows_1251=encoding == "cp1251")
    if layout.encoding not in ("utf-8", "utf-8-sig"):
        tmp, newlines = _transcode(path, encoding, edges)
        source = tmp
    try:
        columns = {f"c{i}": "VARCHAR" for i in range(layout.width)}
        try:
            # (a create ... as gives the number of rows it wrote)
            (records,) = con.execute(
                f"""
                create or replace temp table {table} as
                select * from read_csv(
                    ?, delim = ?, header = false, skip = ?, columns = ?, quote = '"', escape = '"',
                    null_padding = true, all_varchar = true, auto_detect = false, encoding = 'utf-8'
                )
                """,
                [str(source), layout.delimiter, layout.header_lines, columns],
            ).fetchone()
        except duckdb.Error:
            con.execute(f"drop table if exists {table}")
            return (
                None  # quoted line breaks, a row wider than the header, a stray quote: exact path
            )
        data_lines = _content_lines(source, newlines, edges) - layout.header_lines
        if records != max(data_lines, 0):
            con.execute(f"drop table if exists {table}")
            return None  # blank lines or multi-line records: rowid is not the row number
    finally:
        if tmp is not None:
            tmp.unlink(missing_ok=True)
    first = layout.header_row + 1
    cells = ", ".join(f"c{i}" for i in range(layout.width))
    # rows of empty cells (";;;;" lines) are still here; validation drops them (they fail)
    relation = f"(select rowid + {first} as _row_number, cast(null as integer) as _overflow, {cells} from {table})"
    return StagedFile(relation, records, [table], "duckdb", plain_cells=edges.plain())


def _create_text_table(con: duckdb.DuckDBPyConnection, table: str, width: int) -> pa.Schema:
    con.execute(
        f"create or replace temp table {table} (_row_number bigint, _overflow integer, "
        + ", ".join(f"c{i} varchar" for i in range(width))
        + ")"
    )
    return pa.schema(
        [("_row_number", pa.int64()), ("_overflow", pa.int32())]
        + [(f"c{i}", pa.string()) for i in range(width)]
    )


class _Batcher:
    """Collects rows and appends them to a DuckDB table through Arrow, a batch at a time."""

    def __init__(self, con: duckdb.DuckDBPyConnection, table: str, width: int) -> None:
        self.con, self.table, self.width = con, table, width
        self.schema = _create_text_table(con, table, width)
        self.pending: list[tuple] = []
        self.rows = 0

    def add(self, row_number: int, overflow: int | None, cells: Sequence[str | None]) -> None:
        """``cells`` must have exactly ``width`` items."""
        self.pending.append((row_number, overflow, *cells))
        self.rows += 1
        if len(self.pending) >= BATCH_ROWS:
            self.flush()

    def flush(self) -> None:
        if not self.pending:
            return
        columns = list(zip(*self.pending, strict=True))
        batch = pa.Table.from_arrays(
            [pa.array(col, type=f.type) for col, f in zip(columns, self.schema, strict=True)],
            schema=self.schema,
        )
        self.con.register("_eduq_batch", batch)
        try:
            self.con.execute(f"insert into {self.table} select * from _eduq_batch")
        finally:
            self.con.unregister("_eduq_batch")
        self.pending = []


def _first_invalid_byte(path: Path, encoding: str) -> tuple[int, int]:
    """Offset (0-based) and physical line (1-based) of the first byte that does not decode."""
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    offset, newlines = 0, 0
    with open(path, "rb") as fh:
        while chunk := fh.read(READ_CHUNK):
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                bad = max(exc.start, 0)
                return offset + bad, newlines + chunk.count(b"\n", 0, bad) + 1
            newlines += chunk.count(b"\n")
            offset += len(chunk)
    return offset, newlines + 1


def _stage_csv_python(
    con: duckdb.DuckDBPyConnection, path: Path, layout: FileLayout, table: str
) -> StagedFile:
    encoding = layout.encoding or "utf-8"
    batcher = _Batcher(con, table, layout.width)
    width = layout.width
    csv.field_size_limit(64 * 1024 * 1024)
    record = 0
    try:
        with open(path, encoding=encoding, newline="") as fh:
            reader = csv.reader(fh, delimiter=layout.delimiter or ";", strict=True)
            for record, cells in enumerate(reader, start=1):
                if record <= layout.header_row:
                    continue
                if not any(c.strip() for c in cells):
                    continue  # a blank row is not data
                overflow = (
                    len(cells)
                    if len(cells) > width and any(c.strip() for c in cells[width:])
                    else None
                )
                values = [c if c != "" else None for c in cells[:width]]
                if len(values) < width:
                    values += [None] * (width - len(values))
                batcher.add(record, overflow, values)
    except UnicodeDecodeError as exc:
        offset, line = _first_invalid_byte(path, encoding)
        raise EncodingError(
            path,
            f"byte {offset} (line {line}) is not valid {encoding}: the file mixes encodings; "
            "save it again as UTF-8 or Windows-1251",
        ) from exc
    except csv.Error as exc:
        raise UnreadableFileError(
            path, f'cannot be parsed as CSV near row {record + 1}: {exc} (an unclosed quote «"»?)'
        ) from exc
    batcher.flush()
    return StagedFile(table, batcher.rows, [table], "python")


# --------------------------------------------------------------------------- XLSX


def _cell_text(value: object) -> str | None:
    """A spreadsheet cell as the text a person sees (whole numbers without «.0», ISO dates)."""
    kind = type(value)
    if kind is str:
        return value if value and not value.isspace() else None
    if kind is float:
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return repr(value)
    if value is None:
        return None
    if kind is bool:
        return "true" if value else "false"
    if kind is int:
        return str(value)
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat()
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    text = str(value)
    return text if text.strip() else None


# A workbook is a zip archive, and calamine holds a sheet in memory: before it opens one, the sizes
# its central directory declares are checked (nothing is unpacked to check them). Real sheets
# compress 5–30 times; a zip bomb compresses ~1000 times.
MAX_UNCOMPRESSED_BYTES = 1024**3  # 1 GiB of XML: millions of cells, far beyond a regional file
MAX_COMPRESSION_RATIO = 200
RATIO_CHECKED_FROM_BYTES = 16 * 1024**2  # small members may compress as they like


def check_archive(
    path: Path,
    max_uncompressed: int = MAX_UNCOMPRESSED_BYTES,
    max_ratio: float = MAX_COMPRESSION_RATIO,
) -> None:
    """Refuse a zip-based workbook (xlsx, xlsm, xlsb, ods) whose central directory declares more
    than ``max_uncompressed`` bytes, or a member compressed more than ``max_ratio`` times."""
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError):
        return  # not a zip (an .xls) or a damaged one: calamine says what is wrong
    names = {m.filename for m in members}
    if not names & {"[Content_Types].xml", "mimetype", "content.xml"}:  # OOXML or OpenDocument
        files = [m.filename for m in members if not m.is_dir()]
        shown = ", ".join(f"«{f}»" for f in files[:3]) + (
            f" and {len(files) - 3} more" if len(files) > 3 else ""
        )
        raise UnreadableFileError(
            path,
            f"a ZIP archive of {len(files)} file(s) ({shown or 'none'}), not an Excel workbook: "
            "unpack it and put its files in the landing folder / это ZIP-архив, распакуйте его",
        )
    total = sum(m.file_size for m in members)
    if total > max_uncompressed:
        raise OversizedWorkbookError(
            path,
            f"the workbook would unpack to {total / 1024**2:,.0f} MB, more than eduq reads "
            f"({max_uncompressed / 1024**2:,.0f} MB); it was not opened. Split it (e.g. one file "
            "per municipality) or send it as CSV / книга распаковывается в слишком большой объём, "
            "разделите её на несколько файлов или пришлите CSV",
        )
    for member in members:
        if member.file_size < RATIO_CHECKED_FROM_BYTES:
            continue
        ratio = member.file_size / max(member.compress_size, 1)
        if ratio > max_ratio:
            raise OversizedWorkbookError(
                path,
                f"part «{member.filename}» of the workbook unpacks {ratio:,.0f} times its packed "
                f"size ({member.file_size / 1024**2:,.0f} MB), as a zip bomb does; it was not "
                "opened. Open it in Excel, check it, save it again and resend / файл похож на "
                "zip-бомбу и не открыт",
            )


def _open_workbook(path: Path) -> CalamineWorkbook:
    check_archive(path)
    try:
        return CalamineWorkbook.from_path(str(path))
    except Exception as exc:  # calamine raises several error types for broken files
        raise UnreadableFileError(
            path,
            f"cannot be opened as an Excel workbook, it is damaged or incomplete ({exc}); "
            "open it in Excel, save it again and resend",
        ) from exc


def _sheet_rows(sheet) -> Iterator[list[object]]:
    """Rows of a sheet from row 1 and column A of the worksheet.

    python-calamine's ``iter_rows`` already starts at row 1 (it yields empty rows down to
    the used area) but starts at the first used column, so columns are padded on the left.
    """
    start = sheet.start or (0, 0)
    pad = [None] * start[1]
    for row in sheet.iter_rows():
        yield pad + list(row) if pad else list(row)


def _visible(workbook: CalamineWorkbook, name: str) -> bool:
    return all(
        m.visible == SheetVisibleEnum.Visible for m in workbook.sheets_metadata if m.name == name
    )


def _has_data(rows: Sequence[Sequence[object]], header_index: int) -> bool:
    return any(any(_cell_text(c) is not None for c in row) for row in rows[header_index + 1 :])


def sniff_xlsx(
    path: Path, contracts: Sequence[Contract]
) -> tuple[Contract, FileLayout, HeaderMatch]:
    workbook = _open_workbook(path)
    found: list[
        tuple[Contract, str, HeaderMatch, bool, bool]
    ] = []  # contract, sheet, match, data, visible
    first_line = ""
    try:
        for name in workbook.sheet_names:
            try:
                sheet = workbook.get_sheet_by_name(name)
            except CalamineError as exc:  # chart sheets and the like hold no table
                log.info("%s: sheet «%s» skipped (%s)", path.name, name, exc)
                continue
            head: list[list[object]] = []
            for row in _sheet_rows(sheet):
                head.append(row)
                if not first_line and any(_cell_text(c) for c in row):
                    first_line = " | ".join(t for c in row if (t := _cell_text(c)))
                if len(head) >= HEADER_SCAN_ROWS + DATA_PEEK_ROWS:
                    break
            for contract in contracts:
                match = best_header(head[:HEADER_SCAN_ROWS], contract)
                if match is not None:
                    found.append(
                        (
                            contract,
                            name,
                            match,
                            _has_data(head, match.row_index),
                            _visible(workbook, name),
                        )
                    )
    except IngestionError:
        raise
    except Exception as exc:
        raise UnreadableFileError(path, f"cannot be read as an Excel workbook ({exc})") from exc
    finally:
        workbook.close()
    if not found:
        if len(contracts) == 1:
            raise missing_columns_error(path, contracts[0], None, " of any sheet")
        raise _no_source_error(path, None, " of any sheet", first_line)
    found.sort(key=lambda f: (f[2].complete, f[2].score, f[3], f[4]), reverse=True)
    contract, sheet_name, match, _, _ = found[0]
    if not match.complete:
        if len(contracts) == 1:
            raise missing_columns_error(path, contract, match, f" of sheet «{sheet_name}»")
        raise _no_source_error(path, (contract, match), f" of sheet «{sheet_name}»", first_line)
    rivals = [
        f[1]
        for f in found[1:]
        if f[0] is contract and f[2].complete and f[3] and f[1] != sheet_name
    ]
    if rivals and found[0][3]:
        raise AmbiguousSheetsError(
            path,
            f"sheets {', '.join(f'«{s}»' for s in [sheet_name, *rivals])} all hold a table of "
            f"«{contract.title_ru}» ({contract.source}) with data; only one sheet per file is loaded. "
            "Keep the data in one sheet (or send one file per sheet) and resend",
        )
    layout = FileLayout(
        kind="xlsx",
        header_row=match.row_index + 1,
        width=match.width,
        mapping=match.mapping,
        headers=match.headers,
        sheet=sheet_name,
        header_rows=match.header_rows,
    )
    return contract, layout, match


def _merged_fill(sheet, header_row: int) -> dict[int, list[tuple[int, int, int]]]:
    """Merged ranges below the header, by row: (first column, last column, anchor row).

    A merged cell (a school name merged down over its subjects' rows) holds its value only
    in its top-left cell; every row of the range gets that value.
    """
    by_row: dict[int, list[tuple[int, int, int]]] = {}
    for (r0, c0), (r1, c1) in sheet.merged_cell_ranges or ():
        if r0 < header_row:  # title and header merges are not data (0-based r0 < 1-based header)
            continue
        for r in range(r0, r1 + 1):
            by_row.setdefault(r, []).append((c0, c1, r0))
    return by_row


def stage_xlsx(
    con: duckdb.DuckDBPyConnection, path: Path, layout: FileLayout, table: str
) -> StagedFile:
    workbook = _open_workbook(path)
    width = layout.width
    batcher = _Batcher(con, table, width)
    try:
        sheet = workbook.get_sheet_by_name(layout.sheet)
        merged = _merged_fill(sheet, layout.header_row)
        anchors: dict[
            tuple[int, int], str | None
        ] = {}  # (row, column) of a range's top-left -> value
        for index, row in enumerate(_sheet_rows(sheet)):
            row_number = index + 1
            if row_number <= layout.header_row:
                continue
            cells = [_cell_text(v) for v in row[:width]]
            if len(cells) < width:
                cells += [None] * (width - len(cells))
            for c0, c1, r0 in merged.get(index, ()):
                if r0 == index:
                    anchors[(r0, c0)] = cells[c0] if c0 < len(cells) else None
                value = anchors.get((r0, c0))
                for c in range(c0, min(c1 + 1, len(cells))):
                    if cells[c] is None:
                        cells[c] = value
            if all(c is None for c in cells):
                continue  # blank spacer rows are not data
            batcher.add(row_number, None, cells)
        batcher.flush()
    except IngestionError:
        raise
    except Exception as exc:
        raise UnreadableFileError(
            path, f"cannot be read as an Excel workbook, it is damaged or incomplete ({exc})"
        ) from exc
    finally:
        workbook.close()
    return StagedFile(table, batcher.rows, [table], "calamine")


# --------------------------------------------------------------------------- Parquet


def sniff_parquet(
    path: Path, contracts: Sequence[Contract]
) -> tuple[Contract, FileLayout, HeaderMatch]:
    """A Parquet file's columns are its header (canonical English names or the Russian ones)."""
    import pyarrow.parquet as pq

    try:
        schema = pq.read_schema(path)
        rows = pq.ParquetFile(path).metadata.num_rows
    except Exception as exc:
        raise UnreadableFileError(
            path, f"cannot be read as a Parquet file, it is damaged or incomplete ({exc})"
        ) from exc
    names = list(schema.names)
    best: tuple[Contract, HeaderMatch] | None = None
    for contract in contracts:
        match = match_header(names, contract)
        if best is None or (match.complete, match.score) > (best[1].complete, best[1].score):
            best = (contract, match)
    if best is None or not best[1].complete:
        if len(contracts) == 1:
            raise missing_columns_error(
                path, contracts[0], best[1] if best else None, " (Parquet columns)"
            )
        raise _no_source_error(
            path, best if best and best[1].score else None, " (Parquet columns)", ", ".join(names)
        )
    contract, match = best
    layout = FileLayout(
        kind="parquet",
        header_row=0,  # no header row: the first record is row 1
        width=len(names),
        mapping=match.mapping,
        headers=names,
        extra={"rows": str(rows)},
    )
    return contract, layout, match


def stage_parquet(
    con: duckdb.DuckDBPyConnection, path: Path, layout: FileLayout, table: str
) -> StagedFile:
    """DuckDB reads the file natively (in parallel); every cell becomes text for the one validation
    path every format shares, and the row number is the record's position in the file."""
    cells = ", ".join(
        f'cast("{name.replace(chr(34), chr(34) * 2)}" as varchar) as c{i}'
        for i, name in enumerate(layout.headers)
    )
    try:
        con.execute(
            f"""create or replace temp table {table} as
                select file_row_number + 1 as _row_number, cast(null as integer) as _overflow, {cells}
                from read_parquet(?, file_row_number = true)""",
            [str(path)],
        )
    except duckdb.Error as exc:
        con.execute(f"drop table if exists {table}")
        raise UnreadableFileError(
            path, f"cannot be read as a Parquet file ({str(exc).splitlines()[0]})"
        ) from exc
    rows = con.execute(f"select count(*) from {table}").fetchone()[0]
    return StagedFile(table, rows, [table], "duckdb-parquet")


# --------------------------------------------------------------------------- dispatch

PARQUET_MAGIC = b"PAR1"


def file_kind(path: Path) -> str:
    suffix = path.suffix.lower()
    with open(path, "rb") as fh:
        magic = fh.read(8)
    if magic.startswith(PARQUET_MAGIC):
        return "parquet"
    if magic.startswith((b"PK\x03\x04", b"\xd0\xcf\x11\xe0")):
        return "xlsx"  # a zip (xlsx, ods) or an OLE file (xls), whatever the name says
    if suffix in XLSX_SUFFIXES:
        return "xlsx"  # named as a workbook but not one: calamine explains what is wrong
    if suffix in CSV_SUFFIXES:
        return "csv"
    raise UnreadableFileError(
        path,
        f"unsupported file type «{suffix or '(none)'}»: send .xlsx, .csv (UTF-8 or Windows-1251) "
        "or .parquet",
    )


def sniff(path: Path, contracts: Sequence[Contract]) -> tuple[Contract, FileLayout]:
    """Find which source a file is and where its header is."""
    if path.stat().st_size == 0:
        raise EmptyFileError(path, "the file is empty (0 bytes)")
    kind = file_kind(path)
    sniffer = {"xlsx": sniff_xlsx, "parquet": sniff_parquet}.get(kind, sniff_csv)
    contract, layout, _ = sniffer(path, contracts)
    return contract, layout


def stage(con: duckdb.DuckDBPyConnection, path: Path, layout: FileLayout, table: str) -> StagedFile:
    if layout.kind == "xlsx":
        return stage_xlsx(con, path, layout, table)
    if layout.kind == "parquet":
        return stage_parquet(con, path, layout, table)
    return stage_csv(con, path, layout, table)


__all__ = [
    "FileLayout",
    "HeaderMatch",
    "StagedFile",
    "column_letter",
    "match_header",
    "sniff",
    "stage",
]
