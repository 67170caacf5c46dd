"""What a document holds before it is rendered: sections of tables, charts and text.

Every table cell keeps where its value comes from (mart, column, key), so that the XLSX, the HTML
and the PDF show the same figure and a test can check each cell against the warehouse. Figures
are formatted here, once, in Russian (``1 234``, ``26%``, ``45,0``).
"""

from __future__ import annotations

import decimal
import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any

NBSP = "\u00a0"
DASH = "—"

TEXT, INT, SHARE, NUMBER = "text", "int", "share", "number"


@dataclass(frozen=True)
class Source:
    mart: str  # schema.table
    column: str
    key: tuple[tuple[str, Any], ...]

    def key_dict(self) -> dict[str, Any]:
        return dict(self.key)


def source(mart: str, column: str, **key: Any) -> Source:
    return Source(mart, column, tuple(sorted(key.items())))


@dataclass
class Cell:
    value: Any
    kind: str = TEXT
    src: Source | None = None
    missing: str = DASH  # shown when the value is NULL («нет списка», «нет данных»)
    bold: bool = False

    def text(self) -> str:
        return format_value(self.value, self.kind, self.missing)


@dataclass
class Column:
    header: str
    kind: str = TEXT
    group: str | None = None  # a header spanning consecutive columns of the same group
    width: float = 12  # XLSX column width (characters)


@dataclass
class Table:
    key: str  # sheet name of the XLSX (unique, <= 31 characters)
    title: str
    columns: list[Column]
    rows: list[list[Cell]] = field(default_factory=list)
    footnote: str = ""
    total_rows: set[int] = field(default_factory=set)  # indexes of rows shown as totals
    empty_text: str = "Нет данных"


@dataclass
class Chart:
    key: str
    title: str
    spec: dict  # Vega-Lite specification (data inline)
    footnote: str = ""
    svg: str = ""  # rendered
    # or drawn as rows, one SVG a row, one under another (the card's panels: six a row)
    svg_rows: list[str] = field(default_factory=list)


@dataclass
class Paragraph:
    text: str
    css: str = ""


Block = Table | Chart | Paragraph


@dataclass
class Section:
    key: str
    title: str
    blocks: list[Block] = field(default_factory=list)
    lead: str = ""


@dataclass
class Document:
    kind: str  # report | card
    title: str
    subtitle: str
    facts: list[tuple[str, str]]  # label, value (the title block)
    sections: list[Section]
    footer: str
    language: str = "ru"
    created: str = ""  # ISO date of the document (PDF metadata)
    anchor: str = ""  # HTML id of the document (several documents in one file: the cards)

    def tables(self) -> list[Table]:
        return [b for s in self.sections for b in s.blocks if isinstance(b, Table)]

    def charts(self) -> list[Chart]:
        return [b for s in self.sections for b in s.blocks if isinstance(b, Chart)]


def _round_half_up(value: float, digits: int) -> decimal.Decimal:
    quantum = decimal.Decimal(1).scaleb(-digits)
    return decimal.Decimal(repr(float(value))).quantize(quantum, rounding=decimal.ROUND_HALF_UP)


def group_thousands(text: str) -> str:
    sign = "-" if text.startswith("-") else ""
    digits = text.lstrip("-")
    parts = []
    while len(digits) > 3:
        parts.insert(0, digits[-3:])
        digits = digits[:-3]
    parts.insert(0, digits)
    return sign + NBSP.join(parts)


def format_int(value: Any) -> str:
    return group_thousands(str(int(value)))


def format_share(value: float, digits: int = 0) -> str:
    """0.2597 -> «26%» (half up, as people round)."""
    number = _round_half_up(float(value) * 100, digits)
    text = f"{number:f}".replace(".", ",")
    whole, _, frac = text.partition(",")
    return group_thousands(whole) + ("," + frac if frac else "") + "%"


def format_number(value: float, digits: int = 1) -> str:
    text = f"{_round_half_up(float(value), digits):f}"
    whole, _, frac = text.partition(".")
    return group_thousands(whole) + ("," + frac if frac else "")


def format_value(value: Any, kind: str, missing: str = DASH) -> str:
    if value is None:
        return missing
    if kind == INT:
        return format_int(value)
    if kind == SHARE:
        return format_share(value)
    if kind == NUMBER:
        return format_number(value)
    if isinstance(value, bool):
        return "да" if value else "нет"
    return str(value)


def format_date(value: Any) -> str:
    return value.strftime("%d.%m.%Y") if value is not None else DASH


def _jsonable(value: Any) -> Any:
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, (int, str, bool)) or value is None:
        return value
    return str(value)


def document_content(doc: Document) -> dict:
    """Everything a reader sees, as plain data (the fingerprint of the document's content)."""

    def block(b: Block) -> dict:
        if isinstance(b, Table):
            return {
                "table": b.key,
                "title": b.title,
                "columns": [asdict(c) for c in b.columns],
                "rows": [[[_jsonable(c.value), c.kind, c.missing] for c in row] for row in b.rows],
                "footnote": b.footnote,
            }
        if isinstance(b, Chart):
            return {"chart": b.key, "title": b.title, "spec": b.spec, "footnote": b.footnote}
        return {"text": b.text}

    return {
        "kind": doc.kind,
        "title": doc.title,
        "subtitle": doc.subtitle,
        "facts": doc.facts,
        "sections": [
            {"key": s.key, "title": s.title, "lead": s.lead, "blocks": [block(b) for b in s.blocks]}
            for s in doc.sections
        ],
    }


def fingerprint(*parts: Any) -> str:
    data = json.dumps(parts, ensure_ascii=False, sort_keys=True, default=_jsonable)
    return hashlib.sha256(data.encode("utf-8")).hexdigest()
