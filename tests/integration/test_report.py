"""The regional report and the school cards of the session's generated region (issue 11).

The region's run (conftest ``small_region``) published the list of its latest list year, and the
job publish_list its report and cards (conftest ``region_documents``); these tests read what it
wrote and the serving warehouse it wrote from. Every figure of the report is checked against the marts by its
own query; the HTML against the XLSX; the bytes against a second rendering.
"""

from __future__ import annotations

import dataclasses
import html.parser
import io
import json
import re
import shutil
from pathlib import Path

import duckdb
import pytest
from openpyxl import load_workbook

YEAR = 2025  # the small region has results 2022-2024: list 2025 is the latest
SECTIONS_IN_SEED_ORDER = [
    "1. Список ШНОР по кластерам ФИОКО",
    "2. Динамика образовательных результатов на основе кластеризации ФИОКО",
    "3. Результаты анализа динамики образовательных результатов",
    "4. Динамика образовательных результатов в городских и сельских школах",
    "5. Доля школ, в которых не проводились оценочные процедуры",
    "6. Ресурсные дефициты школ",
    "7. Школы, функционирующие в условиях риска снижения образовательных результатов",
    "8. Мониторинг по показателям учебной неуспешности (трек 3)",
    "9. Сравнение муниципальных образований",
]


@pytest.fixture(scope="module")
def report_dir(small_region, region_documents) -> Path:
    folder = small_region.settings.publications_dir / str(YEAR) / "report" / "v1"
    assert (folder / "manifest.json").exists(), "the job did not publish the report"
    return folder


@pytest.fixture(scope="module")
def serving(small_region):
    with duckdb.connect(str(small_region.settings.serving_db), read_only=True) as con:
        yield con


