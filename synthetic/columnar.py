"""Fast writers for country-sized sets: result blocks and context tables to CSV or Parquet.

CSV text is not formatted row by row. A results row is the concatenation of a few pieces, each
taken from a small vocabulary of ready-encoded byte strings:

    ВПР:     «2024;sch011234;5;Русский язык;2024-011234-05» + «017;23;3;явка\\r\\n»
    ОГЭ/ЕГЭ: «2024;101234;ОГЭ;Математика;2024-011234-09» + «017» + «;выпускник ...;основной;9;;3;явка\\r\\n»

(the school's part per school, the participant number and the result per procedure), joined by
Arrow's `binary_join_element_wise`; the joined array's data buffer is the file's text, already
in Windows-1251, written as it is. Small context tables go through `pyarrow.csv`. Parquet files
get typed columns under the contracts' canonical names.

Files are written under hidden `.name.part` names (ignored by the landing scan) and renamed when
complete, as `writers.py` does.
"""

from __future__ import annotations

import datetime as dt
import io
import os
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from .batch import (
    ABSENT,
    ADDITIONAL,
    ANNULLED,
    MAIN,
    PAST,
    PRESENT,
    RESERVE,
    Block,
    mark_of,
    max_value,
    primary_of_test,
)
from .procedures import Procedure
from .results import ADDITIONAL as WAVE_ADDITIONAL
from .results import CURRENT as CATEGORY_CURRENT
from .results import MAIN as WAVE_MAIN
from .results import PAST as CATEGORY_PAST
from .results import RESERVE as WAVE_RESERVE
from .results import STATUS_RU

CATEGORY_RU = {0: CATEGORY_CURRENT, PAST: CATEGORY_PAST}
WAVE_RU = {MAIN: WAVE_MAIN, RESERVE: WAVE_RESERVE, ADDITIONAL: WAVE_ADDITIONAL}
EXAM_RU = {"ВПР": "ВПР", "ОГЭ": "ОГЭ", "ЕГЭ": "ЕГЭ"}
YES, NO = "да", "нет"
_EMPTY = pa.scalar(b"", pa.binary())


def _part_path(path: Path) -> Path:
    return path.with_name(f".{path.name}.part")


# ---------------------------------------------------------------- vocabularies


def _binary(strings: Sequence[str], encoding: str) -> pa.Array:
    return pa.array([s.encode(encoding) for s in strings], pa.binary())


def _join(*parts: pa.Array | pa.Scalar) -> pa.Array:
    return pc.binary_join_element_wise(*parts, _EMPTY)


def _cross(left: pa.Array, right: pa.Array) -> pa.Array:
    """Every left piece followed by every right piece: index = i * len(right) + j."""
    n, m = len(left), len(right)
    return _join(
        left.take(pa.array(np.repeat(np.arange(n), m))),
        right.take(pa.array(np.tile(np.arange(m), n))),
    )


def result_key(block: Block) -> np.ndarray:
    """The row's result as an index into `_result_texts`: the value, or absent / annulled."""
    top = max_value(block.procedure)
    return np.where(
        block.status == PRESENT,
        block.value,
        np.where(block.status == ABSENT, top + 1, top + 2),
    )


def _result_texts(proc: Procedure, gia: bool) -> list[str]:
    """«primary;mark;status» (ВПР) or «primary;test;mark;status» (ОГЭ/ЕГЭ) per result key."""
    top = max_value(proc)
    values = np.arange(top + 1)
    if proc.scale is not None:
        primary, test, mark = values, np.full(top + 1, -1), mark_of(proc, values)
    else:
        primary, test, mark = primary_of_test(proc, values), values, np.zeros(top + 1, int)
    present = STATUS_RU[PRESENT]

    def text(v: int) -> str:
        return "" if v < 0 else str(v)

    def mark_text(m: int) -> str:
        return str(m) if m > 0 else ""

    texts = []
    for p, t, m in zip(primary.tolist(), test.tolist(), mark.tolist()):
        if gia:
            texts.append(f"{text(p)};{text(t)};{mark_text(m)};{present}")
        else:
            texts.append(f"{text(p)};{mark_text(m)};{present}")
    empty = ";;;" if gia else ";;"
    texts.append(f"{empty}{STATUS_RU[ABSENT]}")
    texts.append(f"{empty}{STATUS_RU[ANNULLED]}")
    return texts


