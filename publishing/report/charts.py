"""Charts as Vega-Lite specifications (Altair), rendered to SVG offline by vl-convert.

No browser and no network: vl-convert renders in-process; the Russian number format comes from
``format_locale='ru-RU'`` (``1 000,5``), the font is DejaVu Sans (Cyrillic), the data are the
figures of the table beside the chart. The same specification gives the same SVG bytes.
"""

from __future__ import annotations

from typing import Any

FONT = "DejaVu Sans"
LOCALE = "ru-RU"
# colours: positive (greens), neutral (grey), negative (reds), no data (light)
COLORS = {
    "positive": "#2e7d32",
    "positive2": "#81c784",
    "neutral": "#9e9e9e",
    "negative": "#c62828",
    "none": "#e0e0e0",
}
SERIES = ["#1f4e79", "#c55a11", "#548235", "#7030a0", "#bf9000"]
CLUSTER_COLORS = {"сильно": "#c62828", "умеренно": "#ef6c00", "базово": "#f9a825"}


class ChartError(RuntimeError):
    """A chart could not be rendered (the report is not published half-drawn)."""


def _config(spec: dict) -> dict:
    spec.setdefault("config", {})
    spec["config"].update(
        {
            "font": FONT,
            "background": "white",
            "view": {"stroke": None},
            "axis": {"labelFontSize": 11, "titleFontSize": 11, "labelLimit": 260},
            "legend": {
                "labelFontSize": 11,
                "titleFontSize": 11,
                "orient": "bottom",
                "labelLimit": 400,
            },
            "title": {"fontSize": 12},
        }
    )
    spec["$schema"] = "https://vega.github.io/schema/vega-lite/v5.json"
    return spec


def render_svg(spec: dict) -> str:
    import vl_convert as vlc

    try:
        svg = vlc.vegalite_to_svg(spec, format_locale=LOCALE)
    except Exception as exc:  # vl-convert raises plain ValueError / RuntimeError
        raise ChartError(f"chart could not be rendered: {exc}") from exc
    if "<svg" not in svg:
        raise ChartError("chart rendered to no SVG")
    # inline in HTML: the XML prologue is not allowed there
    return svg[svg.index("<svg") :]


def grouped_bars(
    data: list[dict[str, Any]],
    category: str,
    series: str,
    value: str,
    *,
    width: int = 520,
    height: int = 220,
) -> dict:
    """Bars of ``value`` per ``category``, one bar per ``series`` side by side (e.g. clusters × years)."""
    order = list(dict.fromkeys(d[category] for d in data))
    return _config(
        {
            "data": {"values": data},
            "width": width,
            "height": height,
            "mark": {"type": "bar"},
            "encoding": {
                "x": {
                    "field": category,
                    "type": "nominal",
                    "sort": order,
                    "title": None,
                    "axis": {"labelAngle": 0},
                },
                "xOffset": {"field": series, "type": "nominal"},
                "y": {"field": value, "type": "quantitative", "title": "Число школ"},
                "color": {
                    "field": series,
                    "type": "nominal",
                    "title": None,
                    "scale": {"range": SERIES},
                },
            },
        }
    )


def stacked_bars(
    data: list[dict[str, Any]],
    category: str,
    segment: str,
    value: str,
    colors: dict[str, str],
    *,
    normalize: bool = False,
    width: int = 620,
    row_height: int = 26,
    value_title: str = "Число школ",
) -> dict:
    """Horizontal stacked bars: one bar per ``category``, segments in the order of ``colors``."""
    order = list(dict.fromkeys(d[category] for d in data))
    segments = list(colors)
    rank = {s: i for i, s in enumerate(segments)}
    values = [dict(d, _order=rank.get(d[segment], len(rank))) for d in data]
    x: dict[str, Any] = {
        "field": value,
        "type": "quantitative",
        "title": value_title,
        "stack": "zero",
    }
    if normalize:
        x.update(stack="normalize", axis={"format": ".0%"}, title=None)
    return _config(
        {
            "data": {"values": values},
            "width": width,
            "height": max(row_height * len(order), 60),
            "mark": {"type": "bar"},
            "encoding": {
                "y": {"field": category, "type": "nominal", "sort": order, "title": None},
                "x": x,
                "color": {
                    "field": segment,
                    "type": "nominal",
                    "title": None,
                    "sort": segments,
                    "scale": {"domain": segments, "range": [colors[s] for s in segments]},
                },
                "order": {"field": "_order", "type": "quantitative"},
            },
        }
    )