def test_the_job_publishes_the_report_and_the_cards_and_says_where(
    small_region, region_documents, report_dir
) -> None:
    text = region_documents.publication.render()
    assert f"ШНОР list {YEAR}: unchanged since v" in text  # the run published it
    assert f"Regional report {YEAR}: published v1" in text
    assert str(report_dir / f"report_{YEAR}.pdf") in text
    assert f"School cards {YEAR}: published v1" in text
    names = {p.name for p in report_dir.iterdir()}
    assert {
        f"report_{YEAR}.html",
        f"report_{YEAR}.pdf",
        f"report_{YEAR}.xlsx",
        "sources.json",
    } <= names
    manifest = json.loads((report_dir / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["warehouse"]["build_id"] == region_documents.build_id
    assert manifest["methodology"]["profile"] == "fioko_2025"
    assert manifest["list_year"] == YEAR and manifest["results_year"] == YEAR - 1
    assert manifest["inputs"] and all(f["sha256"] for f in manifest["inputs"])
    for f in manifest["files"]:
        data = (report_dir / f["name"]).read_bytes()
        assert len(data) == f["bytes"]


def _sources(report_dir: Path) -> list[dict]:
    return json.loads((report_dir / "sources.json").read_text(encoding="utf-8"))


def _mart_value(con, mart: str, column: str, key: dict):
    schema, table = mart.split(".")
    assert (
        schema == "marts" and re.fullmatch(r"[a-z_]+", table) and re.fullmatch(r"[a-z_]+", column)
    )
    where = " and ".join(f"{k} is not distinct from ?" for k in key)
    found = con.execute(
        f"select {column} from marts.{table} where {where}", list(key.values())
    ).fetchall()
    assert len(found) == 1, (mart, column, key, found)
    return found[0][0]


def test_every_table_cell_of_the_report_is_the_marts_value(report_dir, serving) -> None:
    wb = load_workbook(report_dir / f"report_{YEAR}.xlsx")
    sources = _sources(report_dir)
    assert [s["sheet"] for s in sources] == wb.sheetnames
    checked = 0
    for table in sources:
        ws = wb[table["sheet"]]
        sourced = {c["cell"] for c in table["cells"]}
        for c in table["cells"]:
            want = _mart_value(serving, c["mart"], c["column"], c["key"])
            got = ws[c["cell"]].value
            if want is None:
                assert isinstance(got, str) and not re.search(r"\d", got), (table["sheet"], c, got)
            elif isinstance(want, (int, float)) and not isinstance(want, bool):
                assert got == pytest.approx(float(want), abs=1e-12), (table["sheet"], c, got, want)
            else:
                assert str(got) == str(want), (table["sheet"], c, got, want)
            checked += 1
        # no figure in the sheet without a source: every number of a data row was checked
        start = min((int(re.sub(r"[A-Z]+", "", c)) for c in sourced), default=10**9)
        for row in ws.iter_rows(min_row=start):
            for cell in row:
                if isinstance(cell.value, (int, float)):
                    assert cell.coordinate in sourced, (table["sheet"], cell.coordinate, cell.value)
    assert checked > 500


class _Cells(html.parser.HTMLParser):
    """The data cells of the HTML report: (sheet, XLSX cell) -> text shown."""

    def __init__(self) -> None:
        super().__init__()
        self.sheet = None
        self.cell = None
        self.out: dict[tuple[str, str], str] = {}
        self.headings: list[str] = []
        self._h2 = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "table":
            self.sheet = a.get("data-sheet")
        elif tag == "td" and "data-cell" in a:
            self.cell = (self.sheet, a["data-cell"])
            self.out[self.cell] = ""
        elif tag == "h2":
            self._h2 = True
            self.headings.append("")

    def handle_endtag(self, tag):
        if tag == "td":
            self.cell = None
        elif tag == "h2":
            self._h2 = False

    def handle_data(self, data):
        if self.cell is not None:
            self.out[self.cell] += data
        if self._h2:
            self.headings[-1] += data


def _parse_html(report_dir: Path) -> _Cells:
    parser = _Cells()
    parser.feed((report_dir / f"report_{YEAR}.html").read_text(encoding="utf-8"))
    return parser


def test_the_html_shows_the_figures_of_the_xlsx(report_dir) -> None:
    wb = load_workbook(report_dir / f"report_{YEAR}.xlsx")
    cells = _parse_html(report_dir).out
    shown = 0
    for table in _sources(report_dir):
        ws = wb[table["sheet"]]
        for c in table["cells"]:
            text = cells[(table["sheet"], c["cell"])].replace("\u00a0", "")
            value = ws[c["cell"]].value
            if c["kind"] == "share" and isinstance(value, float):
                assert text.endswith("%")
                assert abs(float(text[:-1].replace(",", ".")) - value * 100) <= 0.5 + 1e-9, (
                    c,
                    text,
                    value,
                )
            elif c["kind"] == "int" and isinstance(value, (int, float)):
                assert int(text) == value, (c, text, value)
            elif c["kind"] == "text" and value is not None:
                assert text == str(value), (c, text, value)
            shown += 1
    assert shown > 500


def test_sections_follow_seed_003_and_every_figure_has_its_definition(report_dir) -> None:
    parsed = _parse_html(report_dir)
    titles = [h for h in parsed.headings if h[:1].isdigit()]
    assert len(titles) >= len(SECTIONS_IN_SEED_ORDER)
    for title, start in zip(titles, SECTIONS_IN_SEED_ORDER):
        assert title.startswith(start), (title, start)
    text = (report_dir / f"report_{YEAR}.html").read_text(encoding="utf-8")
    # each table and chart up to the next one (its footnote comes right after it)
    body = text.split("<script>")[0]
    blocks = re.split(r'(?=<div class="table-block">|<figure class="chart")', body)[1:]
    assert len(blocks) >= 20
    for block in blocks:
        assert 'class="footnote"' in block, block[:200]
    notes = re.findall(r'<p class="footnote">(.*?)</p>', text, re.DOTALL)
    assert all("Данные по состоянию на" in n for n in notes)
    # the academic-debt monitoring is the one figure the methodology profile does not shape
    assert all("Методика: fioko_2025, версия 1.2" in n or "задолженност" in n for n in notes)
    # the list of 2023 (results 2022, no 2021 results) cannot be computed: «нет списка», never 0
    assert "нет списка" in text
    assert (
        "https://" not in text.replace("https://vega.github.io/schema", "")
        and "<script src" not in text
    )


def test_the_same_inputs_publish_nothing_new_and_give_the_same_bytes(
    small_region, report_dir, tmp_path
) -> None:
    from publishing.report.publish import publish_report

    again = publish_report(small_region.settings, YEAR)
    assert (again.status, again.version) == ("unchanged", 1)
    # two renderings from the same serving warehouse, in two empty folders: the same bytes, every file
    # (v1 may come from an earlier build of the same inputs: its build id and audit date differ)
    first, second = (
        publish_report(
            dataclasses.replace(small_region.settings, publications_dir=tmp_path / d), YEAR
        )
        for d in ("a", "b")
    )
    assert first.status == second.status == "published" and first.version == 1
    names = sorted(p.name for p in first.directory.iterdir())
    assert names == sorted(p.name for p in report_dir.iterdir())
    for name in names:
        assert (first.directory / name).read_bytes() == (second.directory / name).read_bytes(), name
    assert (first.directory / "sources.json").read_bytes() == (
        report_dir / "sources.json"
    ).read_bytes()


def test_the_gate_refuses_a_serving_warehouse_without_a_passed_audit(
    small_region, tmp_path
) -> None:
    from publishing.errors import PublicationRefused
    from publishing.report.publish import publish_cards, publish_report

    warehouse = tmp_path / "warehouse"
    warehouse.mkdir()
    shutil.copy(small_region.settings.serving_db, warehouse / "serving.duckdb")
    with duckdb.connect(str(warehouse / "serving.duckdb")) as con:
        con.execute("drop schema audit cascade")
    settings = dataclasses.replace(
        small_region.settings, warehouse_dir=warehouse, publications_dir=tmp_path / "publications"
    )
    with pytest.raises(PublicationRefused, match="carries no audit record"):
        publish_report(settings, YEAR)
    with pytest.raises(PublicationRefused, match="carries no audit record"):
        publish_cards(settings, YEAR)
    assert not (tmp_path / "publications").exists()


def test_a_list_year_that_cannot_be_computed_is_refused_by_the_command(
    small_region, capsys
) -> None:
    from orchestration.cli import main

    assert main(["report", "--year", str(YEAR - 2)]) == 2  # as eduq publish
    err = capsys.readouterr().err
    assert f"the ШНОР list {YEAR - 2} cannot be computed" in err and f"{YEAR - 4}" in err
    assert not (small_region.settings.publications_dir / str(YEAR - 2)).exists()


def test_the_cards_of_every_school_and_one_card(small_region, region_documents, serving) -> None:
    from pypdf import PdfReader

    from publishing.report.publish import publish_cards

    folder = small_region.settings.publications_dir / str(YEAR) / "cards" / "v1"
    schools = [
        r[0]
        for r in serving.execute(
            "select school_id from marts.fct_shnor_list where list_year = ? order by school_id",
            [YEAR],
        ).fetchall()
    ]
    assert sorted(p.stem for p in (folder / "pdf").iterdir()) == schools
    assert sorted(p.stem for p in (folder / "html").iterdir()) == schools
    whole = PdfReader(folder / f"cards_{YEAR}.pdf")
    assert len(whole.pages) >= len(schools)
    listed, name, cluster = serving.execute(
        """select l.school_id, s.school_name, l.fioko_cluster_ru from marts.fct_shnor_list l
           join marts.dim_school s on s.school_id = l.school_id and s.year = l.results_year
           where l.list_year = ? and l.is_shnor order by l.school_id limit 1""",
        [YEAR],
    ).fetchone()
    one = publish_cards(small_region.settings, YEAR, school_id=listed)
    assert one.status == "published" and one.directory.parent.name == listed
    text = "".join(p.extract_text() for p in PdfReader(one.directory / "card.pdf").pages)
    assert name in text and listed in text and cluster in text
    assert "Рисковый профиль" in text and "целевые показатели" in text
    # the card in the folder of all cards is the same card
    single = "".join(p.extract_text() for p in PdfReader(folder / "pdf" / f"{listed}.pdf").pages)
    assert name in single and cluster in single
    assert len(PdfReader(one.directory / "card.pdf").pages) == 1
    again = publish_cards(small_region.settings, YEAR, school_id=listed)
    assert again.status == "unchanged"


def test_programme_targets_join_the_actual_value_the_warehouse_computes(
    small_region, serving
) -> None:
    import pandas as pd

    delivered = pd.read_csv(
        small_region.landing_copy / "programme_targets.csv", sep=";", encoding="utf-8", dtype=str
    )
    rows = serving.execute(
        """select school_id, indicator, indicator_code, actual_value, actual_year, target_status
           from marts.fct_programme_targets order by school_id, indicator"""
    ).fetchall()
    assert len(rows) == len(delivered)
    results = small_region.expected_results
    vpr = results[results["procedure_code"].str.startswith("VPR_") & (results["year"] == 2024)]
    per_school = vpr.groupby("school_id")[["participants", "failing"]].sum()
    vpr_rows = [r for r in rows if r[2] == "VPR_SUCCESS"]
    assert len(vpr_rows) == delivered["Показатель"].str.contains("ВПР").sum() > 0
    for school, _, _, actual, year, status in vpr_rows:
        n, f = per_school.loc[school]
        assert year == 2024
        assert actual == pytest.approx(round((1 - f / n) * 100, 4), abs=1e-9)
        assert status in ("achieved", "not_achieved")
    not_computed = [r for r in rows if r[1].startswith("Доля педагогических работников")]
    assert not_computed and all(r[3] is None and r[5] == "not_computed" for r in not_computed)


def test_pdf_and_xlsx_open(report_dir) -> None:
    from pypdf import PdfReader

    pdf = PdfReader(report_dir / f"report_{YEAR}.pdf")
    first = pdf.pages[0]
    assert float(first.mediabox.width) > float(first.mediabox.height)  # A4 landscape
    text = pdf.pages[-1].extract_text()
    assert f"Страница {len(pdf.pages)} из {len(pdf.pages)}" in text
    wb = load_workbook(io.BytesIO((report_dir / f"report_{YEAR}.xlsx").read_bytes()))
    assert "1 ШНОР по кластерам" in wb.sheetnames