@cache
def _numbers(width: int, encoding: str) -> pa.Array:
    return _binary([f"{i:0{width}d}" for i in range(1, 10**width)], encoding)


@cache
def vpr_tail(proc: Procedure, encoding: str) -> pa.Array:
    """«NNN;primary;mark;status\\r\\n», index (number - 1) * keys + result key."""
    results = _binary([f";{t}\r\n" for t in _result_texts(proc, gia=False)], encoding)
    return _cross(_numbers(3, encoding), results)


@cache
def gia_tail(proc: Procedure, category: int, wave: int, encoding: str) -> pa.Array:
    """«;category;wave;primary;test;mark;status\\r\\n», index = result key."""
    head = f";{CATEGORY_RU[category]};{WAVE_RU[wave]};"
    return _binary([f"{head}{t}\r\n" for t in _result_texts(proc, gia=True)], encoding)


# ---------------------------------------------------------------- result files


@dataclass(frozen=True)
class SchoolPieces:
    """Per-school pieces of a region's year, for the results rows."""

    vpr_head: pa.Array  # «year;school_id;»
    gia_head: pa.Array  # «year;exam code;»
    code_head: pa.Array  # «year-<region><serial>-» (participant codes; ASCII)
    school_id: pa.Array  # UTF-8, for Parquet
    exam_code: pa.Array

    @classmethod
    def of(
        cls, year: int, school_ids: Sequence[str], exam_codes: Sequence[str], encoding: str
    ) -> SchoolPieces:
        code_head = [f"{year}-{sid[3:]}-" for sid in school_ids]
        return cls(
            vpr_head=_binary([f"{year};{sid};" for sid in school_ids], encoding),
            gia_head=_binary([f"{year};{code};" for code in exam_codes], encoding),
            code_head=_binary(code_head, encoding),
            school_id=pa.array(list(school_ids), pa.string()),
            exam_code=pa.array(list(exam_codes), pa.string()),
        )


def _pieces(parts: Sequence[tuple[pa.Array, np.ndarray]]) -> pa.Buffer:
    """Row i is the concatenation of parts[0][0][parts[0][1][i]], parts[1][0][...], ...: one
    `take` from the vocabularies laid end to end, with the indices interleaved; the data buffer
    of the result is the rows' text."""
    vocab = pa.concat_arrays([v for v, _ in parts])
    n = len(parts[0][1])
    index = np.empty(n * len(parts), dtype=np.int64)
    base = 0
    for k, (v, i) in enumerate(parts):
        index[k :: len(parts)] = i + base
        base += len(v)
    return _data(vocab.take(pa.array(index)))


def vpr_csv(block: Block, pieces: SchoolPieces, encoding: str) -> pa.Buffer:
    proc = block.procedure
    mid = f"{proc.grade};{proc.subject};".encode(encoding)
    head = _join(
        pieces.vpr_head,
        pa.scalar(mid, pa.binary()),
        pieces.code_head,
        pa.scalar(block.group.encode(encoding), pa.binary()),
    )
    keys = max_value(proc) + 3
    tail_index = (block.number - 1) * keys + result_key(block)
    return _pieces([(head, block.school), (vpr_tail(proc, encoding), tail_index)])


def gia_csv(block: Block, pieces: SchoolPieces, encoding: str) -> pa.Buffer:
    proc = block.procedure
    mid = f"{EXAM_RU[proc.exam]};{proc.subject};".encode(encoding)
    head = _join(
        pieces.gia_head,
        pa.scalar(mid, pa.binary()),
        pieces.code_head,
        pa.scalar(block.group.encode(encoding), pa.binary()),
    )
    width = 2 if block.group == "PG" else 3
    return _pieces(
        [
            (head, block.school),
            (_numbers(width, encoding), block.number - 1),
            (gia_tail(proc, block.category, block.wave, encoding), result_key(block)),
        ]
    )


