"""The ШНОР list as an XLSX document formatted for print: title, date, methodology profile, then
one row per school (municipality, school name, code, cluster, reason).

The file is deterministic: the same list, date and version give the same bytes (document
properties carry the document date, and the zip entries a fixed timestamp), so that publishing
the same inputs twice produces identical files.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import zipfile
from copy import copy
from dataclasses import dataclass

import pyarrow as pa
from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.styles.cell_style import StyleArray
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.page import PageMargins

from publishing.cells import keep_as_text

# (warehouse column, header, column width in characters)
XLSX_COLUMNS: tuple[tuple[str, str, float], ...] = (
    ("row_number", "№ п/п", 6),
    ("municipality_name", "Муниципальное образование", 24),
    ("school_name", "Наименование ОО", 44),
    ("school_id", "Код ОО (логин ФИС ОКО)", 14),
    ("fioko_cluster_ru", "Кластер ФИОКО", 16),
    ("reason", "Основание включения в список", 70),
)
HEADER_ROW = 6
LINE_HEIGHT = 15.0  # points per text line at 11 pt
CLUSTER_ORDER = ("severe", "moderate", "basic")  # most severe first; labels come from the warehouse


@dataclass(frozen=True)
class DocumentInfo:
    list_year: int
    results_year: int
    document_date: dt.date
    profile_name: str
    profile_version: str
    version: int


def wrapped_lines(text: object, width: float) -> int:
    """Lines a wrapped cell needs (greedy word wrap; a character is about one width unit at 11 pt).

    Spreadsheet files carry no computed row heights and LibreOffice does not grow a row for wrapped
    text on its own, so each row gets the height of its tallest cell."""
    limit = max(int(width) - 1, 1)
    lines, current = 1, 0
    for word in str(text or "").split():
        if current and current + 1 + len(word) > limit:
            lines, current = lines + 1, 0
        while len(word) > limit:  # a word longer than the column breaks anywhere
            lines, word = lines + 1, word[limit:]
        current = len(word) if current == 0 else current + 1 + len(word)
    return lines


def cluster_summary(table: pa.Table) -> str:
    """«сильно неуспевающие — 3; умеренно неуспевающие — 5; …» from the list's own labels."""
    counts: dict[tuple[str, str], int] = {}
    for code, label in zip(
        table.column("fioko_cluster").to_pylist(), table.column("fioko_cluster_ru").to_pylist()
    ):
        counts[(str(code), str(label))] = counts.get((str(code), str(label)), 0) + 1
    rank = {c: i for i, c in enumerate(CLUSTER_ORDER)}
    ordered = sorted(counts.items(), key=lambda kv: (rank.get(kv[0][0], len(rank)), kv[0][0]))
    return "; ".join(f"{label} — {n}" for (_, label), n in ordered)


