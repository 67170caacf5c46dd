"""The school card: one page per school for its curator and director (seeds 000–002 are such
schools' plans): identity, status (ШНОР and cluster, risk zone with ИСБШ and municipal position),
the procedures of the list with N, F and share for the last three results years (a small chart of
the flagged ones, the threshold drawn), the risk profile, resource deficits (which rules fired),
academic debt, support programmes and the programme's target indicators against actuals.

All schools of a list year are read with one query per mart and grouped here; nothing is
recomputed.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import duckdb

from publishing.errors import PublishingError
from publishing.report import charts, footnotes, queries
from publishing.report.content import (
    DASH,
    INT,
    NUMBER,
    SHARE,
    TEXT,
    Cell,
    Chart,
    Column,
    Document,
    Paragraph,
    Section,
    Table,
    format_date,
    format_int,
    format_number,
    source,
)
from publishing.report.footnotes import Basis
from publishing.report.regional import check_list_year

M = "marts."


class SchoolNotFound(PublishingError):
    """The school has no row in the list year asked for."""


@dataclass
class CardData:
    """Everything the cards of one list year need, read once."""

    list_year: int
    results_year: int
    basis: Basis
    schools: list[dict]
    transitions: dict[str, dict]
    isbsh_year: int | None
    isbsh: dict[str, dict]
    procedures: dict[str, list[dict]]
    risk_year: int | None
    risk: dict[str, list[dict]]
    deficit_year: int | None
    deficit_rules: list[dict]
    deficits: dict[str, dict]
    debt: dict[str, list[dict]]
    targets: dict[str, list[dict]]


def _by_school(rows: list[dict]) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = defaultdict(list)
    for r in rows:
        out[r["school_id"]].append(r)
    return out


def read_cards(con: duckdb.DuckDBPyConnection, list_year: int) -> CardData:
    ly = check_list_year(con, list_year)
    r = ly.results_year
    basis = Basis(queries.profile(con), queries.data_as_of(con), queries.small_number_min(con))
    isbsh_year = queries.context_year(con, "fct_isbsh", list_year)
    risk_year = queries.context_year(con, "fct_risk_profile", list_year)
    deficit_year = queries.context_year(con, "fct_resource_deficits", list_year)
    rules = queries.rows(con, queries.SQL_DEFICIT_RULES)
    deficits: dict[str, dict] = {}
    if deficit_year is not None and rules:
        columns = ", ".join(f"has_{rule['rule_code']}" for rule in rules)
        sql = queries.SQL_CARD_DEFICITS.format(columns=columns)
        deficits = {d["school_id"]: d for d in queries.rows(con, sql, [deficit_year])}
    return CardData(
        list_year=list_year,
        results_year=r,
        basis=basis,
        schools=queries.rows(con, queries.SQL_CARD_SCHOOLS, [list_year]),
        transitions={
            t["school_id"]: t for t in queries.rows(con, queries.SQL_CARD_TRANSITIONS, [list_year])
        },
        isbsh_year=isbsh_year,
        isbsh={i["school_id"]: i for i in queries.rows(con, queries.SQL_CARD_ISBSH, [isbsh_year])},
        procedures=_by_school(queries.rows(con, queries.SQL_CARD_PROCEDURES, [r - 2, r])),
        risk_year=risk_year,
        risk=_by_school(queries.rows(con, queries.SQL_CARD_RISK_PROFILE, [risk_year])),
        deficit_year=deficit_year,
        deficit_rules=rules,
        deficits=deficits,
        debt=_by_school(queries.rows(con, queries.SQL_CARD_DEBT, [list_year - 2, list_year])),
        targets=_by_school(queries.rows(con, queries.SQL_CARD_TARGETS, [list_year])),
    )


def _grades(s: dict) -> str:
    if s.get("has_grade_11"):
        return "1–11"
    if s.get("has_grade_9"):
        return "1–9"
    if s.get("has_grade_9") is False:
        return "1–4"
    return "—"


def _yes(value: Any) -> str:
    return "—" if value is None else ("да" if value else "нет")


def build_card(data: CardData, school: dict, *, build_id: str, document_date: Any) -> Document:
    sid = school["school_id"]
    y, r, b = data.list_year, data.results_year, data.basis
    key_list = {"school_id": sid, "list_year": y}
    sections: list[Section] = []

    # status
    status = Table(
        key="Статус",
        title="",
        columns=[
            Column("Показатель", TEXT, width=24),
            Column("Значение", TEXT, width=26),
            Column("Показатель", TEXT, width=24),
            Column("Значение", TEXT, width=26),
        ],
    )
    pairs: list[list[Cell]] = []

    def row(
        label: str, value: Any, mart: str | None = None, column: str | None = None, **key: Any
    ) -> None:
        src = source(M + mart, column, **key) if mart and column else None
        pairs.append([Cell(label), Cell(value, TEXT, src)])

    row(f"В списке ШНОР {y} года", _yes(school["is_shnor"]))
    if school["is_shnor"]:
        row(
            "Кластер ФИОКО",
            school["fioko_cluster_ru"],
            "fct_shnor_list",
            "fioko_cluster_ru",
            **key_list,
        )
        pairs.append(
            [
                Cell("Доля не преодолевших порог (мера кластера)"),
                Cell(
                    school["cluster_measure_value"],
                    SHARE,
                    source(M + "fct_shnor_list", "cluster_measure_value", **key_list),
                ),
            ]
        )
        row(
            "Основание: процедуры года результатов",
            school["flagged_procedures"],
            "fct_shnor_list",
            "flagged_procedures",
            **key_list,
        )
        row(
            "Два года подряд",
            school["persistent_procedures"],
            "fct_shnor_list",
            "persistent_procedures",
            **key_list,
        )
    t = data.transitions.get(sid)
    if t is not None:
        key_t = {"school_id": sid, "list_year_to": y}
        row(f"Список {y - 1} года", t["cluster_from_ru"] or "не в списке")
        row(
            f"Динамика {y - 1} → {y}",
            t["transition_type_ru"],
            "fct_cluster_transitions",
            "transition_type_ru",
            **key_t,
        )
    i = data.isbsh.get(sid)
    if i is not None and i["isbsh"] is not None:
        key_i = {"school_id": sid, "year": data.isbsh_year}
        pairs.append(
            [
                Cell(f"ИСБШ {data.isbsh_year}"),
                Cell(i["isbsh"], NUMBER, source(M + "fct_isbsh", "isbsh", **key_i)),
            ]
        )
        row(
            "Положение в МО",
            i["municipal_position_ru"],
            "fct_isbsh",
            "municipal_position_ru",
            **key_i,
        )
        row(
            "Школа «зоны риска» (ШНСУ)",
            f"{_yes(i['is_risk_zone'])} (квартиль {i['isbsh_quartile']})",
        )
    elif i is not None and b.missing(i) != DASH:  # a school of fewer pupils than the minimum
        row(f"ИСБШ {data.isbsh_year}", f"{b.missing(i)} (скрыто: мало обучающихся)")
    elif data.isbsh_year is not None:
        row(f"ИСБШ {data.isbsh_year}", "не рассчитан (мало данных социального паспорта)")
    half = (len(pairs) + 1) // 2
    for left, right in zip(pairs[:half], pairs[half:] + [[Cell(""), Cell("")]]):
        status.rows.append(left + right)
    status.footnote = footnotes.short_rules(b, r) + " " + b.tail()
    sections.append(Section("status", "Статус школы", [status]))

    # procedures of the list, three results years
    years = [r - 2, r - 1, r]
    by_proc: dict[str, dict[int, dict]] = {}
    names: dict[str, str] = {}
    for p in data.procedures.get(sid, []):
        by_proc.setdefault(p["procedure_code"], {})[p["year"]] = p
        names[p["procedure_code"]] = p["procedure_name_ru"]
    procs = Table(
        key="Процедуры",
        title="",
        columns=[Column("Процедура", TEXT, width=30)]
        + [
            Column(h, k, group=str(year))
            for year in years
            for h, k in (("N", INT), ("F", INT), ("доля", SHARE))
        ],
        empty_text="Нет участников процедур списка за три года",
    )
    chart_data = []
    suppressed = False
    flagged_codes = [c for c, ys in by_proc.items() if any(p["is_flagged"] for p in ys.values())]
    for code, ys in by_proc.items():
        cells = [Cell(names[code])]
        for year in years:
            p = ys.get(year)
            if p is None:
                cells += [Cell(None, INT), Cell(None, INT), Cell(None, SHARE)]
                continue
            key = {"school_id": sid, "procedure_code": code, "year": year}
            cells += [
                Cell(
                    p["participants"],
                    INT,
                    source(M + "fct_procedure_results", "participants", **key),
                ),
                Cell(
                    p["failing"],
                    INT,
                    source(M + "fct_procedure_results", "failing", **key),
                    missing=b.missing(p),
                ),
                Cell(
                    p["fail_share"],
                    SHARE,
                    source(M + "fct_procedure_results", "fail_share", **key),
                    missing=b.missing(p),
                    bold=bool(p["is_flagged"]),
                ),
            ]
            suppressed = suppressed or b.missing(p) != DASH
            if code in flagged_codes and p["fail_share"] is not None:  # a panel each, no cap
                chart_data.append(
                    {
                        "procedure": names[code],
                        "year": year,
                        "share": p["fail_share"],
                        "flagged": "выше порога" if p["is_flagged"] else "ниже порога",
                    }
                )
        procs.rows.append(cells)
    threshold = float(b.p("fail_share_threshold") or 0.3)
    procs.footnote = (
        f"N — участники, F — не преодолели минимальный порог; жирным — доля не ниже порога "
        f"{footnotes._pct(threshold)} при {b.p('min_participants')} и более участниках."
    ) + (" " + b.small_number_note() if suppressed else "")
    blocks: list[Any] = [procs]
    if chart_data:
        spec = charts.procedure_trends(
            chart_data, threshold, columns=charts.PANELS_PER_ROW, width=70, height=42
        )
        rows = charts.trend_panel_rows(spec)  # six panels a row, as many rows as it takes
        blocks.append(
            Chart(
                "procedures",
                "Доля не преодолевших порог по годам (пунктир — порог)",
                spec,
                svg=rows[0] if len(rows) == 1 else "",
                svg_rows=rows if len(rows) > 1 else [],
            )
        )
    elif by_proc:
        blocks.append(
            Paragraph(
                "Ни в одной процедуре доля не преодолевших порог не достигла порога за три года."
            )
        )
    sections.append(
        Section("procedures", f"Оценочные процедуры списка, {years[0]}–{years[-1]}", blocks)
    )

    # risk profile
    risk = data.risk.get(sid, [])
    if risk:
        table = Table(
            key="Рисковый профиль",
            title="",
            columns=[
                Column("Фактор риска", TEXT, width=40),
                Column("Значимость", TEXT, width=10),
                Column("Фактор риска", TEXT, width=40),
                Column("Значимость", TEXT, width=10),
            ],
        )
        factor_cells = []
        for f in risk:
            key = {"school_id": sid, "year": data.risk_year, "factor_number": f["factor_number"]}
            factor_cells.append(
                [
                    Cell(
                        f"{f['factor_number']}. {f['factor_name_ru']}",
                        bold=f["significance"] == "high",
                    ),
                    Cell(
                        f["significance_ru"],
                        TEXT,
                        source(M + "fct_risk_profile", "significance_ru", **key),
                        missing="нет ответов",
                        bold=f["significance"] == "high",
                    ),
                ]
            )
        half = (len(factor_cells) + 1) // 2
        for left, right in zip(factor_cells[:half], factor_cells[half:] + [[Cell(""), Cell("")]]):
            table.rows.append(left + right)
        table.footnote = footnotes.risk_profile_rule(b)
        sections.append(Section("risk", f"Рисковый профиль {data.risk_year}", [table]))
    else:
        sections.append(
            Section(
                "risk", "Рисковый профиль", [Paragraph("Анкета рискового профиля не поступала.")]
            )
        )

    # resource deficits
    blocks = [Paragraph(text) for text in deficit_texts(data.deficit_rules, data.deficits.get(sid))]
    sections.append(
        Section("deficits", f"Ресурсные дефициты {data.deficit_year or ''}".strip(), blocks)
    )

    # academic debt
    debt = data.debt.get(sid, [])
    if debt:
        table = Table(
            key="Задолженность",
            title="",
            columns=[
                Column("Период", TEXT, width=30),
                Column("Обуч.", INT),
                Column("С задолж.", SHARE),
                Column("Доп. зан.", SHARE),
                Column("ИОМ", SHARE),
                Column("Ликвид.", SHARE),
            ],
        )
        for p in debt[-2:]:
            key = {"school_id": sid, "academic_year": p["academic_year"], "period": p["period"]}
            table.rows.append(
                [Cell(f"{p['academic_year']}, {p['period_ru'].removeprefix('на ')}")]
                + [
                    Cell(p[c], k, source(M + "fct_academic_debt", c, **key), missing=b.missing(p))
                    for c, k in (
                        ("students_total", INT),
                        ("debt_share", SHARE),
                        ("attending_extra_share", SHARE),
                        ("iom_share", SHARE),
                        ("debt_closed_share", SHARE),
                    )
                ]
            )
        table.footnote = (
            "Доля с задолженностью — от всех обучающихся; остальные — от имеющих задолженность."
        ) + (" " + b.small_number_note() if any(b.missing(p) != DASH for p in debt[-2:]) else "")
        sections.append(Section("debt", "Академическая задолженность", [table]))

    # support programmes and targets
    blocks = [
        Paragraph(
            f"Программы поддержки: {school['support_programmes_to_date']} (с {school['first_support_year']} года)."
            if school.get("support_programmes_to_date")
            else "В программах поддержки не участвовала."
        )
    ]
    targets = data.targets.get(sid, [])
    if targets:
        table = Table(
            key="Целевые показатели",
            title="",
            columns=[
                Column("Показатель программы", TEXT, width=60),
                Column("Базовое", TEXT),
                Column("Целевое", TEXT),
                Column("Факт", TEXT),
                Column("Статус", TEXT, width=20),
            ],
        )
        for t in targets:
            key = {"school_id": sid, "year": t["year"], "indicator": t["indicator"]}
            actual = None
            if t["actual_value"] is not None:
                unit = "%" if t["is_percent"] else ""
                value = format_number(t["actual_value"], 1 if t["is_percent"] else 3)
                actual = f"{value}{unit} ({t['actual_year']})"
            elif b.missing(t) != DASH:  # computed over fewer pupils than the minimum
                actual = f"{b.missing(t)} ({t['actual_year']})"
            table.rows.append(
                [
                    Cell(t["indicator"]),
                    Cell(
                        t["baseline_text"],
                        TEXT,
                        source(M + "fct_programme_targets", "baseline_text", **key),
                    ),
                    Cell(f"{t['target_text']} ({t['target_year']})" if t["target_text"] else None),
                    Cell(actual),
                    Cell(
                        t["target_status_ru"],
                        TEXT,
                        source(M + "fct_programme_targets", "target_status_ru", **key),
                    ),
                ]
            )
        table.footnote = (
            f"Программа {targets[0]['year']} года. Факт — значение, которое рассчитывает хранилище (ВПР, ОГЭ, ЕГЭ, "
            "мониторинг задолженности), за год достижения или последний год с данными."
        ) + (" " + b.small_number_note() if any(b.missing(t) != DASH for t in targets) else "")
        blocks.append(table)
    sections.append(Section("support", "Программы поддержки и целевые показатели", blocks))

    enrol = format_int(school["enrolment"]) if school.get("enrolment") is not None else "—"
    return Document(
        kind="card",
        title=school.get("school_name") or sid,
        subtitle=f"Карточка школы: список ШНОР {y} года (результаты {r} года)",
        facts=[
            ("Код ОО", sid),
            ("МО", school.get("municipality_name") or "—"),
            ("Местность", school.get("locality_ru") or "—"),
            ("Классы", _grades(school)),
            ("Обучающихся", enrol),
            ("Малокомплектная", _yes(school.get("is_small"))),
            ("Методика", f"{b.name} v{b.version}"),
            ("Данные на", format_date(b.data_as_of)),
        ],
        sections=sections,
        footer=f"Карточка {sid}, список ШНОР {y} · сборка {build_id}",
        created=document_date.isoformat() if document_date else "",
        anchor=f"card-{sid}",
    )


def deficit_texts(rules: list[dict], d: dict | None) -> list[str]:
    """The card's deficit paragraphs: the rules of each kind that hold, or none; the enabled rules
    whose input is missing are said as not evaluated (a NULL is not «no deficit»)."""
    if d is None or not d["has_resource_survey"]:
        return ["Мониторинг ресурсов школы не поступал."]
    fired = [rule for rule in rules if d.get(f"has_{rule['rule_code']}")]
    unknown = [rule for rule in rules if d.get(f"has_{rule['rule_code']}") is None]
    kinds = {"staffing": "Кадровые", "infrastructure": "Инфраструктурные"}
    texts = [
        f"{kinds.get(kind, kind)}: "
        + "; ".join(rule["rule_ru"] for rule in fired if rule["deficit_type"] == kind)
        + "."
        for kind in kinds
        if any(rule["deficit_type"] == kind for rule in fired)
    ]
    if not fired:
        texts = [
            "По оценённым правилам дефицитов не выявлено."
            if unknown
            else "Кадровых и инфраструктурных дефицитов не выявлено."
        ]
    if unknown:
        texts.append("Не оценены (нет данных): " + "; ".join(r["rule_ru"] for r in unknown) + ".")
    return texts


def school_row(data: CardData, school_id: str) -> dict:
    for s in data.schools:
        if s["school_id"] == school_id:
            return s
    known = ", ".join(s["school_id"] for s in data.schools[:5])
    raise SchoolNotFound(
        f"school {school_id} has no row in the ШНОР list year {data.list_year} (the registry of {data.results_year}); "
        f"e.g. {known} … — check the code (Код ОО, FIS OKO login) or the year"
    )