def _data(rows: pa.Array) -> pa.Buffer:
    """The concatenated values of a binary array (its data buffer, without copying)."""
    offsets = np.frombuffer(rows.buffers()[1], dtype=np.int32)[
        rows.offset : rows.offset + len(rows) + 1
    ]
    return rows.buffers()[2][int(offsets[0]) : int(offsets[-1])]


def _code_column(block: Block, pieces: SchoolPieces) -> pa.Array:
    """Participant codes «<year>-<region><serial>-<group><number>»: fixed width within a block."""
    width = 2 if block.group == "PG" else 3
    group = pa.scalar(block.group.encode(), pa.binary())
    head = _join(pieces.code_head, group)
    data = _pieces([(head, block.school), (_numbers(width, "ascii"), block.number - 1)])
    n = len(block)
    size = data.size // n if n else 0
    offsets = pa.py_buffer(np.arange(0, n * size + 1, size, dtype=np.int32))
    return pa.Array.from_buffers(pa.string(), n, [None, offsets, data])


def _nullable(values: np.ndarray) -> pa.Array:
    return pa.array(values.astype(np.int32), pa.int32(), mask=values < 0)


def _int(value: int, n: int) -> pa.Array:
    return pa.array(np.full(n, value, dtype=np.int32))


def _labels(labels: Sequence[str], index: np.ndarray) -> pa.DictionaryArray:
    """Text from a few labels, dictionary-encoded (as Parquet stores it)."""
    return pa.DictionaryArray.from_arrays(
        pa.array(np.asarray(index, dtype=np.int16)), pa.array(list(labels), pa.string())
    )


def _text(value: str, n: int) -> pa.DictionaryArray:
    return _labels([value], np.zeros(n, dtype=np.int16))


LABEL = pa.dictionary(pa.int16(), pa.string())  # text with few distinct values
VPR_SCHEMA = pa.schema(
    [
        ("year", pa.int32()),
        ("school_id", LABEL),
        ("grade", pa.int32()),
        ("subject", LABEL),
        ("participant_code", pa.string()),
        ("primary_score", pa.int32()),
        ("mark", pa.int32()),
        ("status", LABEL),
    ]
)
GIA_SCHEMA = pa.schema(
    [
        ("year", pa.int32()),
        ("school_id", LABEL),
        ("exam", LABEL),
        ("subject", LABEL),
        ("participant_code", pa.string()),
        ("category", LABEL),
        ("wave", LABEL),
        ("primary_score", pa.int32()),
        ("test_score", pa.int32()),
        ("mark", pa.int32()),
        ("status", LABEL),
    ]
)


def vpr_table(block: Block, pieces: SchoolPieces, year: int) -> pa.Table:
    n, proc = len(block), block.procedure
    return pa.Table.from_arrays(
        [
            _int(year, n),
            pa.DictionaryArray.from_arrays(
                pa.array(block.school.astype(np.int16)), pieces.school_id
            ),
            _int(proc.grade, n),
            _text(proc.subject, n),
            _code_column(block, pieces),
            _nullable(block.value),
            _nullable(np.where(block.value >= 0, block.mark(), -1)),
            _labels(STATUS_RU, block.status),
        ],
        schema=VPR_SCHEMA,
    )


def gia_table(block: Block, pieces: SchoolPieces, year: int) -> pa.Table:
    n, proc = len(block), block.procedure
    if proc.scale is not None:
        primary, test = block.value, np.full(n, -1)
        mark = np.where(block.value >= 0, block.mark(), -1)
    else:
        primary, test, mark = primary_of_test(proc, block.value), block.value, np.full(n, -1)
    return pa.Table.from_arrays(
        [
            _int(year, n),
            pa.DictionaryArray.from_arrays(
                pa.array(block.school.astype(np.int16)), pieces.exam_code
            ),
            _text(EXAM_RU[proc.exam], n),
            _text(proc.subject, n),
            _code_column(block, pieces),
            _text(CATEGORY_RU[block.category], n),
            _text(WAVE_RU[block.wave], n),
            _nullable(primary),
            _nullable(test),
            _nullable(mark),
            _labels(STATUS_RU, block.status),
        ],
        schema=GIA_SCHEMA,
    )


