"""What a school card says, for schools chosen for their cases, against the warehouse (issue 11).

The session's region (conftest ``small_region``, ``region_documents``) has the cards of list year 2025; these
tests read each chosen school's card (``html/<school>.html`` of the folder of all cards) and compare
every part of it with values computed here: N and F from the delivered result files
(``expected.procedure_counts``), shares and flags from N and F with the profile's parameters, the
order of the risk factors from their significance, the fired deficit rules from the rule columns,
debt shares from the debt counts — never by calling the card's code.

Cases: a listed school with flagged procedures in each of the three results years, a risk-zone
(ШНСУ) school, a school with resource deficits and academic debt, a school with programme targets,
a school not on the list, a school with more than six flagged procedures (two rows of chart panels).
"""

from __future__ import annotations

import html.parser
import io
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pytest

YEAR = 2025  # list year: results 2024, the card's three results years 2022–2024
RESULTS_YEARS = (2022, 2023, 2024)
NBSP = "\u00a0"
SMALL = 5  # EDUQ_SMALL_NUMBER_MIN's default: figures about 1–4 pupils are hidden (docs/bi.md)
HIDDEN = "<5"
SIGNIFICANCE_RANK = {"high": 0, "medium": 1, "low": 2}


# --- a small DOM of the card's HTML ----------------------------------------------------------------
VOID = {"meta", "link", "br", "img", "col", "hr", "input", "area", "base", "source", "wbr"}
SVG_VOID = {"rect", "line", "path", "circle"}  # self-closing inside the chart


@dataclass
class Node:
    tag: str
    attrs: dict[str, str]
    children: list[Node] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)

    def text(self) -> str:
        out = list(self.texts)
        for child in self.children:
            out.append(child.text())
        return re.sub(r"\s+", " ", " ".join(out)).strip()

    def all(self, tag: str, cls: str | None = None) -> list[Node]:
        found = []
        for child in self.children:
            if child.tag == tag and (cls is None or cls in child.attrs.get("class", "").split()):
                found.append(child)
            found += child.all(tag, cls)
        return found

    def one(self, tag: str, cls: str | None = None) -> Node:
        found = self.all(tag, cls)
        assert len(found) == 1, (tag, cls, len(found))
        return found[0]


class _Builder(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("root", {})
        self.stack = [self.root]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, {k: v or "" for k, v in attrs})
        self.stack[-1].children.append(node)
        if tag not in VOID:
            self.stack.append(node)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.stack[-1].children.append(Node(tag, {k: v or "" for k, v in attrs}))

    def handle_endtag(self, tag: str) -> None:
        if tag in VOID:
            return
        for i in range(len(self.stack) - 1, 0, -1):
            if self.stack[i].tag == tag:
                del self.stack[i:]
                return

    def handle_data(self, data: str) -> None:
        self.stack[-1].texts.append(data)


def parse(path: Path) -> Node:
    return parse_text(path.read_text(encoding="utf-8"))


def parse_text(text: str) -> Node:
    builder = _Builder()
    builder.feed(text)
    return builder.root


def section(card: Node, key: str) -> Node:
    return card.one("section", f"section-{key}")


def body_rows(table: Node) -> list[list[Node]]:
    return [tr.all("td") for tr in table.one("tbody").all("tr")]


def number(text: str) -> float:
    """«1 234», «45%», «36,7» as a number (a share as a fraction)."""
    clean = text.replace(NBSP, "").replace(" ", "").replace(",", ".")
    return float(clean[:-1]) / 100 if clean.endswith("%") else float(clean)


# --- the chosen schools ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def serving(small_region, region_documents):
    # after the documents: held open first with DuckDB's own configuration, the serving file could
    # not be opened by their rendering in this process with eduq's (one configuration per file)
    with duckdb.connect(str(small_region.settings.serving_db), read_only=True) as con:
        yield con


@pytest.fixture(scope="module")
def cards_folder(small_region, region_documents) -> Path:
    folder = small_region.settings.publications_dir / str(YEAR) / "cards" / "v1"
    assert (folder / "manifest.json").exists(), "the job did not publish the cards"
    return folder


