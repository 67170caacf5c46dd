"""The report's formatting, rendering and versioning on small hand-made documents (no warehouse)."""

from __future__ import annotations

import datetime as dt
import io
import json

import pytest

from publishing.errors import VersionConflict
from publishing.report import charts, render
from publishing.report.content import (
    INT,
    SHARE,
    Cell,
    Chart,
    Column,
    Document,
    Section,
    Table,
    format_number,
    format_share,
    format_value,
    source,
)
from publishing.report.versioning import publish_version, versions


def test_figures_are_formatted_in_russian_and_rounded_half_up() -> None:
    assert format_share(0.125) == "13%"  # half up, not to even
    assert format_share(0.735) == "74%"
    assert format_share(0.0) == "0%" and format_share(1.0) == "100%"
    assert format_value(1234567, INT) == "1\u00a0234\u00a0567"
    assert format_number(45.05) == "45,1" and format_number(-3.0) == "-3,0"
    assert format_value(None, SHARE, "нет списка") == "нет списка"
    assert format_value(True, "text") == "да"


def _doc() -> Document:
    table = Table(
        key="1 Таблица",
        title="Список ШНОР",
        columns=[
            Column("Кластер"),
            Column("Число", INT, group="2025"),
            Column("Доля", SHARE, group="2025"),
        ],
        rows=[
            [
                Cell("сильно неуспевающие"),
                Cell(13, INT, source("marts.t", "n", k=1)),
                Cell(0.149, SHARE),
            ],
            [Cell("Всего ШНОР", bold=True), Cell(87, INT), Cell(None, SHARE, missing="нет списка")],
        ],
        footnote="Правило. Методика: p, версия 1. Данные по состоянию на 16.03.2023.",
        total_rows={1},
    )
    chart = Chart(
        "c",
        "Кластеры",
        charts.grouped_bars(
            [
                {"Кластер": "сильно", "Год": "2025", "Школ": 13},
                {"Кластер": "сильно", "Год": "2024", "Школ": 10},
            ],
            "Кластер",
            "Год",
            "Школ",
        ),
        footnote="Определение.",
    )
    return Document(
        "report",
        "Отчёт",
        "Подзаголовок",
        [("Год", "2025")],
        [Section("s", "1. Раздел", [table, chart])],
        "Отчёт",
    )


def test_html_is_self_contained_and_names_the_xlsx_cell_of_every_figure() -> None:
    html = render.render_html([_doc()], version_label="v1")
    assert "<script src" not in html and "http://" not in html.replace("http://www.w3.org", "")
    assert (
        'data-cell="B5"' in html and ">13<" in html
    )  # title row 1, headers rows 3-4, data from row 5
    assert 'data-cell="C6"' in html and "нет списка" in html
    assert html.count("<svg") == 1 and "Кластеры" in html
    assert render.render_html([_doc()], version_label="v1") == html


def test_a_chart_renders_to_the_same_svg_with_cyrillic_and_russian_numbers() -> None:
    spec = charts.grouped_bars(
        [{"Кластер": "умеренно", "Год": "2025", "Школ": 1500}], "Кластер", "Год", "Школ"
    )
    svg = charts.render_svg(spec)
    assert svg.startswith("<svg") and "умеренно" in svg
    assert ">1\u00a0000<" in svg  # ru-RU thousands separator on the axis
    assert charts.render_svg(spec) == svg


def test_xlsx_holds_the_values_with_formats_and_fixed_dates() -> None:
    from openpyxl import load_workbook

    doc = _doc()
    data = render.render_xlsx(doc.tables(), dt.date(2023, 3, 16), "t")
    assert data == render.render_xlsx(doc.tables(), dt.date(2023, 3, 16), "t")
    ws = load_workbook(io.BytesIO(data))["1 Таблица"]
    assert ws["A1"].value == "Список ШНОР"
    assert (
        ws["B5"].value == 13
        and ws["C5"].value == pytest.approx(0.149)
        and ws["C5"].number_format == "0%"
    )
    assert ws["C6"].value == "нет списка"
    sources = render.sources_map(doc.tables())
    assert sources[0]["cells"] == [
        {"cell": "B5", "mart": "marts.t", "column": "n", "key": {"k": 1}, "kind": "int"}
    ]


def test_pdf_bytes_are_the_same_for_the_same_document() -> None:
    html = render.render_html([_doc()], version_label="v1", for_pdf=True)
    first = render.render_pdf(html, dt.date(2023, 3, 16))
    assert first.startswith(b"%PDF") and render.render_pdf(html, dt.date(2023, 3, 16)) == first


