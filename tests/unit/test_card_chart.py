"""The school card's chart of flagged procedures (issue 11): a panel for every flagged procedure, six
a row, and panel titles that never run into each other (wrapped onto two lines, cut with «…» only
beyond two), read back from the SVG that publishing/report/charts.py draws.

Widths are measured with the advance widths of DejaVu Sans (publishing/report/font_metrics.py;
tests/report/test_card_chart_pdf.py checks them against the installed font and the titles' boxes in
a PDF laid out by WeasyPrint)."""

from __future__ import annotations

import csv
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from publishing.report import charts, render
from publishing.report.content import Chart, Document, Section
from publishing.report.font_metrics import text_width

SVG = "{http://www.w3.org/2000/svg}"
SEEDS = Path(__file__).resolve().parents[2] / "seeds" / "procedures.csv"
YEARS = (2022, 2023, 2024)
SIZE = 8.0  # the panels' font size (px of the SVG)
ASCENT, DESCENT = 0.93, 0.24  # DejaVu Sans, in em: how far a line's glyphs reach above and below
LONG = [
    "ЕГЭ Математика (профильная)",  # 27 characters: cut to 26 and overlapping before issue 11
    "ВПР Обществознание, 8 класс",
    "ВПР Окружающий мир, 4 класс",
    # three lines' worth: cut on the second, ending in «…»
    "Функциональная грамотность: естественнонаучная, математическая и читательская, 8 класс",
    # one word wider than a panel: broken between its letters
    "Международноесравнительноеисследование PIRLS",
    "ЩЩЩЩЩЩЩЩЩЩЩЩЩЩЩЩЩЩЩЩЩЩЩЩЩЩЩЩЩЩЩЩЩЩЩЩЩЩЩЩЩЩЩЩЩЩЩЩЩЩ",  # the widest letter, over three lines
]


def _seed_names() -> list[str]:
    with SEEDS.open(encoding="utf-8") as f:
        return [row["procedure_name_ru"] for row in csv.DictReader(f)]


def _spec(names: list[str]) -> dict:
    data = [
        {
            "procedure": name,
            "year": year,
            "share": 0.1 + 0.05 * ((n + k) % 15),
            "flagged": "выше порога" if (n + k) % 3 else "ниже порога",
        }
        for n, name in enumerate(names)
        for k, year in enumerate(YEARS)
    ]
    return charts.procedure_trends(data, 0.3, columns=charts.PANELS_PER_ROW, width=70, height=42)


def _panels(svg: str) -> tuple[ET.Element, list[ET.Element]]:
    root = ET.fromstring(svg)
    return root, [g for g in root.iter(f"{SVG}g") if g.get("class") == "panel"]


def _title_texts(panel: ET.Element) -> list[ET.Element]:
    """The lines of a panel's title: its texts that are not the years under the bars (centred)."""
    return [t for t in panel.findall(f"{SVG}text") if t.get("text-anchor") is None]


def test_every_flagged_procedure_has_a_panel_six_a_row_all_rows_alike() -> None:
    names = [name for name in _seed_names() if len(name) <= 26][:13]  # each of one line
    rows = charts.trend_panel_rows(_spec(names))
    assert len(rows) == 3
    parsed = [_panels(svg) for svg in rows]
    assert [len(panels) for _, panels in parsed] == [6, 6, 1]
    drawn = [g.get("data-procedure") for _, panels in parsed for g in panels]
    assert drawn == names  # every one, in the order of the data (the table's)
    # every row as wide and as high as the first (the page scales them alike), six panels wide
    sizes = {(root.get("width"), root.get("height")) for root, _ in parsed}
    assert sizes == {("774", "78")}  # 30 + 6 × (110 + 14) px; one line of titles
    # the last row's single panel sits where the first panel of a row does
    first_x = [_title_texts(panels[0])[0].get("x") for _, panels in parsed]
    assert first_x == ["30.0"] * 3
    for _, panels in parsed:
        for panel in panels:
            assert len(panel.findall(f"{SVG}rect")) == len(YEARS)
            lines = [ln.get("class") for ln in panel.findall(f"{SVG}line")]
            assert lines.count("threshold") == 1


def test_up_to_six_short_names_are_one_row_of_one_line_titles_as_before() -> None:
    names = ["ОГЭ Русский язык", "ОГЭ Математика", "ВПР Русский язык, 5 класс"]
    (svg,) = charts.trend_panel_rows(_spec(names))
    root, panels = _panels(svg)
    assert (root.get("width"), root.get("height")) == ("402", "78")  # 30 + 3 × 124 px
    for panel, name in zip(panels, names):
        (title,) = _title_texts(panel)
        assert (title.text, title.get("y")) == (name, "10.0")
        assert panel.find(f"{SVG}title") is None  # nothing cut, no tooltip needed