def _context_year(con, mart: str) -> int:
    (year,) = con.execute(f"select max(year) from marts.{mart} where year <= ?", [YEAR]).fetchone()
    assert year is not None, mart
    return year


@pytest.fixture(scope="module")
def cases(serving) -> dict[str, str]:
    """One school a case (the first by code), each found by its own query."""

    def first(sql: str, *params) -> str:
        row = serving.execute(sql, list(params)).fetchone()
        assert row is not None, f"the region has no school for: {sql}"
        return row[0]

    isbsh_year = _context_year(serving, "fct_isbsh")
    deficit_year = _context_year(serving, "fct_resource_deficits")
    return {
        "listed, flagged three years": first(
            """select l.school_id from marts.fct_shnor_list as l
               where l.list_year = ? and l.is_shnor
                 and (select count(distinct p.year) from marts.fct_procedure_results as p
                      where p.school_id = l.school_id and p.is_flagged and p.counts_for_list
                        and p.year between ? and ?) = 3
               order by l.school_id""",
            YEAR,
            RESULTS_YEARS[0],
            RESULTS_YEARS[-1],
        ),
        "risk zone": first(
            """select i.school_id from marts.fct_isbsh as i
               inner join marts.fct_shnor_list as l on l.school_id = i.school_id and l.list_year = ?
               where i.year = ? and i.is_risk_zone order by l.is_shnor desc, i.school_id""",
            YEAR,
            isbsh_year,
        ),
        "deficits and academic debt": first(
            """select d.school_id from marts.fct_resource_deficits as d
               inner join marts.fct_shnor_list as l on l.school_id = d.school_id and l.list_year = ?
               where d.year = ? and d.has_staffing_deficit and d.has_infrastructure_deficit
                 and exists (select 1 from marts.fct_academic_debt as a
                             where a.school_id = d.school_id and a.with_debt > 0
                               and a.year between ? and ?)
               order by d.school_id""",
            YEAR,
            deficit_year,
            YEAR - 2,
            YEAR,
        ),
        "programme targets": first(
            """select t.school_id from marts.fct_programme_targets as t
               inner join marts.fct_shnor_list as l on l.school_id = t.school_id and l.list_year = ?
               where t.year <= ? and t.actual_value is not null order by t.school_id""",
            YEAR,
            YEAR,
        ),
        "not listed": first(
            "select school_id from marts.fct_shnor_list where list_year = ? and not is_shnor"
            " order by school_id",
            YEAR,
        ),
        # more panels than a row of the chart holds (six): a second row
        "more than six flagged procedures": first(
            """select school_id from marts.fct_procedure_results
               where is_flagged and counts_for_list and year between ? and ?
               group by school_id having count(distinct procedure_code) > 6
               order by school_id""",
            RESULTS_YEARS[0],
            RESULTS_YEARS[-1],
        ),
    }


@pytest.fixture(scope="module")
def cards(cases, cards_folder) -> dict[str, Node]:
    return {sid: parse(cards_folder / "html" / f"{sid}.html") for sid in set(cases.values())}


def test_the_cases_are_different_schools(cases) -> None:
    assert len(set(cases.values())) >= 4, cases


# --- identity ----------------------------------------------------------------------------------------
def test_identity(cards, serving) -> None:
    for sid, card in cards.items():
        name, municipality, locality, small, grade_9, grade_11, enrolment = serving.execute(
            """select school_name, municipality_name, locality_ru, is_small, has_grade_9,
                      has_grade_11, enrolment
               from marts.dim_school where school_id = ? and year = ?""",
            [sid, YEAR - 1],
        ).fetchone()
        facts = {
            dt.text(): dd.text()
            for dt, dd in zip(card.one("dl", "facts").all("dt"), card.one("dl", "facts").all("dd"))
        }
        grades = "1–11" if grade_11 else "1–9" if grade_9 else "1–4"
        assert card.one("h1").text() == name
        assert facts["Код ОО"] == sid
        assert facts["МО"] == municipality
        assert facts["Местность"] == locality
        assert facts["Классы"] == grades
        assert int(number(facts["Обучающихся"])) == enrolment
        assert facts["Малокомплектная"] == ("да" if small else "нет")


