"""The card's chart of flagged procedures as WeasyPrint lays it out (`make test-report`, after
scripts/install_report_tools.sh has installed DejaVu Sans and poppler): the advance widths the chart
measures its titles with are the installed font's, and in the PDF no word of a panel's title touches
another word (pdftotext's boxes of every word of the chart), with every procedure's panel drawn.
"""

from __future__ import annotations

import re
import subprocess

import pytest

from tests.report.conftest import require_tool

pytestmark = pytest.mark.report

NAMES = [
    "ОГЭ Русский язык",
    "ЕГЭ Математика (профильная)",  # cut to 26 characters and overlapping before issue 11
    "ВПР Обществознание, 8 класс",
    "ВПР Окружающий мир, 4 класс",
    "ВПР Русский язык, 5 класс",
    "ЕГЭ Математика (базовая)",
    "Функциональная грамотность: естественнонаучная, математическая и читательская, 8 класс",
    "ВПР Математика, 6 класс",
]


def test_the_widths_the_chart_measures_with_are_the_installed_dejavu_sans() -> None:
    from fontTools.ttLib import TTFont

    from publishing.report import charts, font_metrics

    path = subprocess.run(
        [require_tool("fc-match"), "-f", "%{file}", charts.FONT],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert path.endswith("DejaVuSans.ttf"), f"{charts.FONT} is not installed ({path})"
    font = TTFont(path)
    assert font["head"].unitsPerEm == font_metrics.UNITS_PER_EM
    glyphs, advances = font.getBestCmap(), font["hmtx"]
    installed = {char: advances[glyphs[ord(char)]][0] for char in font_metrics.ADVANCES}
    assert installed == font_metrics.ADVANCES
    assert font_metrics.UNKNOWN > max(installed.values())  # a character not listed: wider


def _words(pdf: bytes, tmp_path) -> list[tuple[str, float, float, float, float]]:
    path = tmp_path / "chart.pdf"
    path.write_bytes(pdf)
    html = subprocess.run(
        [require_tool("pdftotext"), "-bbox", str(path), "-"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return [
        (word, float(x0), float(y0), float(x1), float(y1))
        for x0, y0, x1, y1, word in re.findall(
            r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">([^<]*)</word>',
            html,
        )
    ]


def test_no_word_of_the_chart_touches_another_in_the_pdf(tmp_path) -> None:
    from publishing.report import charts, render
    from publishing.report.content import Chart, Document, Section

    data = [
        {"procedure": name, "year": year, "share": 0.45, "flagged": "выше порога"}
        for name in NAMES
        for year in (2022, 2023, 2024)
    ]
    spec = charts.procedure_trends(data, 0.3, columns=charts.PANELS_PER_ROW)
    chart = Chart("procedures", "Доля", spec, svg_rows=charts.trend_panel_rows(spec))
    doc = Document("card", "Школа", "Карточка", [], [Section("p", "Процедуры", [chart])], "—")
    html = render.render_html(
        [doc], version_label="v1", page=render.CARD_PAGE, toc=False, for_pdf=True
    )
    pdf = render.write_pdf(render.layout_pdf(html, None), None)
    words = _words(pdf, tmp_path)
    chart_words = [w for w in words if w[0] not in {"Школа", "Карточка", "Процедуры", "Доля", "—"}]
    text = " ".join(w[0] for w in chart_words)
    for name in NAMES:  # each drawn whole (on one or two lines), but the one of three lines' worth
        if name.startswith("Функциональная"):
            continue
        assert all(word in text.split() for word in name.split()), name
    assert "Функциональная" in text and "…" in text  # the longest cut on its second line
    # no two words' boxes overlap (a title running into the next panel's would)
    for i, (a, ax0, ay0, ax1, ay1) in enumerate(chart_words):
        for b, bx0, by0, bx1, by1 in chart_words[i + 1 :]:
            overlap_x = min(ax1, bx1) - max(ax0, bx0)
            overlap_y = min(ay1, by1) - max(ay0, by0)
            assert overlap_x <= 0.05 or overlap_y <= 0.05, (a, b)