def dot_plot(
    data: list[dict[str, Any]],
    category: str,
    series: str,
    value: str,
    *,
    width: int = 560,
    row_height: int = 18,
) -> dict:
    """Shares (0..1) per ``category`` as dots, one colour per ``series``; categories in data order."""
    order = list(dict.fromkeys(d[category] for d in data))
    names = list(dict.fromkeys(d[series] for d in data))
    return _config(
        {
            "data": {"values": [d for d in data if d[value] is not None]},
            "width": width,
            "height": max(row_height * len(order), 60),
            "mark": {"type": "point", "filled": True, "size": 70, "opacity": 0.9},
            "encoding": {
                "y": {"field": category, "type": "nominal", "sort": order, "title": None},
                "x": {
                    "field": value,
                    "type": "quantitative",
                    "title": None,
                    "axis": {"format": ".0%"},
                    "scale": {"domain": [0, 1]},
                },
                "color": {
                    "field": series,
                    "type": "nominal",
                    "title": None,
                    "sort": names,
                    "scale": {"domain": names, "range": SERIES[: len(names)]},
                },
                "shape": {"field": series, "type": "nominal", "sort": names, "legend": None},
            },
        }
    )


def procedure_trends(
    data: list[dict[str, Any]],
    threshold: float,
    *,
    columns: int = 3,
    width: int = 150,
    height: int = 90,
) -> dict:
    """Small multiples for a school card: the fail share of each procedure by year, bars, with the
    threshold line (e.g. 30%) drawn in every panel."""
    names = list(dict.fromkeys(d["procedure"] for d in data))
    years = sorted({d["year"] for d in data})
    layer = {
        "layer": [
            {
                "mark": {"type": "bar", "width": {"band": 0.7}},
                "encoding": {
                    "x": {
                        "field": "year",
                        "type": "ordinal",
                        "title": None,
                        "scale": {"domain": years},
                    },
                    "y": {
                        "field": "share",
                        "type": "quantitative",
                        "title": None,
                        "axis": {"format": ".0%", "tickCount": 3},
                        "scale": {"domain": [0, 1]},
                    },
                    "color": {
                        "field": "flagged",
                        "type": "nominal",
                        "title": None,
                        "scale": {
                            "domain": ["выше порога", "ниже порога"],
                            "range": [COLORS["negative"], "#607d8b"],
                        },
                    },
                },
            },
            {
                "mark": {"type": "rule", "color": "#000", "strokeDash": [4, 3]},
                "encoding": {"y": {"datum": threshold}},
            },
        ]
    }
    return _config(
        {
            "data": {"values": data},
            "facet": {
                "field": "procedure",
                "type": "nominal",
                "sort": names,
                "title": None,
                "header": {"labelFontSize": 8, "labelLimit": 90},
            },
            "columns": columns,
            "spec": {"width": width, "height": height, **layer},
            "resolve": {"scale": {"x": "shared"}},
        }
    )


# The card's small panels (``trend_panel_rows``), in px of the SVG; the PDF scales a row to the width
# of the page. At most six panels a row; a chart of more panels has more rows, each an SVG as wide as
# the first, so that every panel is drawn at the same size (and the compact steps of
# templates/card_compact.css, which set the height of each row, keep them so).
PANELS_PER_ROW = 6
PANEL_WIDTH, PANEL_HEIGHT, PANEL_GAP = 110.0, 50.0, 14.0
PANEL_LEFT, PANEL_TOP, PANEL_BOTTOM = 30.0, 14.0, 14.0
PANEL_FONT_SIZE = 8.0
TITLE_LINES = 2  # a procedure's name over at most two lines above its panel
TITLE_LINE_HEIGHT = 10.0  # DejaVu Sans reaches 0.93 em above a line and 0.24 em below
# a title ends at least 6 px (two spaces) before the next panel's title begins
TITLE_WIDTH = PANEL_WIDTH + PANEL_GAP - 6.0
ELLIPSIS = "\u2026"


def title_lines(
    name: str,
    width: float = TITLE_WIDTH,
    size: float = PANEL_FONT_SIZE,
    lines: int = TITLE_LINES,
) -> list[str]:
    """A panel's title as at most ``lines`` lines, none wider than ``width`` in DejaVu Sans at
    ``size``: broken between words, never after a word of one or two letters («8 класс», «и»,
    «в» stay with the next word, as Russian typesetting has it; a word wider than a line is broken
    between its letters); what does not fit on the last line is cut, ending in «…» (the table beside
    the chart names the procedure in full, and so does the panel's tooltip)."""
    from publishing.report.font_metrics import text_width

    def fits(text: str) -> bool:
        return text_width(text, size) <= width

    name = " ".join(name.split())
    if fits(name):
        return [name]
    words: list[str] = []
    for word in name.split(" "):
        if words and len(words[-1].split(" ")[-1]) <= 2:
            words[-1] += " " + word
        else:
            words.append(word)
    # greedy: each line takes the words that fit; each piece remembers what joined it to the next
    pieces: list[tuple[str, str]] = []
    current = ""
    for word in words:
        candidate = f"{current} {word}" if current else word
        if fits(candidate):
            current = candidate
            continue
        if current:
            pieces.append((current, " "))
        while not fits(word) and len(word) > 1:
            k = max(k for k in range(1, len(word)) if fits(word[:k]) or k == 1)
            pieces.append((word[:k], ""))
            word = word[k:]
        current = word
    pieces.append((current, ""))
    if len(pieces) <= lines:
        return [text for text, _ in pieces]
    rest = "".join(text + joint for text, joint in pieces[lines - 1 :])
    while rest and not fits(rest + ELLIPSIS):
        rest = rest[:-1]
    return [text for text, _ in pieces[: lines - 1]] + [rest.rstrip(" ,;:") + ELLIPSIS]