# --- status: the list, the transition, ИСБШ and the risk zone ---------------------------------------
def _status(card: Node) -> dict[str, str]:
    out = {}
    for row in body_rows(section(card, "status").one("table")):
        for label, value in zip(row[::2], row[1::2]):
            if label.text():
                out[label.text()] = value.text()
    return out


def test_status(cards, serving, cases) -> None:
    isbsh_year = _context_year(serving, "fct_isbsh")
    for sid, card in cards.items():
        status = _status(card)
        listed, cluster, failing, participants = serving.execute(
            """select l.is_shnor, l.fioko_cluster_ru, f.failing, f.participants
               from marts.fct_shnor_list as l
               left join (select school_id, sum(failing) as failing, sum(participants) as participants
                          from marts.fct_procedure_results
                          where year = ? and is_flagged and counts_for_list group by school_id) as f
                 on f.school_id = l.school_id
               where l.list_year = ? and l.school_id = ?""",
            [YEAR - 1, YEAR, sid],
        ).fetchone()
        assert status[f"В списке ШНОР {YEAR} года"] == ("да" if listed else "нет")
        if listed:
            assert status["Кластер ФИОКО"] == cluster
            # the cluster's measure: the pooled share of the flagged procedures (the default profile)
            measure = number(status["Доля не преодолевших порог (мера кластера)"])
            assert measure == pytest.approx(failing / participants, abs=0.0051)
        else:
            assert "Кластер ФИОКО" not in status
        transition = serving.execute(
            """select cluster_from_ru, transition_type_ru from marts.fct_cluster_transitions
               where school_id = ? and list_year_to = ?""",
            [sid, YEAR],
        ).fetchone()
        if transition is not None:
            assert status[f"Список {YEAR - 1} года"] == (transition[0] or "не в списке")
            assert status[f"Динамика {YEAR - 1} → {YEAR}"] == transition[1]
        isbsh = serving.execute(
            """select isbsh, is_risk_zone, isbsh_quartile, municipal_position_ru
               from marts.fct_isbsh where school_id = ? and year = ?""",
            [sid, isbsh_year],
        ).fetchone()
        if isbsh is not None and isbsh[0] is not None:
            value, risk, quartile, position = isbsh
            assert number(status[f"ИСБШ {isbsh_year}"]) == pytest.approx(value, abs=0.05)
            assert status["Положение в МО"] == position
            assert (
                status["Школа «зоны риска» (ШНСУ)"]
                == f"{'да' if risk else 'нет'} (квартиль {quartile})"
            )
            assert risk == (quartile == 1)  # the risk zone is the bottom quartile
    assert _status(cards[cases["risk zone"]])["Школа «зоны риска» (ШНСУ)"].startswith("да")
    assert _status(cards[cases["not listed"]])[f"В списке ШНОР {YEAR} года"] == "нет"


# --- the procedures of the list: N, F, share for three years, and the chart -------------------------
def _profile(con) -> tuple[float, int]:
    return con.execute(
        "select fail_share_threshold, min_participants from marts.dim_methodology_profile"
    ).fetchone()


