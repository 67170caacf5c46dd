"""The school card as PDF with ReportLab's page layout (platypus), the fast path for hundreds of
cards: WeasyPrint lays a card out in about half a second, too slow for every school of a region in
a minute; ReportLab takes about a tenth of that. The card's content is the same document the HTML
shows (publishing/report/card.py); the small chart of each flagged procedure is drawn here from the
chart's own data (share per year, the threshold line). ``invariant`` mode makes the bytes
reproducible; DejaVu Sans (Debian fonts-dejavu-core) is embedded.
"""

from __future__ import annotations

import io
from functools import cache
from pathlib import Path
from typing import Any

from publishing.errors import PublishingError
from publishing.report.content import INT, NUMBER, SHARE, Chart, Document, Paragraph, Table

FONT_DIRS = (
    Path("/usr/share/fonts/truetype/dejavu"),
    Path("/usr/share/fonts/dejavu"),
    Path("/usr/share/fonts/TTF"),
    Path("/usr/local/share/fonts"),
)
FONT, BOLD = "EduqSans", "EduqSans-Bold"


class FontMissing(PublishingError):
    """DejaVu Sans is not installed (the PDF needs a font with Cyrillic)."""


def _font_file(name: str) -> Path:
    for folder in FONT_DIRS:
        path = folder / name
        if path.exists():
            return path
    raise FontMissing(
        f"{name} (DejaVu Sans, Cyrillic) was not found in {', '.join(map(str, FONT_DIRS))}: install the Debian "
        "package fonts-dejavu-core (`make setup-report`)."
    )


@cache
def _fonts() -> None:
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    pdfmetrics.registerFont(TTFont(FONT, str(_font_file("DejaVuSans.ttf"))))
    pdfmetrics.registerFont(TTFont(BOLD, str(_font_file("DejaVuSans-Bold.ttf"))))
    pdfmetrics.registerFontFamily(FONT, normal=FONT, bold=BOLD, italic=FONT, boldItalic=BOLD)


@cache
def _styles() -> dict[str, Any]:
    from reportlab.lib.styles import ParagraphStyle

    _fonts()
    return {
        "h1": ParagraphStyle("h1", fontName=BOLD, fontSize=11, leading=13, spaceAfter=2),
        "sub": ParagraphStyle("sub", fontName=FONT, fontSize=8.5, leading=10, spaceAfter=2),
        "h2": ParagraphStyle(
            "h2",
            fontName=BOLD,
            fontSize=8.6,
            leading=10,
            spaceBefore=4,
            spaceAfter=2,
            textColor="#1f4e79",
        ),
        "text": ParagraphStyle("text", fontName=FONT, fontSize=7.2, leading=8.6),
        "cell": ParagraphStyle("cell", fontName=FONT, fontSize=6.6, leading=7.6),
        "cellb": ParagraphStyle("cellb", fontName=BOLD, fontSize=6.6, leading=7.6),
        "head": ParagraphStyle("head", fontName=BOLD, fontSize=6.6, leading=7.6, alignment=1),
        "note": ParagraphStyle(
            "note", fontName=FONT, fontSize=5.8, leading=6.8, textColor="#444444", spaceAfter=2
        ),
    }