@pytest.mark.parametrize(
    "name, lines",
    [
        ("ОГЭ Математика", ["ОГЭ Математика"]),
        ("ВПР Русский язык, 5 класс", ["ВПР Русский язык, 5 класс"]),  # 111.6 px: fits one line
        ("ЕГЭ Математика (профильная)", ["ЕГЭ Математика", "(профильная)"]),
        ("ВПР Обществознание, 8 класс", ["ВПР Обществознание,", "8 класс"]),
        ("  ЕГЭ   Русский\tязык ", ["ЕГЭ Русский язык"]),  # spaces of a seed normalised
        # short words stay with the next one
        ("Математика и информатика в 10 классе", ["Математика", "и информатика в 10 классе"]),
    ],
)
def test_a_title_breaks_between_words(name: str, lines: list[str]) -> None:
    assert charts.title_lines(name) == lines


def test_a_title_of_more_than_two_lines_is_cut_with_an_ellipsis_within_the_width() -> None:
    first, second = charts.title_lines(LONG[3])
    assert LONG[3].startswith(f"{first} {second[:-1]}") and second.endswith("…")
    assert first == "Функциональная"
    # a word wider than a line is broken between its letters, nothing lost
    assert "".join(charts.title_lines(LONG[4])).replace(" ", "") == LONG[4].replace(" ", "")
    one, two = charts.title_lines(LONG[5])
    assert set(one) == {"Щ"} and two.endswith("…")
    for name in LONG:
        for line in charts.title_lines(name):
            assert text_width(line, SIZE) <= charts.TITLE_WIDTH, (name, line)


def test_panel_titles_never_overlap_each_other_or_the_panels() -> None:
    """Every title line of every panel, in a chart of every procedure of the seeds and the long
    names above: inside its own column (ending before the next panel's title begins, inside the
    SVG), its lines one under another, above its panel; the name whole (or cut with «…» and whole
    in the panel's tooltip)."""
    names = list(dict.fromkeys(_seed_names() + LONG))
    rows = charts.trend_panel_rows(_spec(names))
    assert len(rows) == -(-len(names) // 6)
    drawn = []
    for svg in rows:
        root, panels = _panels(svg)
        width = float(root.get("width"))
        # room for two lines of title above every row (one name needs them), rows alike
        assert (root.get("width"), root.get("height")) == ("774", "88")
        starts = [float(_title_texts(p)[0].get("x")) for p in panels]
        for n, panel in enumerate(panels):
            name = panel.get("data-procedure")
            drawn.append(name)
            lines = _title_texts(panel)
            x = float(lines[0].get("x"))
            end = starts[n + 1] if n + 1 < len(panels) else width
            (axis,) = [ln for ln in panel.findall(f"{SVG}line") if ln.get("class") == "axis"]
            panel_top = float(axis.get("y1")) - charts.PANEL_HEIGHT
            assert 1 <= len(lines) <= 2, name
            for k, line in enumerate(lines):
                assert float(line.get("x")) == x
                # at least 4 px (more than a space) before the next title, or the SVG's edge
                assert x + text_width(line.text, SIZE) <= end - 4, (name, line.text)
                y = float(line.get("y"))
                assert y - ASCENT * SIZE >= 0, (name, "above the SVG")
                assert y + DESCENT * SIZE <= panel_top, (name, "into the panel")
                if k:
                    assert y - float(lines[k - 1].get("y")) >= (ASCENT + DESCENT) * SIZE, name
            text = [line.text for line in lines]
            tooltip = panel.find(f"{SVG}title")
            if text[-1].endswith("…"):
                assert tooltip is not None and tooltip.text == name
                assert name.replace(" ", "").startswith("".join(text)[:-1].replace(" ", ""))
            else:
                assert tooltip is None
                assert "".join(text).replace(" ", "") == name.replace(" ", ""), name
    assert drawn == names


def test_a_chart_of_rows_is_written_one_row_under_another() -> None:
    rows = charts.trend_panel_rows(_spec(_seed_names()[:8]))
    assert len(rows) == 2
    chart = Chart("procedures", "Доля", {}, svg_rows=rows)
    doc = Document("card", "Школа", "Карточка", [], [Section("s", "Раздел", [chart])], "footer")
    html = render.render_html([doc], version_label="v1", page=render.CARD_PAGE, toc=False)
    assert html.count('<div class="chart-row"><svg') == 2
    assert html.count('class="panel"') == 8
    pdf_html = render.render_html(
        [doc], version_label="v1", page=render.CARD_PAGE, toc=False, for_pdf=True
    )
    assert pdf_html.count('<div class="chart-row"><img') == 2  # each row its image
    assert "<svg" not in pdf_html.split('class="chart-svg"')[1].split("</figure>")[0]