def test_procedures_with_n_f_and_share_for_three_years(cards, serving, small_region, cases) -> None:
    threshold, minimum = _profile(serving)
    results = small_region.expected_results  # N and F from the delivered files
    names = dict(
        serving.execute(
            """select p.procedure_code, p.procedure_name_ru from reference.procedures as p
               inner join reference.methodology_profile_procedures as m
                 on m.procedure_code = p.procedure_code
               inner join marts.dim_methodology_profile as d on d.profile_name = m.profile_name
               where m.counts_for_list"""
        ).fetchall()
    )
    for sid, card in cards.items():
        delivered = results[
            (results["school_id"] == sid)
            & results["year"].isin(RESULTS_YEARS)
            & results["procedure_code"].isin(list(names))
        ]
        expected: dict[str, dict[int, tuple[int, int]]] = {}
        for r in delivered.itertuples():
            if r.participants > 0:
                expected.setdefault(names[r.procedure_code], {})[r.year] = (
                    int(r.participants),
                    int(r.failing),
                )
        table = section(card, "procedures").one("table")
        shown = {row[0].text(): row[1:] for row in body_rows(table)}
        assert set(shown) == set(expected), sid
        flagged = []
        for procedure, cells in shown.items():
            any_flag = False
            for k, year in enumerate(RESULTS_YEARS):
                n_cell, f_cell, share_cell = cells[3 * k : 3 * k + 3]
                if year not in expected[procedure]:
                    assert (n_cell.text(), f_cell.text(), share_cell.text()) == ("—", "—", "—")
                    continue
                n, f = expected[procedure][year]
                is_flagged = n >= minimum and f / n >= threshold
                any_flag = any_flag or is_flagged
                if n < SMALL:  # small-number protection: N shown, F and the share hidden
                    assert number(n_cell.text()) == n, (procedure, year)
                    assert (f_cell.text(), share_cell.text()) == (HIDDEN, HIDDEN), (procedure, year)
                    assert not is_flagged
                    continue
                assert (number(n_cell.text()), number(f_cell.text())) == (n, f), (procedure, year)
                assert number(share_cell.text()) == pytest.approx(f / n, abs=0.0051)
                assert ("bold" in share_cell.attrs["class"].split()) == is_flagged, (
                    procedure,
                    year,
                )
            if any_flag:
                flagged.append(procedure)
        chart = section(card, "procedures").all("figure", "chart")
        if not flagged:
            assert not chart, sid
            continue
        # one panel per flagged procedure (in the order of the table), six a row (more: another
        # row, an SVG as wide as the first), the threshold line drawn in each at the threshold on
        # the bars' scale, the procedure's name above it (on two lines if need be, never cut here)
        panels = {g.attrs["data-procedure"]: g for g in chart[0].all("g", "panel")}
        assert list(panels) == flagged, sid
        rows = chart[0].all("svg")
        assert [len(row.all("g", "panel")) for row in rows] == [
            min(6, len(flagged) - i) for i in range(0, len(flagged), 6)
        ], sid
        assert len({row.attrs["width"] for row in rows}) == 1, sid
        for procedure, panel in panels.items():
            title = [t.text() for t in panel.all("text") if "text-anchor" not in t.attrs]
            assert " ".join(title) == procedure and len(title) <= 2, (sid, title)
            (line,) = panel.all("line", "threshold")
            (axis,) = panel.all("line", "axis")
            assert float(line.attrs["data-share"]) == threshold
            assert line.attrs.get("stroke-dasharray"), "the threshold line is dashed"
            base, at = float(axis.attrs["y1"]), float(line.attrs["y1"])
            bars = panel.all("rect", "bar")
            assert sorted(int(b.attrs["data-year"]) for b in bars) == sorted(expected[procedure])
            for bar in bars:
                n, f = expected[procedure][int(bar.attrs["data-year"])]
                assert float(bar.attrs["data-share"]) == pytest.approx(f / n, abs=1e-6)
                if f:  # the bar's height against the line's: share against threshold
                    height = float(bar.attrs["height"])
                    assert height / (base - at) == pytest.approx((f / n) / threshold, rel=0.01)
    # the case chosen for it has flagged procedures in each of the three years
    flagged_years = {
        year
        for cells in body_rows(
            section(cards[cases["listed, flagged three years"]], "procedures").one("table")
        )
        for k, year in enumerate(RESULTS_YEARS)
        if "bold" in cells[1 + 3 * k + 2].attrs["class"].split()
    }
    assert flagged_years == set(RESULTS_YEARS)
    # the case chosen for it has more than six panels, on two rows (before issue 11's fix, the
    # chart showed the first six and said nothing of the rest)
    more = section(cards[cases["more than six flagged procedures"]], "procedures")
    (chart,) = more.all("figure", "chart")
    assert len(chart.all("g", "panel")) > 6 and len(chart.all("svg")) == 2
    assert len(chart.all("div", "chart-row")) == 2