def _esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _table(table: Table, width: float) -> list[Any]:
    from reportlab.platypus import Paragraph as P
    from reportlab.platypus import Table as T
    from reportlab.platypus import TableStyle

    s = _styles()
    total = sum(c.width for c in table.columns) or 1
    widths = [width * c.width / total for c in table.columns]
    grouped = any(c.group for c in table.columns)
    header: list[list[Any]] = []
    spans: list[tuple] = []
    if grouped:
        top: list[Any] = []
        bottom: list[Any] = []
        i = 0
        while i < len(table.columns):
            col = table.columns[i]
            if col.group is None:
                top.append(P(_esc(col.header), s["head"]))
                bottom.append("")
                spans.append(("SPAN", (i, 0), (i, 1)))
                i += 1
                continue
            j = i
            while j < len(table.columns) and table.columns[j].group == col.group:
                j += 1
            top += [P(_esc(col.group), s["head"])] + [""] * (j - i - 1)
            bottom += [P(_esc(c.header), s["head"]) for c in table.columns[i:j]]
            if j - i > 1:
                spans.append(("SPAN", (i, 0), (j - 1, 0)))
            i = j
        header = [top, bottom]
    else:
        header = [[P(_esc(c.header), s["head"]) for c in table.columns]]
    rows = []
    bold_cells = []
    for r, row in enumerate(table.rows):
        out = []
        for c, cell in enumerate(row):
            bold = cell.bold or r in table.total_rows
            if cell.kind in (INT, SHARE, NUMBER):
                out.append(cell.text())
                if bold:
                    bold_cells.append((c, r + len(header)))
            else:
                out.append(P(_esc(cell.text()), s["cellb" if bold else "cell"]))
        rows.append(out)
    if not rows:
        rows = [[P(_esc(table.empty_text), s["cell"])] + [""] * (len(table.columns) - 1)]
        spans.append(("SPAN", (0, len(header)), (-1, len(header))))
    style = [
        ("FONT", (0, 0), (-1, -1), FONT, 6.6),
        ("GRID", (0, 0), (-1, -1), 0.4, "#777777"),
        ("BACKGROUND", (0, 0), (-1, len(header) - 1), "#d9d9d9"),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("ALIGN", (0, len(header)), (-1, -1), "RIGHT"),
        ("TOPPADDING", (0, 0), (-1, -1), 1),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 1),
        ("LEFTPADDING", (0, 0), (-1, -1), 2),
        ("RIGHTPADDING", (0, 0), (-1, -1), 2),
        *spans,
        *[("FONT", cr, cr, BOLD, 6.6) for cr in bold_cells],
    ]
    out: list[Any] = [
        T(header + rows, colWidths=widths, repeatRows=len(header), style=TableStyle(style))
    ]
    if table.footnote:
        out.append(P(_esc(table.footnote), s["note"]))
    return out


def _trend_chart(chart: Chart, width: float) -> Any:
    """Small panels: the fail share of each flagged procedure by year, threshold dashed."""
    from reportlab.graphics.shapes import Drawing, Line, Rect, String

    data = chart.spec["data"]["values"]
    layers = chart.spec["spec"]["layer"]
    threshold = float(layers[1]["encoding"]["y"]["datum"])
    names = list(dict.fromkeys(d["procedure"] for d in data))
    years = sorted({d["year"] for d in data})
    panel_w, panel_h, gap, top = min(86.0, width / max(len(names), 1) - 6), 38.0, 6.0, 12.0
    drawing = Drawing(width, panel_h + top + 22)
    base = 12.0
    for n, name in enumerate(names):
        x0 = n * (panel_w + gap) + 18
        label = name if len(name) <= 24 else name[:23] + "…"
        drawing.add(String(x0, base + panel_h + 4, label, fontName=FONT, fontSize=5.6))
        drawing.add(Line(x0, base, x0 + panel_w, base, strokeColor="#777777", strokeWidth=0.4))
        if n == 0:
            for v in (0.0, 0.5, 1.0):
                drawing.add(
                    String(
                        x0 - 16,
                        base + v * panel_h - 2,
                        f"{int(v * 100)}%",
                        fontName=FONT,
                        fontSize=5,
                    )
                )
        bar_w = panel_w / max(len(years), 1)
        for k, year in enumerate(years):
            d = next((d for d in data if d["procedure"] == name and d["year"] == year), None)
            bx = x0 + k * bar_w + bar_w * 0.15
            if d is not None and d["share"] is not None:
                color = "#c62828" if d["flagged"] == "выше порога" else "#607d8b"
                drawing.add(
                    Rect(
                        bx,
                        base,
                        bar_w * 0.7,
                        max(float(d["share"]) * panel_h, 0.3),
                        fillColor=color,
                        strokeColor=None,
                    )
                )
            drawing.add(String(bx, base - 7, str(year), fontName=FONT, fontSize=5))
        ty = base + threshold * panel_h
        drawing.add(
            Line(
                x0,
                ty,
                x0 + panel_w,
                ty,
                strokeColor="#000000",
                strokeWidth=0.6,
                strokeDashArray=[2, 2],
            )
        )
    return drawing