# ---------------------------------------------------------------- sinks


class FileSink:
    """A file being written under a hidden name; `close` renames it into place."""

    path: Path
    rows: int

    def close(self) -> None:
        raise NotImplementedError

    def abort(self) -> None:
        raise NotImplementedError


class CsvBytesSink(FileSink):
    """CSV text written as ready-made chunks: a header line, then rows (already encoded)."""

    def __init__(
        self,
        path: Path,
        header: Sequence[str],
        *,
        encoding: str,
        delimiter: str = ";",
        eol: str = "\r\n",
        bom: bool = False,
    ) -> None:
        self.path, self.rows = path, 0
        self.encoding, self.delimiter, self.eol = encoding, delimiter, eol
        self._part = _part_path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file = open(self._part, "wb")  # noqa: SIM115 - closed in close()/abort()
        if bom:
            self._file.write("\ufeff".encode())
        self._file.write((delimiter.join(header) + eol).encode(encoding))

    def write_bytes(self, data: pa.Buffer | bytes, rows: int) -> None:
        self._file.write(data)
        self.rows += rows

    def write_table(self, table: pa.Table) -> None:
        """Rows of a table of text/number columns, in the table's column order (no quoting: the
        generator never writes the delimiter, a quote or a line break inside a value)."""
        if not table.num_rows:
            return
        buf = io.BytesIO()
        pa_csv.write_csv(
            table,
            buf,
            pa_csv.WriteOptions(
                include_header=False, delimiter=self.delimiter, eol=self.eol, quoting_style="none"
            ),
        )
        data = buf.getvalue()
        if self.encoding not in ("utf-8", "utf-8-sig"):
            data = data.decode("utf-8").encode(self.encoding)
        self.write_bytes(data, table.num_rows)

    def close(self) -> None:
        self._file.close()
        os.replace(self._part, self.path)

    def abort(self) -> None:
        self._file.close()
        self._part.unlink(missing_ok=True)


class ParquetSink(FileSink):
    def __init__(self, path: Path, schema: pa.Schema) -> None:
        self.path, self.rows, self.schema = path, 0, schema
        self._part = _part_path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        # dictionary pages for the text columns with few values only (participant codes are
        # unique: trying a dictionary for them costs more than the rest of the file)
        dictionary = [f.name for f in schema if pa.types.is_dictionary(f.type)]
        self._writer = pq.ParquetWriter(
            self._part, schema, compression="zstd", use_dictionary=dictionary
        )

    def write_table(self, table: pa.Table) -> None:
        if table.num_rows:
            self._writer.write_table(table.cast(self.schema))
            self.rows += table.num_rows

    def close(self) -> None:
        self._writer.close()
        os.replace(self._part, self.path)

    def abort(self) -> None:
        self._writer.close()
        self._part.unlink(missing_ok=True)


# ---------------------------------------------------------------- context tables as CSV text


def csv_text_table(table: pa.Table) -> pa.Table:
    """A typed context table as the text a region writes: да/нет, decimal comma, ДД.ММ.ГГГГ."""
    columns = []
    for column in table.columns:
        t = column.type
        if pa.types.is_boolean(t):
            columns.append(pc.if_else(column, YES, NO))
        elif pa.types.is_floating(t):
            values = column.to_pylist()
            columns.append(
                pa.array([None if v is None else f"{v:.2f}".replace(".", ",") for v in values])
            )
        elif pa.types.is_date(t):
            values = column.to_pylist()
            columns.append(
                pa.array([None if v is None else v.strftime("%d.%m.%Y") for v in values])
            )
        else:
            columns.append(column)
    return pa.Table.from_arrays(columns, names=table.column_names)


def date_array(values: Sequence[dt.date]) -> pa.Array:
    return pa.array(list(values), pa.date32())