# --- risk profile: 10 factors, high significance first ---------------------------------------------
def test_risk_factors_in_order_of_significance(cards, serving) -> None:
    year = _context_year(serving, "fct_risk_profile")
    for sid, card in cards.items():
        factors = serving.execute(
            """select factor_number, factor_name_ru, significance, significance_ru
               from marts.fct_risk_profile where school_id = ? and year = ?""",
            [sid, year],
        ).fetchall()
        risk = section(card, "risk")
        if not factors:
            assert "Анкета рискового профиля не поступала" in risk.text()
            continue
        assert risk.one("h2").text() == f"Рисковый профиль {year}"
        want = sorted(factors, key=lambda f: (SIGNIFICANCE_RANK.get(f[2], 3), f[0]))
        rows = body_rows(risk.one("table"))
        # two columns: the first half of the factors down the left, the rest down the right
        cells = [(r[0], r[1]) for r in rows] + [(r[2], r[3]) for r in rows if r[2].text()]
        assert len(cells) == len(factors) == 10
        for (name, significance), (number_, factor, level, level_ru) in zip(cells, want):
            assert name.text() == f"{number_}. {factor}"
            assert significance.text() == (level_ru or "нет ответов")
            assert ("bold" in significance.attrs["class"].split()) == (level == "high")


# --- resource deficits: which rules fired -----------------------------------------------------------
def test_resource_deficits_name_the_rules_that_fired(cards, serving, cases) -> None:
    year = _context_year(serving, "fct_resource_deficits")
    rules = serving.execute(
        """select r.rule_code, r.deficit_type, r.rule_ru from reference.deficit_rules as r
           inner join marts.dim_methodology_profile as p on r.rule_set = p.deficit_rule_set
           where r.is_enabled"""
    ).fetchall()
    columns = ", ".join(f"has_{code}" for code, _, _ in rules)
    for sid, card in cards.items():
        text = section(card, "deficits").text()
        row = serving.execute(
            f"select has_resource_survey, {columns} from marts.fct_resource_deficits"
            " where school_id = ? and year = ?",
            [sid, year],
        ).fetchone()
        if row is None or not row[0]:
            assert "Мониторинг ресурсов школы не поступал" in text
            continue
        fired = [rule for rule, has in zip(rules, row[1:]) if has]
        unknown = [rule for rule, has in zip(rules, row[1:]) if has is None]  # an input missing
        for _, kind, wording in rules:
            said = any(r[2] == wording for r in fired + unknown)
            assert (wording in text) == said, (sid, wording)
        assert ("Не оценены (нет данных): " in text) == bool(unknown), sid
        assert ("Кадровые:" in text) == any(r[1] == "staffing" for r in fired)
        assert ("Инфраструктурные:" in text) == any(r[1] == "infrastructure" for r in fired)
        if not fired:
            assert "дефицитов не выявлено" in text
    case = section(cards[cases["deficits and academic debt"]], "deficits").text()
    assert "Кадровые:" in case and "Инфраструктурные:" in case


# --- academic debt ----------------------------------------------------------------------------------
def test_academic_debt_indicators(cards, serving, cases) -> None:
    for sid, card in cards.items():
        periods = serving.execute(
            """select academic_year, period, students_total, with_debt, attending_extra, with_iom,
                      debt_closed
               from marts.fct_academic_debt where school_id = ? and year between ? and ?
               order by year, period = 'year_end'""",
            [sid, YEAR - 2, YEAR],
        ).fetchall()[-2:]
        debt = card.all("section", "section-debt")
        if not periods:
            assert not debt, sid
            continue
        rows = body_rows(debt[0].one("table"))
        assert len(rows) == len(periods)
        for row, (academic_year, period, total, with_debt, extra, iom, closed) in zip(
            rows, periods
        ):
            label = row[0].text()
            assert label.startswith(academic_year)
            assert label.endswith("февраль" if period == "february" else "конец учебного года")
            assert int(number(row[1].text())) == total
            small_school = 0 < total < SMALL  # small-number protection: every share hidden
            if small_school:
                assert row[2].text() == HIDDEN
            else:
                assert number(row[2].text()) == pytest.approx(with_debt / total, abs=0.0051)
            for cell, part in zip(row[3:], (extra, iom, closed)):
                if small_school or 0 < with_debt < SMALL:
                    assert cell.text() == HIDDEN
                elif with_debt:
                    assert number(cell.text()) == pytest.approx(part / with_debt, abs=0.0051)
                else:
                    assert cell.text() == "—"  # no debt: no share of it
    assert card_has_debt(cards[cases["deficits and academic debt"]])