def trend_panel_rows(spec: dict) -> list[str]:
    """The card's small panels (fail share of each procedure by year, threshold dashed) drawn as
    plain SVGs from the specification's data, one SVG a row of at most ``PANELS_PER_ROW`` panels: the
    same picture as the PDF's, in microseconds, so that hundreds of cards do not wait for a chart
    renderer. Every procedure of the data has its panel; a name too wide for its panel is wrapped
    onto a second line (all titles of the chart then have room for two)."""
    names = list(dict.fromkeys(d["procedure"] for d in spec["data"]["values"]))
    titles = {name: title_lines(name) for name in names}
    title_rows = max((len(lines) for lines in titles.values()), default=1)
    columns = min(len(names), PANELS_PER_ROW)
    return [
        _trend_panels_svg(spec, names[i : i + PANELS_PER_ROW], titles, columns, title_rows)
        for i in range(0, len(names), PANELS_PER_ROW)
    ]


def _trend_panels_svg(
    spec: dict,
    names: list[str],
    titles: dict[str, list[str]],
    columns: int,
    title_rows: int,
) -> str:
    """One row of panels: ``names`` left to right, the SVG as wide as ``columns`` panels, room above
    the panels for ``title_rows`` lines of title."""
    from html import escape

    data = spec["data"]["values"]
    threshold = float(spec["spec"]["layer"][1]["encoding"]["y"]["datum"])
    years = sorted({d["year"] for d in data})
    pw, ph, gap, left, bottom = PANEL_WIDTH, PANEL_HEIGHT, PANEL_GAP, PANEL_LEFT, PANEL_BOTTOM
    top = PANEL_TOP + (title_rows - 1) * TITLE_LINE_HEIGHT
    width = left + columns * (pw + gap)
    height = top + ph + bottom
    parts = [
        (
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
            f'viewBox="0 0 {width:.0f} {height:.0f}" font-family="{FONT}" '
            f'font-size="{PANEL_FONT_SIZE:g}">'
        ),
        f'<rect width="{width:.0f}" height="{height:.0f}" fill="white"/>',
    ]
    for v in (0.0, 0.5, 1.0):
        y = top + ph * (1 - v)
        parts.append(
            f'<text x="{left - 4}" y="{y + 3:.1f}" text-anchor="end">{int(v * 100)}%</text>'
        )
    for n, name in enumerate(names):
        x0 = left + n * (pw + gap)
        lines = titles[name]
        # one group a procedure, its bars and its threshold line named, so that a reader (or a test)
        # can tell which is which
        parts.append(f'<g class="panel" data-procedure="{escape(name)}">')
        if lines[-1].endswith(ELLIPSIS) and not name.endswith(ELLIPSIS):
            parts.append(f"<title>{escape(name)}</title>")  # cut: the whole name as a tooltip
        for k, line in enumerate(lines):  # the last line just above the panel
            y = top - 4 - (len(lines) - 1 - k) * TITLE_LINE_HEIGHT
            parts.append(f'<text x="{x0:.1f}" y="{y}">{escape(line)}</text>')
        parts.append(
            f'<line class="axis" x1="{x0:.1f}" y1="{top + ph}" x2="{x0 + pw:.1f}" y2="{top + ph}" stroke="#777"/>'
        )
        bw = pw / max(len(years), 1)
        for k, year in enumerate(years):
            bx = x0 + k * bw + bw * 0.15
            d = next((d for d in data if d["procedure"] == name and d["year"] == year), None)
            if d is not None and d["share"] is not None:
                share = float(d["share"])
                h = max(share * ph, 0.5)
                color = COLORS["negative"] if d["flagged"] == "выше порога" else "#607d8b"
                parts.append(
                    f'<rect class="bar" data-year="{year}" data-share="{share:.6f}" x="{bx:.1f}" '
                    f'y="{top + ph - h:.3f}" width="{bw * 0.7:.1f}" height="{h:.3f}" fill="{color}">'
                    f"<title>{escape(name)}, {year}: {share * 100:.1f}%</title></rect>"
                )
            parts.append(
                f'<text x="{bx + bw * 0.35:.1f}" y="{top + ph + 10}" text-anchor="middle">{year}</text>'
            )
        ty = top + ph * (1 - threshold)
        parts.append(
            f'<line class="threshold" data-share="{threshold:g}" x1="{x0:.1f}" y1="{ty:.3f}" '
            f'x2="{x0 + pw:.1f}" y2="{ty:.3f}" stroke="#000" stroke-dasharray="3,2"/>'
        )
        parts.append("</g>")
    parts.append("</svg>")
    return "".join(parts)