def card_flowables(doc: Document, width: float) -> list[Any]:
    from reportlab.platypus import Paragraph as P
    from reportlab.platypus import Spacer, TableStyle
    from reportlab.platypus import Table as T

    s = _styles()
    out: list[Any] = [
        _Footer(doc.footer),
        P(_esc(doc.title), s["h1"]),
        P(_esc(doc.subtitle), s["sub"]),
    ]
    facts = [
        P(f"<font color='#555555'>{_esc(k)}:</font> <b>{_esc(v)}</b>", s["cell"])
        for k, v in doc.facts
    ]
    per_row = 4
    grid = [
        facts[i : i + per_row] + [""] * (per_row - len(facts[i : i + per_row]))
        for i in range(0, len(facts), per_row)
    ]
    out.append(
        T(
            grid,
            colWidths=[width / per_row] * per_row,
            style=TableStyle([("LEFTPADDING", (0, 0), (-1, -1), 0)]),
        )
    )
    for section in doc.sections:
        out.append(P(_esc(section.title), s["h2"]))
        if section.lead:
            out.append(P(_esc(section.lead), s["text"]))
        for block in section.blocks:
            if isinstance(block, Table):
                out += _table(block, width)
            elif isinstance(block, Chart):
                out.append(P(_esc(block.title), s["cellb"]))
                out.append(_trend_chart(block, width))
            elif isinstance(block, Paragraph):
                out.append(P(_esc(block.text), s["text"]))
        out.append(Spacer(1, 2))
    return out


class _Footer:
    """A zero-size flowable that sets the footer text of the pages that follow (one card's)."""

    def __new__(cls, text: str) -> Any:
        from reportlab.platypus.flowables import Flowable

        class Footer(Flowable):
            def __init__(self, text: str) -> None:
                super().__init__()
                self.text = text
                self.width = self.height = 0

            def wrap(self, *_: Any) -> tuple[int, int]:
                return (0, 0)

            def draw(self) -> None:
                self.canv._eduq_footer = self.text  # type: ignore[attr-defined]
                starts = getattr(self.canv, "_eduq_starts", None)
                if starts is None:
                    starts = self.canv._eduq_starts = []  # type: ignore[attr-defined]
                starts.append(self.canv.getPageNumber())

        return Footer(text)


def render_cards_pdf(docs: list[Document], title: str) -> tuple[bytes, list[int]]:
    """One PDF of ``docs`` (each card from a new page), A4 portrait, deterministic; with the first
    page (1-based) of each card."""
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.units import mm
    from reportlab.platypus import BaseDocTemplate, Frame, PageBreak, PageTemplate

    _fonts()
    buffer = io.BytesIO()
    margin = 9 * mm
    template = BaseDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=margin,
        rightMargin=margin,
        topMargin=8 * mm,
        bottomMargin=11 * mm,
        title=title,
        author="eduq",
        creator="eduq",
        invariant=1,
    )
    width = A4[0] - 2 * margin

    def footer(canvas: Any, document: Any) -> None:
        text = getattr(canvas, "_eduq_footer", "")
        canvas.saveState()
        canvas.setFont(FONT, 6.5)
        canvas.setFillColor("#555555")
        canvas.drawString(margin, 6 * mm, text)
        canvas.drawRightString(A4[0] - margin, 6 * mm, f"Страница {document.page}")
        canvas.restoreState()

    frame = Frame(
        margin,
        11 * mm,
        width,
        A4[1] - 19 * mm,
        leftPadding=0,
        rightPadding=0,
        topPadding=0,
        bottomPadding=0,
    )
    # the footer is drawn when a page ends, after the card's first flowable has named it
    template.addPageTemplates([PageTemplate(id="card", frames=[frame], onPageEnd=footer)])
    story: list[Any] = []
    for n, doc in enumerate(docs):
        if n:
            story.append(PageBreak())
        story += card_flowables(doc, width)
    starts: list[int] = []

    def remember(canvas: Any) -> None:
        starts.extend(getattr(canvas, "_eduq_starts", []))

    template.build(story, canvasmaker=_canvas_maker(remember))
    return buffer.getvalue(), starts


def _canvas_maker(on_save: Any) -> Any:
    from reportlab.pdfgen.canvas import Canvas

    class EduqCanvas(Canvas):
        def save(self) -> None:
            on_save(self)
            super().save()

    return EduqCanvas


def split_pdf(data: bytes, starts: list[int]) -> list[bytes]:
    """The PDF of each card cut out of the PDF of all cards (pages from each start to the next)."""
    from pypdf import PdfReader, PdfWriter

    reader = PdfReader(io.BytesIO(data))
    total = len(reader.pages)
    out = []
    for i, first in enumerate(starts):
        last = starts[i + 1] - 1 if i + 1 < len(starts) else total
        writer = PdfWriter()
        for number in range(first, last + 1):
            writer.add_page(reader.pages[number - 1])
        writer.add_metadata(
            {"/Producer": "eduq (ReportLab, pypdf)", "/CreationDate": "D:20000101000000Z"}
        )
        buffer = io.BytesIO()
        writer.write(buffer)
        out.append(buffer.getvalue())
    return out