def card_has_debt(card: Node) -> bool:
    (debt,) = card.all("section", "section-debt")
    return any(number(row[2].text()) > 0 for row in body_rows(debt.one("table")))


# --- support programmes and the programme's targets against actuals --------------------------------
def test_support_programmes_and_targets_against_actuals(cards, serving, cases) -> None:
    for sid, card in cards.items():
        support = section(card, "support")
        programmes, since = serving.execute(
            "select support_programmes_to_date, first_support_year from marts.dim_school"
            " where school_id = ? and year = ?",
            [sid, YEAR - 1],
        ).fetchone()
        first = support.all("p")[0].text()
        if programmes:
            assert first == f"Программы поддержки: {programmes} (с {since} года)."
        else:
            assert first == "В программах поддержки не участвовала."
        targets = serving.execute(
            """select indicator, baseline_text, target_text, target_year, actual_value, actual_year,
                      is_percent, target_status_ru
               from marts.fct_programme_targets as t
               where school_id = ? and year = (select max(year) from marts.fct_programme_targets
                                               where school_id = t.school_id and year <= ?)
               order by indicator""",
            [sid, YEAR],
        ).fetchall()
        tables = support.all("table")
        if not targets:
            assert not tables, sid
            continue
        rows = body_rows(tables[0])
        assert len(rows) == len(targets)
        for row, (
            indicator,
            baseline,
            target,
            target_year,
            actual,
            actual_year,
            percent,
            status,
        ) in zip(rows, targets):
            assert row[0].text() == indicator
            assert row[1].text() == (baseline or "—")
            assert row[2].text() == (f"{target} ({target_year})" if target else "—")
            if actual is None:
                assert row[3].text() == "—"
            else:
                value, year = re.fullmatch(r"(.+?) \((\d{4})\)", row[3].text()).groups()
                assert int(year) == actual_year
                assert value.endswith("%") == bool(percent)
                shown = number(value) * (100 if percent else 1)
                assert shown == pytest.approx(actual, abs=0.05 if percent else 0.0005)
            assert row[4].text() == status
    assert section(cards[cases["programme targets"]], "support").all("table")


# --- the PDF: from the card's HTML, reproducible ----------------------------------------------------
def test_a_card_pdf_from_its_html_gives_the_same_bytes_twice(small_region, cases, tmp_path) -> None:
    import dataclasses

    from pypdf import PdfReader

    from publishing.report.publish import publish_cards

    sid = cases["listed, flagged three years"]
    first, second = (
        publish_cards(
            dataclasses.replace(small_region.settings, publications_dir=tmp_path / d),
            YEAR,
            school_id=sid,
        )
        for d in ("a", "b")
    )
    for name in ("card.pdf", "card.html"):
        assert (first.directory / name).read_bytes() == (second.directory / name).read_bytes()
    pdf = PdfReader(first.directory / "card.pdf")
    text = pdf.pages[0].extract_text()
    assert f"Карточка {sid}, список ШНОР {YEAR}" in text and "Страница 1" in text
    # dated by the audit that let the warehouse be served, not by the clock
    manifest = json.loads((first.directory / "manifest.json").read_text(encoding="utf-8"))
    day = manifest["document_date"].replace("-", "")
    assert pdf.metadata["/CreationDate"].startswith(f"D:{day}")
    fonts = [f.get_object() for page in pdf.pages for f in page["/Resources"]["/Font"].values()]
    assert fonts and all(
        "/FontFile2" in f["/DescendantFonts"][0].get_object()["/FontDescriptor"] for f in fonts
    ), "every font embedded"


