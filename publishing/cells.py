"""Published spreadsheets never carry a formula from the data (CSV/formula injection).

A school name that begins with ``=``, ``+``, ``-`` or ``@`` (or a tab or carriage return) would be
read by Excel or LibreOffice as a formula when a published CSV is opened — ``=HYPERLINK(…)`` or
``=cmd|…`` from a delivered registry file. As statistics publishers do (OWASP's advice), such a text
value is prefixed with an apostrophe in the published CSV files (the list and the marts files):
a spreadsheet shows it as text, a program reading the CSV sees the apostrophe. Parquet keeps the
value as it is (it is typed; no spreadsheet evaluates it).

In XLSX, openpyxl would store a text beginning with ``=`` as a formula; every text cell is written
as a text cell instead, with Excel's "quote prefix" flag (what Excel records when a person types
``'=…``): the cell shows the name exactly as delivered and is never evaluated.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
FORMULA_PATTERN = r"^[=+\-@\t\r]"


def csv_text(value: str) -> str:
    """The text as a published CSV carries it (an apostrophe before a formula-like start)."""
    return "'" + value if value.startswith(FORMULA_START) else value


def neutralise_csv(data: pa.Table | pa.RecordBatch) -> pa.Table | pa.RecordBatch:
    """Every text column of ``data`` with :func:`csv_text` applied (other columns untouched)."""
    columns = []
    changed = False
    for column in data.columns:
        if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
            risky = pc.fill_null(pc.match_substring_regex(column, FORMULA_PATTERN), False)
            if pc.any(risky).as_py():
                column = pc.if_else(risky, pc.binary_join_element_wise("'", column, ""), column)
                changed = True
        columns.append(column)
    if not changed:
        return data
    if isinstance(data, pa.RecordBatch):
        return pa.RecordBatch.from_arrays(columns, schema=data.schema)
    return pa.Table.from_arrays(columns, schema=data.schema)


def keep_as_text(cell) -> None:
    """An openpyxl cell whose text value looks like a formula is stored as text, never a formula."""
    if isinstance(cell.value, str) and cell.value.startswith(FORMULA_START):
        cell.data_type = "s"
        cell.quotePrefix = True