def test_versions_are_never_overwritten_and_the_same_content_is_unchanged(tmp_path) -> None:
    def files(version: int) -> dict[str, bytes]:
        return {"a.txt": f"v{version}".encode(), "sub/b.txt": b"b"}

    def manifest(version: int, previous: int | None, written: dict[str, bytes]) -> dict:
        return {"version": version, "previous_version": previous}

    first = publish_version(tmp_path, "fp1", files, manifest)
    assert (first.status, first.version) == ("published", 1)
    assert (tmp_path / "v1" / "sub" / "b.txt").read_bytes() == b"b"
    assert publish_version(tmp_path, "fp1", files, manifest).status == "unchanged"
    second = publish_version(tmp_path, "fp2", files, manifest)
    assert (second.status, second.version) == ("published", 2)
    assert (tmp_path / "v1" / "a.txt").read_bytes() == b"v1"
    m = json.loads((tmp_path / "v2" / "manifest.json").read_text())
    assert m["previous_version"] == 1 and m["content_fingerprint"] == "fp2"
    assert {f["name"] for f in m["files"]} == {"a.txt", "sub/b.txt"}
    (tmp_path / "v3").mkdir()  # an interrupted publication
    with pytest.raises(VersionConflict):
        publish_version(tmp_path, "fp3", files, manifest)
    assert versions(tmp_path) == [1, 2]


def _card(n: int) -> Document:
    table = Table(
        key="Процедуры",
        title="",
        columns=[Column("Процедура"), Column("N", INT), Column("доля", SHARE)],
        rows=[[Cell(f"ВПР Русский язык, {n} класс"), Cell(20 + n, INT), Cell(0.35, SHARE)]],
    )
    return Document(
        "card",
        f"Школа № {n}",
        "Карточка школы",
        [("Код ОО", f"sch{n}")],
        [Section("procedures", "Оценочные процедуры", [table])],
        f"Карточка sch{n}",
        created="2023-03-16",
        anchor=f"card-sch{n}",
    )


def test_cards_pdf_is_laid_out_from_the_html_the_same_in_one_or_two_processes(
    monkeypatch,
) -> None:
    from pypdf import PdfReader

    from publishing.report import cards_pdf

    monkeypatch.setattr(cards_pdf, "CARDS_PER_CHUNK", 2)  # three cards, two chunks
    docs = [_card(n) for n in (5, 6, 7)]
    day = dt.date(2023, 3, 16)
    one = cards_pdf.render_cards_pdf(docs, version_label="v1", moment=day, title="t", workers=1)
    two = cards_pdf.render_cards_pdf(docs, version_label="v1", moment=day, title="t", workers=2)
    assert one == two
    whole, singles = one.whole, one.cards
    assert len(PdfReader(io.BytesIO(whole)).pages) == 3
    assert one.fits == [render.AS_DESIGNED] * 3 and one.pages == [1, 1, 1]
    for n, single in zip((5, 6, 7), singles):
        pdf = PdfReader(io.BytesIO(single))
        text = pdf.pages[0].extract_text()
        # its own footer and page number, its own figure, dated by the document
        assert f"Карточка sch{n}, v1" in text and "Страница 1" in text and f"{20 + n}" in text
        assert pdf.metadata["/Title"] == f"Школа № {n} — Карточка школы"
        assert pdf.metadata["/CreationDate"].startswith("D:20230316")


def test_a_failing_card_process_is_an_error_with_its_message() -> None:
    from publishing.report import cards_pdf

    html = render.render_html([_card(5)], version_label="v1", page=render.CARD_PAGE, for_pdf=True)
    chunk = cards_pdf.CardChunk(html, ("card-unknown",), ("t",), None)  # no such card in the HTML
    with pytest.raises(cards_pdf.CardRenderingFailed, match="KeyError: 'card-unknown'"):
        cards_pdf._render_in_workers([chunk, chunk], 2, lambda i, cards: None)


def _long_card(rows: int) -> Document:
    """A card of one table of ``rows`` numbered rows, each a figure of its own."""
    table = Table(
        key="Показатели",
        title="",
        columns=[Column("Показатель", width=60), Column("Значение", INT)],
        rows=[
            [Cell(f"Показатель номер {n} программы школы"), Cell(100 + n, INT)] for n in range(rows)
        ],
        footnote="Конец таблицы показателей.",
    )
    return Document(
        "card",
        "Школа № 1",
        "Карточка школы",
        [("Код ОО", "sch1")],
        [Section("support", "Целевые показатели", [table])],
        "Карточка sch1",
        anchor="card-sch1",
    )


