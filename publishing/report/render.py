"""Render a document: HTML (one self-contained file, charts inline as SVG), PDF (WeasyPrint, A4,
page numbers, fonts embedded) and XLSX (one sheet a table, Russian headers).

Reproducible: the same document gives the same bytes. Charts are rendered by vl-convert (same
specification, same SVG); the PDF carries the document's date (not the time of writing) and the
fonts embedded by WeasyPrint are subset with their timestamp fixed (``SOURCE_DATE_EPOCH``, the
reproducible-builds convention fontTools follows); the XLSX zip entries carry a fixed date.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from core.environ import temporary_environment
from publishing.report import charts
from publishing.report.content import INT, SHARE, Chart, Document, Paragraph, Table
from publishing.xlsx import normalise_zip

TEMPLATES = Path(__file__).parent / "templates"
SHEET_NAME = re.compile(r"[\[\]\*\?/\\:]")


@dataclass(frozen=True)
class Page:
    orientation: str = "landscape"
    margin: str = "12mm 12mm 14mm 12mm"


REPORT_PAGE = Page("landscape")
CARD_PAGE = Page("portrait", "8mm 9mm 11mm 9mm")

# The school card is one page. A card whose laid-out document runs onto a second page is laid out
# again in compact steps (templates/card_compact.css: ``article.fit-1`` … ``fit-3``, each with smaller
# fonts, paddings and charts than the one before) until it fits; one that does not fit even at the
# last step keeps that step, runs on, and says so at its top («продолжение на следующей странице»)
# with its pages counted («Страница 1 из 2»). Nothing is left out. A card that fits as it is keeps
# its HTML and PDF unchanged (no class, no compact style sheet).
CARD_COMPACT_STEPS = 3
CONTINUED_NOTE = (
    "Карточка не уместилась на одной странице даже в сжатом виде: продолжение — на следующей "
    "странице."
)


@dataclass(frozen=True)
class Fit:
    """How a school card is laid out: its compact step (0: as designed) and whether it runs on."""

    step: int = 0
    continued: bool = False

    @property
    def css_class(self) -> str:
        return f"fit-{self.step}" if self.step else ""


AS_DESIGNED = Fit()


# --- layout shared by the XLSX and the HTML (each HTML cell names its XLSX cell) -------------------
def header_rows(table: Table) -> int:
    return 2 if any(c.group for c in table.columns) else 1


FIRST_HEADER_ROW = 3  # row 1: title, row 2: empty


def first_data_row(table: Table) -> int:
    return FIRST_HEADER_ROW + header_rows(table)


def col_letter(index: int) -> str:
    from openpyxl.utils import get_column_letter

    return get_column_letter(index + 1)


def sheet_name(table: Table) -> str:
    return SHEET_NAME.sub(" ", table.key)[:31]


def _header_cells(table: Table) -> list[list[dict]]:
    if header_rows(table) == 1:
        return [[{"text": c.header, "colspan": 1, "rowspan": 1} for c in table.columns]]
    top: list[dict] = []
    bottom: list[dict] = []
    i = 0
    while i < len(table.columns):
        col = table.columns[i]
        if col.group is None:
            top.append({"text": col.header, "colspan": 1, "rowspan": 2})
            i += 1
            continue
        j = i
        while j < len(table.columns) and table.columns[j].group == col.group:
            bottom.append({"text": table.columns[j].header, "colspan": 1, "rowspan": 1})
            j += 1
        top.append({"text": col.group, "colspan": j - i, "rowspan": 1})
        i = j
    return [top, bottom]


# --- HTML --------------------------------------------------------------------------------------
@cache
def _environment() -> Any:
    import jinja2

    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=True,
        trim_blocks=False,
        lstrip_blocks=False,
        keep_trailing_newline=True,
    )


def draw_charts(doc: Document) -> None:
    for chart in doc.charts():
        if not chart.svg and not chart.svg_rows:
            chart.svg = charts.render_svg(chart.spec)


def _widths(table: Table) -> list[str]:
    """Column widths in percent of the table (fixed table layout: WeasyPrint does not measure every
    cell's text to size the columns, which is most of its time)."""
    total = sum(c.width for c in table.columns) or 1
    return [f"{100 * c.width / total:.2f}%" for c in table.columns]


def _table_width(table: Table) -> str:
    """A table as wide as its columns need (in characters, about 0.62 em each), at most the page."""
    chars = sum(c.width for c in table.columns)
    return f"{chars * 0.62:.1f}em; max-width: 100%" if chars < 150 else "100%"


def _svg_image(svg: str, within_page: bool = False) -> str:
    """An SVG as an <img> with a data URI: WeasyPrint draws it without styling every SVG element.
    ``within_page``: scaled down to the width of the page if wider (the card's six chart panels are
    wider than an A4 portrait page; the HTML's inline SVG has ``max-width: 100%`` already)."""
    import base64

    data = base64.b64encode(svg.encode("utf-8")).decode("ascii")
    width = re.search(r'width="([0-9.]+)"', svg)
    limit = "; max-width: 100%" if within_page else ""
    style = f' style="width: {float(width.group(1)) * 0.75:.1f}pt{limit}"' if width else ""
    return f'<img alt="" src="data:image/svg+xml;base64,{data}"{style}>'


def _chart_svg(chart: Chart, for_pdf: bool, within_page: bool) -> str:
    """A chart's picture: its SVG inline (an image in the PDF), or its rows one under another, each
    a block of its own (rows are equally wide, so that the page scales them alike)."""
    if not chart.svg_rows:
        return _svg_image(chart.svg, within_page) if for_pdf else chart.svg
    return "".join(
        f'<div class="chart-row">{_svg_image(row, within_page) if for_pdf else row}</div>'
        for row in chart.svg_rows
    )


def _blocks(doc: Document, for_pdf: bool = False) -> list[dict]:
    sections = []
    for s in doc.sections:
        blocks: list[dict] = []
        for b in s.blocks:
            if isinstance(b, Table):
                start = first_data_row(b)
                rows = [
                    {
                        "total": i in b.total_rows,
                        "cells": [
                            {
                                "text": c.text(),
                                "kind": c.kind,
                                "bold": c.bold,
                                "missing": c.value is None,
                                "ref": f"{col_letter(j)}{start + i}",
                            }
                            for j, c in enumerate(row)
                        ],
                    }
                    for i, row in enumerate(b.rows)
                ]
                blocks.append(
                    {
                        "kind": "table",
                        "title": b.title,
                        "sheet": sheet_name(b),
                        "header_rows": _header_cells(b),
                        "rows": rows,
                        "ncols": len(b.columns),
                        "widths": _widths(b),
                        "table_width": _table_width(b),
                        "footnote": b.footnote,
                        "empty_text": b.empty_text,
                    }
                )
            elif isinstance(b, Chart):
                blocks.append(
                    {
                        "kind": "chart",
                        "key": b.key,
                        "title": b.title,
                        "svg": _chart_svg(b, for_pdf, doc.kind == "card"),
                        "footnote": b.footnote,
                    }
                )
            elif isinstance(b, Paragraph):
                blocks.append({"kind": "text", "text": b.text, "css": b.css})
        sections.append({"key": s.key, "title": s.title, "lead": s.lead, "blocks": blocks})
    return sections


def render_html(
    docs: Sequence[Document],
    *,
    version_label: str,
    page: Page = REPORT_PAGE,
    toc: bool = True,
    for_pdf: bool = False,
    fits: Sequence[Fit] | None = None,
) -> str:
    """One HTML file holding ``docs`` one after another (a report is one; all cards are many).
    ``for_pdf``: charts as SVG images (faster for WeasyPrint), no script. ``fits``: how each card
    is laid out (default: as designed); the compact style sheet is included only when a card
    needs it."""
    for doc in docs:
        draw_charts(doc)
    fits = list(fits) if fits is not None else [AS_DESIGNED] * len(docs)
    assert len(fits) == len(docs), "one fit a document"
    parts = []
    for doc, fit in zip(docs, fits):
        anchor = doc.anchor or doc.kind
        parts.append(
            {
                "doc": _Doc(doc, _blocks(doc, for_pdf)),
                "anchor": anchor,
                "prefix": "" if len(docs) == 1 else f"{anchor}-",
                "toc": toc and len(docs) == 1,
                "fit_class": fit.css_class,
                "continued_note": CONTINUED_NOTE if fit.continued else "",
            }
        )
    compact = any(fit.step or fit.continued for fit in fits)
    template = _environment().get_template("document.html.j2")
    return template.render(
        doc=docs[0],
        parts=parts,
        css=(TEMPLATES / "style.css").read_text(encoding="utf-8"),
        compact_css=(TEMPLATES / "card_compact.css").read_text(encoding="utf-8") if compact else "",
        # a card that runs on, alone in its document, counts its pages («Страница 1 из 2»)
        page_total=len(fits) == 1 and fits[0].continued,
        version_label=version_label,
        orientation=page.orientation,
        margin=page.margin,
        for_pdf=for_pdf,
    )


class _Doc:
    """A document as the template reads it (sections with plain blocks)."""

    def __init__(self, doc: Document, sections: list[dict]) -> None:
        self.title, self.subtitle, self.facts = doc.title, doc.subtitle, doc.facts
        self.footer = doc.footer
        self.sections = [_Obj(s) for s in sections]


class _Obj:
    def __init__(self, data: dict) -> None:
        self.__dict__.update(data)
        self.blocks = [_Obj(b) if isinstance(b, dict) else b for b in data.get("blocks", [])]


# --- PDF ---------------------------------------------------------------------------------------
@contextlib.contextmanager
def fixed_font_timestamp(moment: dt.date | None) -> Iterator[None]:
    """fontTools stamps a subset font with the current time unless SOURCE_DATE_EPOCH is set; set it
    to the document's date for the duration of the rendering."""
    epoch = dt.datetime.combine(moment or dt.date(2000, 1, 1), dt.time(0, 0), dt.UTC)
    with temporary_environment({"SOURCE_DATE_EPOCH": str(int(epoch.timestamp()))}):
        yield


# WeasyPrint's default style sheet gives every element of the page five pseudo-elements of footnotes
# and notes (::footnote-call, ::note-marker …) and a ::marker, whose styles it computes for each
# element: a tenth to a fifth of the time of a school card. These documents have no footnotes, notes
# or list markers outside list items, so those rules are left out (or kept for <li> only); the pages
# are the same. If a WeasyPrint release words them otherwise, its own style sheet is used unchanged.
UNUSED_UA_RULES = (
    "::footnote-call",
    "::footnote-marker",
    "::note-call",
    "::note-marker",
    "::note-callback",
)


@cache
def _html_class() -> Any:
    import weasyprint
    import weasyprint.css

    source = (Path(weasyprint.css.__file__).parent / "html5_ua.css").read_text(encoding="utf-8")
    lines = source.splitlines()
    kept = [line for line in lines if not line.startswith(UNUSED_UA_RULES)]
    if len(lines) - len(kept) != len(UNUSED_UA_RULES) or source.count("\n::marker {") != 1:
        return weasyprint.HTML
    sheet = weasyprint.CSS(string="\n".join(kept).replace("\n::marker {", "\nli::marker {"))

    class HTML(weasyprint.HTML):
        def _ua_stylesheets(self, forms: bool = False) -> list[Any]:
            return [sheet, *super()._ua_stylesheets(forms)[1:]]

    return HTML


def layout_pdf(html: str, moment: dt.date | None) -> Any:
    """A WeasyPrint document (pages laid out) of ``html``."""
    with fixed_font_timestamp(moment):
        return _html_class()(string=html, base_url=str(TEMPLATES)).render()


def write_pdf(
    document: Any, moment: dt.date | None, pages: Sequence[Any] | None = None, title: str = ""
) -> bytes:
    """The PDF of a laid-out document, or of some of its pages (a card cut out of all cards), with
    ``title`` as its title when given."""
    import copy

    with fixed_font_timestamp(moment):
        target = document if pages is None else document.copy(list(pages))
        if title:
            target.metadata = copy.copy(target.metadata)  # the copy shares the original's
            target.metadata.title = title
        return target.write_pdf(pdf_identifier=b"eduq")


def render_pdf(html: str, moment: dt.date | None) -> bytes:
    """The PDF of an HTML rendered with ``for_pdf=True``."""
    return write_pdf(layout_pdf(html, moment), moment)


# --- XLSX --------------------------------------------------------------------------------------
def render_xlsx(tables: Sequence[Table], moment: dt.date | None, title: str) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Border, Font, PatternFill, Side

    from publishing.cells import keep_as_text

    wb = Workbook()
    wb.remove(wb.active)
    thin = Side(style="thin", color="000000")
    border = Border(left=thin, right=thin, top=thin, bottom=thin)
    bold = Font(name="Times New Roman", size=11, bold=True)
    text = Font(name="Times New Roman", size=11)
    fill = PatternFill("solid", fgColor="D9D9D9")
    used: set[str] = set()
    for table in tables:
        name = sheet_name(table)
        assert name not in used, f"two tables named {name}"
        used.add(name)
        ws = wb.create_sheet(name)
        ncols = max(len(table.columns), 1)
        ws.cell(row=1, column=1, value=table.title).font = Font(
            name="Times New Roman", size=12, bold=True
        )
        for r, header_row in enumerate(_header_cells(table), start=FIRST_HEADER_ROW):
            col = 1
            for h in header_row:
                while ws.cell(row=r, column=col).coordinate in ws.merged_cells:
                    col += 1
                cell = ws.cell(row=r, column=col, value=h["text"])
                if h["colspan"] > 1 or h["rowspan"] > 1:
                    ws.merge_cells(
                        start_row=r,
                        start_column=col,
                        end_row=r + h["rowspan"] - 1,
                        end_column=col + h["colspan"] - 1,
                    )
                for rr in range(r, r + h["rowspan"]):
                    for cc in range(col, col + h["colspan"]):
                        c = ws.cell(row=rr, column=cc)
                        c.font, c.border, c.fill = bold, border, fill
                        c.alignment = Alignment(
                            horizontal="center", vertical="center", wrap_text=True
                        )
                col += h["colspan"]
        start = first_data_row(table)
        for i, row in enumerate(table.rows):
            for j, c in enumerate(row):
                value = c.value
                if (
                    value is not None
                    and c.kind in (INT, SHARE)
                    and not isinstance(value, (int, float))
                ):
                    value = float(value)
                cell = ws.cell(
                    row=start + i, column=j + 1, value=value if value is not None else c.missing
                )
                keep_as_text(cell)  # a school name beginning with «=» stays a name
                cell.font = bold if (c.bold or i in table.total_rows) else text
                cell.border = border
                if c.kind == INT and value is not None:
                    cell.number_format = "#,##0"
                elif c.kind == SHARE and value is not None:
                    cell.number_format = "0%"
                cell.alignment = Alignment(vertical="top", wrap_text=c.kind not in (INT, SHARE))
        for j, column in enumerate(table.columns):
            ws.column_dimensions[col_letter(j)].width = column.width
        note_row = start + len(table.rows) + 1
        if table.footnote:
            ws.cell(row=note_row, column=1, value=table.footnote).alignment = Alignment(
                wrap_text=True, vertical="top"
            )
            ws.merge_cells(start_row=note_row, start_column=1, end_row=note_row, end_column=ncols)
            ws.row_dimensions[note_row].height = 15 * max(
                2, len(table.footnote) // (8 * ncols + 20) + 1
            )
        ws.freeze_panes = ws.cell(row=start, column=2)
        ws.page_setup.orientation = "landscape"
        ws.page_setup.paperSize = ws.PAPERSIZE_A4
        ws.page_setup.fitToWidth = 1
        ws.page_setup.fitToHeight = 0
        ws.sheet_properties.pageSetUpPr.fitToPage = True
        ws.print_title_rows = f"{FIRST_HEADER_ROW}:{start - 1}"
        ws.oddFooter.center.text = "Страница &P из &N"
    moment = dt.datetime.combine(moment or dt.date(2000, 1, 1), dt.time(0, 0))
    wb.properties.creator = "eduq"
    wb.properties.title = title
    wb.properties.created = moment
    wb.properties.modified = moment
    buffer = io.BytesIO()
    wb.save(buffer)
    return normalise_zip(buffer.getvalue(), moment)  # the same bytes for the same document


def sources_map(tables: Sequence[Table]) -> list[dict]:
    """Where each figure comes from: for every table, each XLSX cell with its mart, column and key."""
    out = []
    for table in tables:
        start = first_data_row(table)
        cells = []
        for i, row in enumerate(table.rows):
            for j, c in enumerate(row):
                if c.src is not None:
                    cells.append(
                        {
                            "cell": f"{col_letter(j)}{start + i}",
                            "mart": c.src.mart,
                            "column": c.src.column,
                            "key": {
                                k: (v if isinstance(v, (int, str, bool)) or v is None else str(v))
                                for k, v in c.src.key
                            },
                            "kind": c.kind,
                        }
                    )
        out.append({"sheet": sheet_name(table), "title": table.title, "cells": cells})
    return out
