"""Finding participant codes (personal data) where they must not be: published files, the serving
warehouse, audit records, logs. Independent of the code under test: the codes are read from the
delivered files with the csv module and openpyxl, and files are searched token by token."""

from __future__ import annotations

import csv
import io
import re
import shutil
import subprocess
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

CODE_HEADERS = {"код участника", "код обучающегося", "participant_code"}
TOKEN = re.compile(r"[\w-]+")


def _decode(data: bytes) -> str:
    for encoding in ("utf-8-sig", "cp1251"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1")


def _codes_in_rows(rows: list[list[object]]) -> set[str]:
    for i, row in enumerate(rows[:30]):
        names = [str(c).strip().lower() if c is not None else "" for c in row]
        hits = [j for j, n in enumerate(names) if n in CODE_HEADERS]
        if hits:
            j = hits[0]
            return {
                str(r[j]).strip() for r in rows[i + 1 :] if len(r) > j and r[j] not in (None, "")
            }
    return set()


def participant_codes(folder: Path) -> set[str]:
    """Every participant code of the delivered files under ``folder`` (CSV and XLSX)."""
    codes: set[str] = set()
    for path in sorted(folder.rglob("*")):
        suffix = path.suffix.lower()
        if suffix in (".csv", ".txt"):
            text = _decode(path.read_bytes())
            delimiter = max(";,\t", key=lambda d: text[:4000].count(d))
            codes |= _codes_in_rows(list(csv.reader(io.StringIO(text), delimiter=delimiter)))
        elif suffix == ".xlsx":
            import openpyxl

            book = openpyxl.load_workbook(path, read_only=True, data_only=True)
            for sheet in book.worksheets:
                codes |= _codes_in_rows([list(r) for r in sheet.iter_rows(values_only=True)])
            book.close()
    return {c for c in codes if len(c) >= 4}


@dataclass
class Finding:
    where: str
    codes: set[str] = field(default_factory=set)

    def __str__(self) -> str:
        return f"{self.where}: {len(self.codes)} code(s), e.g. {sorted(self.codes)[:3]}"


def _text_of(path: Path) -> list[str]:
    """The texts a reader of ``path`` sees (zip members unpacked, Parquet values, PDF text)."""
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".zip", ".docx"):
        with zipfile.ZipFile(path) as zf:
            return [_decode(zf.read(name)) for name in zf.namelist()]
    if suffix == ".parquet":
        import pyarrow.parquet as pq

        table = pq.read_table(path)
        return [" ".join(str(v) for v in col.to_pylist() if v is not None) for col in table.columns]
    if suffix == ".pdf":
        if shutil.which("pdftotext") is None:
            return []
        out = subprocess.run(
            ["pdftotext", "-layout", str(path), "-"], check=False, capture_output=True, timeout=120
        )
        return [_decode(out.stdout)]
    if suffix == ".duckdb" or suffix in (".wal", ".tmp"):
        return []
    return [_decode(path.read_bytes())]


def scan_files(root: Path, codes: set[str]) -> tuple[list[Finding], int]:
    """Files under ``root`` whose text holds a participant code; and how many files were read. The
    per-school card PDFs are left out: their text is the cards' HTML and the all-cards PDF, read."""
    findings, scanned = [], 0
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        if path.suffix == ".pdf" and path.parent.name == "pdf" and "cards" in path.parts:
            continue
        scanned += 1
        found = set()
        for text in _text_of(path):
            found |= codes.intersection(TOKEN.findall(text))
        if found:
            findings.append(Finding(str(path), found))
    return findings, scanned


def scan_duckdb(db: Path, codes: set[str]) -> tuple[list[Finding], int]:
    """Columns of every table and view of ``db`` (read-only) that hold a participant code, also
    inside a longer text; and how many columns were read."""
    findings, scanned = [], 0
    with duckdb.connect(str(db), read_only=True) as con:
        tables = con.execute(
            "select distinct schema_name, table_name from duckdb_columns() "
            "where database_name = current_database() order by all"
        ).fetchall()
        for schema, table in tables:
            cursor = con.execute(f'select * from "{schema}"."{table}"')
            columns = [d[0] for d in cursor.description]
            scanned += len(columns)
            found: dict[str, set[str]] = {}
            for row in cursor.fetchall():
                for column, value in zip(columns, row):
                    if value is None or isinstance(value, (int, float, bool)):
                        continue
                    hits = codes.intersection(TOKEN.findall(str(value)))
                    if hits:
                        found.setdefault(column, set()).update(hits)
            findings += [Finding(f"{schema}.{table}.{c}", h) for c, h in found.items()]
    return findings, scanned