def test_a_card_too_long_for_one_page_even_compact_runs_on_and_says_so() -> None:
    """The last resort (publishing/report/cards_pdf.fit_card): the most compact step, the note at
    the card's top, its pages counted; every row of it is in the PDF, nothing is left out."""
    from pypdf import PdfReader

    from publishing.report import cards_pdf

    doc = _long_card(150)
    day = dt.date(2023, 3, 16)
    result = cards_pdf.render_cards_pdf([doc], version_label="v1", moment=day, title="t", workers=1)
    fit = render.Fit(render.CARD_COMPACT_STEPS, continued=True)
    assert result.fits == [fit] and result.pages == [2]
    pages = [page.extract_text() for page in PdfReader(io.BytesIO(result.cards[0])).pages]
    assert len(pages) == 2
    assert render.CONTINUED_NOTE.split(":")[0] in " ".join(pages[0].split())
    assert "Страница 1 из 2" in pages[0] and "Страница 2 из 2" in pages[1]
    assert all("Карточка sch1, v1" in page for page in pages)  # the footer on every page
    text = " ".join(" ".join(pages).split())
    for n in range(150):
        assert f"Показатель номер {n} программы школы {100 + n}" in text, n
    assert "Конец таблицы показателей." in text
    html = render.render_html([doc], version_label="v1", page=render.CARD_PAGE, fits=[fit])
    assert f'class="document fit-{render.CARD_COMPACT_STEPS}"' in html
    assert render.CONTINUED_NOTE in html and '" из " counter(pages)' in html


def test_a_card_that_fits_keeps_its_html_and_the_compact_steps_are_all_styled() -> None:
    card = _card(5)
    plain = render.render_html([card], version_label="v1", page=render.CARD_PAGE)
    same = render.render_html(
        [card], version_label="v1", page=render.CARD_PAGE, fits=[render.AS_DESIGNED]
    )
    assert same == plain and "fit-" not in plain and "counter(pages)" not in plain
    css = (render.TEMPLATES / "card_compact.css").read_text(encoding="utf-8")
    for step in range(1, render.CARD_COMPACT_STEPS + 1):
        compact = render.render_html(
            [card], version_label="v1", page=render.CARD_PAGE, fits=[render.Fit(step)]
        )
        assert f'class="document fit-{step}"' in compact and css in compact
        assert f"article.fit-{step} table {{" in css and f"article.fit-{step} .footnote {{" in css
        assert render.CONTINUED_NOTE not in compact


def test_a_run_names_the_cards_that_run_on() -> None:
    from pathlib import Path

    from publishing.report.publish import DocumentResult

    result = DocumentResult("cards", 2025, "published", 2, Path("cards/v2"), count=3)
    assert "run on" not in result.render()
    result.continued = ["sch7"]
    assert result.render().endswith("run on (each says so on its first page): sch7")


def test_a_deficit_rule_whose_input_is_missing_is_said_not_evaluated_not_none() -> None:
    from publishing.report.card import deficit_texts

    rules = [
        {"rule_code": "teacher_vacancies", "deficit_type": "staffing", "rule_ru": "Есть вакансии"},
        {"rule_code": "ovz_specialist_gap", "deficit_type": "staffing", "rule_ru": "Нет логопеда"},
        {"rule_code": "gym_gap", "deficit_type": "infrastructure", "rule_ru": "Нет спортзала"},
    ]
    school = {"has_resource_survey": True, "has_teacher_vacancies": False, "has_gym_gap": False}
    assert deficit_texts(rules, {**school, "has_ovz_specialist_gap": False}) == [
        "Кадровых и инфраструктурных дефицитов не выявлено."
    ]
    assert deficit_texts(rules, {**school, "has_ovz_specialist_gap": None}) == [
        "По оценённым правилам дефицитов не выявлено.",
        "Не оценены (нет данных): Нет логопеда.",
    ]
    fired = {**school, "has_gym_gap": True, "has_ovz_specialist_gap": None}
    assert deficit_texts(rules, fired) == [
        "Инфраструктурные: Нет спортзала.",
        "Не оценены (нет данных): Нет логопеда.",
    ]
    assert deficit_texts(rules, None) == ["Мониторинг ресурсов школы не поступал."]