# --- one page a card, whatever it holds --------------------------------------------------------------
def test_every_card_of_the_region_is_one_page(cards_folder) -> None:
    from pypdf import PdfReader

    manifest = json.loads((cards_folder / "manifest.json").read_text(encoding="utf-8"))
    pdfs = sorted((cards_folder / "pdf").glob("*.pdf"))
    assert [p.stem for p in pdfs] == sorted(manifest["schools"])
    pages = {p.stem: len(PdfReader(p).pages) for p in pdfs}
    assert {sid for sid, n in pages.items() if n != 1} == set()
    assert len(PdfReader(cards_folder / f"cards_{YEAR}.pdf").pages) == len(pdfs)
    assert manifest["layout"]["continued"] == []
    # a card laid out in a compact step has the same style in its HTML
    for sid, step in manifest["layout"]["compact"].items():
        html = (cards_folder / "html" / f"{sid}.html").read_text(encoding="utf-8")
        assert f'class="document fit-{step}"' in html, sid


LONG_INDICATOR = (
    "Показатель {n:02d}: доля обучающихся 5–9 классов, охваченных индивидуальными образовательными "
    "маршрутами и программами дополнительного образования по итогам мониторинга (вариант {n})"
)
LONG_NAME = (
    "Муниципальное бюджетное общеобразовательное учреждение «Средняя общеобразовательная школа "
    "с углублённым изучением отдельных предметов имени Героя Советского Союза И. И. Иванова» "
    "села Длинное"
)
PROGRAMMES = "500+ 2021; 500+ 2022; региональная программа поддержки школ с низкими результатами"


def _worst_case(data, school: dict, targets: int = 12):
    """The card of ``school`` given the most a card can hold: every procedure of the list flagged in
    each of the three years, every risk factor of high significance, every deficit rule fired, two
    periods of academic debt, three programmes, ``targets`` programme indicators with long names,
    and a long school name (the rows as the marts give them, values made up here)."""
    import dataclasses

    sid = school["school_id"]
    kinds = {}
    for rows in data.procedures.values():
        for p in rows:
            kinds.setdefault(p["procedure_code"], p)
    kinds = sorted(kinds.values(), key=lambda p: p["sort_order"])
    years = (data.results_year - 2, data.results_year - 1, data.results_year)
    procedures = [
        {
            **p,
            "school_id": sid,
            "year": year,
            "participants": 100 + k,
            "failing": 40 + k + j,
            "fail_share": (40 + k + j) / (100 + k),
            "is_flagged": True,
            "is_small_number_suppressed": False,
        }
        for k, p in enumerate(kinds)
        for j, year in enumerate(years)
    ]
    names = [p["procedure_name_ru"] for p in kinds]
    school = {
        **school,
        "is_shnor": True,
        "fioko_cluster_ru": "сильно неуспевающие",
        "cluster_measure_value": 0.5,
        "school_name": LONG_NAME,
        "flagged_procedures": "; ".join(f"{n} (45.5%)" for n in names),
        "persistent_procedures": "; ".join(names),
        "support_programmes_to_date": PROGRAMMES,
        "first_support_year": 2021,
    }
    factors = next(rows for rows in data.risk.values() if len(rows) == 10)
    factors = [{**f, "significance": "high", "significance_ru": "высокая"} for f in factors]
    deficits = {"school_id": sid, "has_resource_survey": True}
    deficits |= {f"has_{rule['rule_code']}": True for rule in data.deficit_rules}
    any_target = next(rows for rows in data.targets.values())[0]
    indicators = [
        {
            **any_target,
            "school_id": sid,
            "indicator": LONG_INDICATOR.format(n=n),
            "baseline_text": f"{10 + n}%",
            "target_text": "ежегодное обновление банка данных",
            "target_year": YEAR - 1,
            "actual_value": 30.0 + n,
            "actual_year": YEAR - 1,
            "is_percent": True,
            "target_status_ru": "хранилище не рассчитывает",
            "is_small_number_suppressed": False,
        }
        for n in range(1, targets + 1)
    ]
    debt = next(rows for rows in data.debt.values() if len(rows) >= 2)
    worst = dataclasses.replace(
        data,
        schools=[school],
        procedures={sid: procedures},
        risk={sid: factors},
        deficits={sid: deficits},
        targets={sid: indicators},
        debt={sid: [{**d, "school_id": sid} for d in debt]},
    )
    return worst, school