def render_xlsx(table: pa.Table, info: DocumentInfo) -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.title = f"ШНОР {info.list_year}"
    last_col = get_column_letter(len(XLSX_COLUMNS))
    total_width = sum(w for _, _, w in XLSX_COLUMNS)
    title_font = Font(name="Times New Roman", size=14, bold=True)
    text_font = Font(name="Times New Roman", size=11)
    head_font = Font(name="Times New Roman", size=11, bold=True)
    thin = Side(style="thin", color="000000")
    border = Border(left=thin, right=thin, top=thin, bottom=thin)

    lines = [
        (
            f"Список школ с низкими образовательными результатами (ШНОР) на {info.list_year} год",
            title_font,
        ),
        (f"по результатам оценочных процедур {info.results_year} года", text_font),
        (
            (
                f"Методика: {info.profile_name}, версия {info.profile_version}. "
                f"Дата формирования: {info.document_date:%d.%m.%Y}. Версия публикации: v{info.version}"
            ),
            text_font,
        ),
        (
            f"Всего школ в списке: {table.num_rows}"
            + (f" ({cluster_summary(table)})" if table.num_rows else ""),
            text_font,
        ),
    ]
    for row, (text, font) in enumerate(lines, start=1):
        ws.merge_cells(f"A{row}:{last_col}{row}")
        cell = ws.cell(row=row, column=1, value=text)
        cell.font = font
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
    ws.row_dimensions[1].height = 2 * LINE_HEIGHT + 6
    for row in range(2, len(lines) + 1):
        ws.row_dimensions[row].height = (
            LINE_HEIGHT * wrapped_lines(lines[row - 1][0], 1.1 * total_width) + 2
        )

    for col, (_, header, width) in enumerate(XLSX_COLUMNS, start=1):
        cell = ws.cell(row=HEADER_ROW, column=col, value=header)
        cell.font = head_font
        cell.border = border
        cell.fill = PatternFill("solid", fgColor="D9D9D9")
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
        ws.column_dimensions[get_column_letter(col)].width = width
    ws.row_dimensions[HEADER_ROW].height = LINE_HEIGHT * max(
        wrapped_lines(h, w) for _, h, w in XLSX_COLUMNS
    )

    data = {name: table.column(name).to_pylist() for name, _, _ in XLSX_COLUMNS}
    # a column's cells share one style: styled once on the first row, then given that cell's
    # style record (openpyxl's StyleArray, as its own worksheet copy does); setting font, border and
    # alignment cell by cell looked each up in the workbook's style lists (~2 s for 10,000 schools).
    # The same records as before, so the same bytes
    column_styles: dict[int, StyleArray] = {}
    for i in range(table.num_rows):
        row = HEADER_ROW + 1 + i
        for col, (name, _, _) in enumerate(XLSX_COLUMNS, start=1):
            cell = ws.cell(row=row, column=col, value=data[name][i])
            style = column_styles.get(col)
            if style is None:
                cell.font = text_font
                cell.border = border
                cell.alignment = Alignment(
                    vertical="top",
                    wrap_text=True,
                    horizontal="center" if name in ("row_number", "school_id") else "left",
                )
                column_styles[col] = copy(cell._style)
            else:
                cell._style = copy(style)
            # a school name beginning with «=» stays a name (publishing/cells.py)
            keep_as_text(cell)
        ws.row_dimensions[row].height = LINE_HEIGHT * max(
            wrapped_lines(data[name][i], width) for name, _, width in XLSX_COLUMNS
        )
    if table.num_rows == 0:
        ws.merge_cells(f"A{HEADER_ROW + 1}:{last_col}{HEADER_ROW + 1}")
        ws.cell(
            row=HEADER_ROW + 1, column=1, value="Школ, отвечающих критериям, нет"
        ).font = text_font

    last_row = HEADER_ROW + max(table.num_rows, 1)
    ws.freeze_panes = f"A{HEADER_ROW + 1}"
    ws.print_title_rows = f"{HEADER_ROW}:{HEADER_ROW}"
    ws.print_area = f"A1:{last_col}{last_row}"
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.print_options.horizontalCentered = True
    ws.page_margins = PageMargins(left=0.5, right=0.5, top=0.6, bottom=0.6)
    ws.oddFooter.center.text = "Страница &P из &N"
    ws.oddFooter.right.text = f"ШНОР {info.list_year}, v{info.version}"

    moment = dt.datetime.combine(info.document_date, dt.time(0, 0))
    wb.properties.creator = "eduq"
    wb.properties.title = f"Список ШНОР на {info.list_year} год"
    wb.properties.created = moment
    wb.properties.modified = moment
    buffer = io.BytesIO()
    wb.save(buffer)
    return normalise_zip(buffer.getvalue(), moment)


MODIFIED = re.compile(rb"(<dcterms:modified[^>]*>)[^<]*(</dcterms:modified>)")


def normalise_zip(data: bytes, moment: dt.datetime) -> bytes:
    """Rewrite the zip with a fixed timestamp on every entry (zip entries otherwise carry 'now') and
    the document's modification time set to ``moment`` (openpyxl stamps 'now' when it saves)."""
    stamp = (max(moment.year, 1980), moment.month, moment.day, 0, 0, 0)
    modified = moment.strftime("%Y-%m-%dT%H:%M:%SZ").encode()
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(data)) as src,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst,
    ):
        for item in src.infolist():
            content = src.read(item.filename)
            if item.filename == "docProps/core.xml":
                content = MODIFIED.sub(rb"\g<1>" + modified + rb"\g<2>", content)
            info = zipfile.ZipInfo(item.filename, date_time=stamp)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            dst.writestr(info, content)
    return out.getvalue()