def _in_order(words: list[str], text: list[str]) -> bool:
    """``words`` appear in ``text`` in this order (other words may stand between them: the cells of
    a table row are read line by line)."""
    rest = iter(text)
    return all(word in rest for word in words)


def test_a_card_holding_everything_still_fits_one_page_with_all_of_it(small_region) -> None:
    from pypdf import PdfReader

    from publishing.report import card, cards_pdf, render
    from publishing.report.publish import open_serving

    with open_serving(small_region.settings) as con:
        data = card.read_cards(con, YEAR)
    listed = next(s for s in data.schools if s["is_shnor"])
    worst, school = _worst_case(data, listed)
    doc = card.build_card(worst, school, build_id="test", document_date=None)
    result = cards_pdf.render_cards_pdf([doc], version_label="v1", moment=None, title="t")
    (fit,) = result.fits
    assert result.pages == [1] and fit.step >= 1 and not fit.continued, fit
    (page,) = PdfReader(io.BytesIO(result.cards[0])).pages
    text = page.extract_text().split()
    assert "уместилась" not in text  # no note that the card runs on

    def shown(phrase: str) -> bool:
        return _in_order(phrase.split(), text)

    assert shown(LONG_NAME) and shown(f"Программы поддержки: {PROGRAMMES} (с 2021 года).")
    for p in worst.procedures[listed["school_id"]]:
        assert shown(p["procedure_name_ru"]), p["procedure_name_ru"]
    rows = {}
    for p in worst.procedures[listed["school_id"]]:
        share = f"{int(p['fail_share'] * 100 + 0.5)}%"
        rows.setdefault(p["procedure_name_ru"], []).extend(
            [str(p["participants"]), str(p["failing"]), share]
        )
    for name, figures in rows.items():  # the table's row: the name, then N, F, share of each year
        assert shown(" ".join([name, *figures])), name
    for f in worst.risk[listed["school_id"]]:
        assert shown(f"{f['factor_number']}. {f['factor_name_ru']}"), f["factor_name_ru"]
    flat = " ".join(text)
    for rule in data.deficit_rules:  # a paragraph of rules, «; » between them
        assert rule["rule_ru"] in flat, rule["rule_ru"]
    for n in range(1, 13):
        assert shown(LONG_INDICATOR.format(n=n) + f" {10 + n}%"), n
        assert shown(f"{30 + n},0% ({YEAR - 1})"), n
    # the end of the card: the targets' footnote, then the footer
    programme_year = worst.targets[listed["school_id"]][0]["year"]
    assert shown(
        f"Программа {programme_year} года. Факт — значение, которое рассчитывает хранилище"
    )
    assert shown("за год достижения или последний год с данными.")
    assert shown(f"Карточка {listed['school_id']}, список ШНОР {YEAR}") and shown("Страница 1")
    # its HTML is written in the same compact step
    html = render.render_html([doc], version_label="v1", page=render.CARD_PAGE, fits=result.fits)
    assert f'class="document fit-{fit.step}"' in html
    # a chart panel for every procedure (all flagged), six a row: none left out
    (chart,) = section(parse_text(html), "procedures").all("figure", "chart")
    procedures = worst.procedures[listed["school_id"]]
    names = list(dict.fromkeys(p["procedure_name_ru"] for p in procedures))
    assert len(names) > 6
    assert [g.attrs["data-procedure"] for g in chart.all("g", "panel")] == names
    assert len(chart.all("svg")) == -(-len(names) // 6)
