"""The regional report of a list year, section by section in the order of seed 003:

1. the ШНОР list by ФИОКО cluster, against the previous list (and the lists of every year);
2. cluster transitions by support group («Динамика … на основе кластеризации»);
3. dynamics by procedure for all schools and each support group;
4. dynamics of urban and rural schools;
5. procedures not conducted;
6. resource deficits by municipality;
7. risk-zone (ШНСУ) schools by municipality and their overlap with the list;
8. academic-debt monitoring (track 3);
9. a municipality comparison (shares side by side, sorted);
(10. completeness of deliveries, when a year used is incomplete).

Every cell is read from a mart (``queries``); this module picks rows, orders and labels them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import duckdb

from publishing.errors import ListYearNotAvailable
from publishing.report import charts, footnotes, queries
from publishing.report.content import (
    DASH,
    INT,
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
    source,
)
from publishing.report.footnotes import Basis

NO_LIST = "нет списка"
M = "marts."


def _cell(row: dict, mart: str, column: str, kind: str, keys: tuple[str, ...], **kw: Any) -> Cell:
    return Cell(row.get(column), kind, source(M + mart, column, **{k: row[k] for k in keys}), **kw)


def _label(row: dict, mart: str, column: str, keys: tuple[str, ...], bold: bool = False) -> Cell:
    return _cell(row, mart, column, TEXT, keys, bold=bold)


def check_list_year(con: duckdb.DuckDBPyConnection, list_year: int) -> queries.ListYear:
    years = queries.list_years(con)
    found = years.get(list_year)
    if found is None:
        raise ListYearNotAvailable(
            f"the serving warehouse has no ШНОР list for {list_year}; list years available: "
            f"{', '.join(str(y) for y, v in years.items() if v.is_computable) or 'none'} "
            "(the list of year Y is built on results of year Y-1)"
        )
    if not found.is_computable:
        raise ListYearNotAvailable(
            f"the ШНОР list of {list_year} cannot be computed: {found.reason_ru or 'no previous results year'} "
            f"(missing results year: {found.missing_results_year}). Nothing was published."
        )
    return found


def latest_list_year(con: duckdb.DuckDBPyConnection) -> int | None:
    computable = [y for y, v in queries.list_years(con).items() if v.is_computable]
    return max(computable) if computable else None


# --- 1. the list by cluster --------------------------------------------------------------------
def section_list(
    con: duckdb.DuckDBPyConnection, b: Basis, ly: queries.ListYear, years: dict
) -> Section:
    y = ly.list_year
    mart = "rpt_shnor_by_cluster"
    all_rows = queries.rows(con, queries.SQL_SHNOR_BY_CLUSTER)
    current = [r for r in all_rows if r["list_year"] == y]
    previous = {r["fioko_cluster"]: r for r in all_rows if r["list_year"] == y - 1}
    prev_ok = years.get(y - 1) is not None and years[y - 1].is_computable
    keys = ("list_year", "fioko_cluster")
    table = Table(
        key="1 ШНОР по кластерам",
        title=f"Список ШНОР {y} года по кластерам ФИОКО (результаты {ly.results_year} года) и список {y - 1} года",
        columns=[
            Column("Кластер ФИОКО", TEXT, width=26),
            Column(f"Число школ, {y}", INT, group=f"Список {y}"),
            Column("Доля в списке", SHARE, group=f"Список {y}"),
            Column("Доля от всех школ", SHARE, group=f"Список {y}"),
            Column(f"Были в списке {y - 1}", INT, group=f"Список {y}"),
            Column("Впервые в списке", INT, group=f"Список {y}"),
            Column("В программах поддержки", INT, group=f"Список {y}"),
            Column(f"Число школ, {y - 1}", INT, group=f"Список {y - 1}"),
        ],
    )
    for i, r in enumerate(current):
        p = previous.get(r["fioko_cluster"])
        before = (
            _cell(p, mart, "n_listed", INT, keys)
            if p is not None and prev_ok
            else Cell(None, INT, missing=NO_LIST)
        )
        table.rows.append(
            [
                _label(r, mart, "fioko_cluster_ru", keys, bold=r["fioko_cluster"] == "total"),
                _cell(r, mart, "n_listed", INT, keys),
                _cell(r, mart, "cluster_share", SHARE, keys),
                _cell(r, mart, "listed_share", SHARE, keys),
                _cell(r, mart, "n_listed_before", INT, keys, missing=NO_LIST),
                _cell(r, mart, "n_newly_listed", INT, keys, missing=NO_LIST),
                _cell(r, mart, "n_supported", INT, keys),
                before,
            ]
        )
        if r["fioko_cluster"] == "total":
            table.total_rows.add(i)
    table.footnote = " ".join(
        [
            footnotes.shnor_rule(b, ly.results_year),
            footnotes.cluster_rule(b),
            (
                "Доля от всех школ — от школ реестра года результатов. «Были в списке» — школа (или "
                "школа, реорганизованная в неё) была в предыдущем списке. «Нет списка» — список года не "
                "рассчитан (нет результатов года перед годом результатов)."
            ),
            b.tail(),
        ]
    )
    chart_data = []
    for r in current:
        if r["fioko_cluster"] == "total":
            continue
        chart_data.append(
            {"Кластер": r["fioko_cluster_ru"], "Список": f"{y}", "Школ": r["n_listed"]}
        )
        p = previous.get(r["fioko_cluster"])
        if p is not None and prev_ok:
            chart_data.append(
                {"Кластер": r["fioko_cluster_ru"], "Список": f"{y - 1}", "Школ": p["n_listed"]}
            )
    chart_data.sort(key=lambda d: d["Список"])
    chart = Chart(
        key="list_by_cluster",
        title=f"ШНОР по кластерам ФИОКО: список {y} против списка {y - 1}",
        spec=charts.grouped_bars(chart_data, "Кластер", "Список", "Школ"),
        footnote=table.footnote,
    )
    # every list year
    history = Table(
        key="1a ШНОР по годам",
        title="Списки ШНОР по годам",
        columns=[
            Column("Год списка", TEXT, width=10),
            Column("Год результатов", TEXT, width=10),
            Column("Всего школ", INT),
            Column("ШНОР", INT),
            Column("Доля ШНОР", SHARE),
            Column("сильно неуспевающие", INT, group="из них"),
            Column("умеренно неуспевающие", INT, group="из них"),
            Column("базово неуспевающие", INT, group="из них"),
        ],
    )
    by_year: dict[int, dict[str, dict]] = {}
    for r in all_rows:
        by_year.setdefault(r["list_year"], {})[r["fioko_cluster"]] = r
    for year in sorted(by_year):
        rs = by_year[year]
        total = rs.get("total")
        ok = years.get(year) is not None and years[year].is_computable
        if total is None:
            continue

        def n(
            cluster: str, column: str = "n_listed", kind: str = INT, rs: dict = rs, ok: bool = ok
        ) -> Cell:
            r = rs.get(cluster)
            if r is None or not ok:
                return Cell(None, kind, missing=NO_LIST)
            return _cell(r, mart, column, kind, keys)

        history.rows.append(
            [
                _label(total, mart, "list_year", keys),
                _label(total, mart, "results_year", keys),
                _cell(total, mart, "n_schools", INT, keys),
                n("total"),
                n("total", "listed_share", SHARE),
                n("severe"),
                n("moderate"),
                n("basic"),
            ]
        )
    history.footnote = (
        "Доля ШНОР — от всех школ реестра года результатов. «Нет списка» — список не рассчитан: для правила "
        "«два года подряд» нет результатов предыдущего года. " + b.tail()
    )
    return Section(
        "list",
        "1. Список ШНОР по кластерам ФИОКО",
        [table, chart, history],
        lead=f"Список ШНОР {y} года построен по результатам оценочных процедур {ly.results_year} года.",
    )


# --- 2. cluster transitions ------------------------------------------------------------------
TRANSITION_SEGMENTS = {
    "Повысили кластер": charts.COLORS["positive"],
    "Вышли из списка ШНОР": charts.COLORS["positive2"],
    "Не изменили кластер": charts.COLORS["neutral"],
    "Отрицательная динамика": charts.COLORS["negative"],
}


def section_transitions(con: duckdb.DuckDBPyConnection, b: Basis, ly: queries.ListYear) -> Section:
    y = ly.list_year
    mart = "rpt_cluster_transitions_by_group"
    keys = ("group_code", "list_year_from", "list_year_to")
    found = queries.rows(con, queries.SQL_CLUSTER_TRANSITIONS, [y])
    section = Section(
        "transitions",
        f"2. Динамика образовательных результатов на основе кластеризации ФИОКО: списки {y - 1} → {y}",
    )
    if not found:
        section.blocks.append(
            Paragraph(
                f"Переходы между кластерами не рассчитываются: список {y - 1} года не рассчитан или не сопоставим "
                f"(нет результатов {ly.results_year - 2} года)."
            )
        )
        return section
    table = Table(
        key="2 Переходы кластеров",
        title=(
            "Динамика образовательных результатов на основе кластеризации по степени неосвоения "
            f"образовательной программы (списки {y - 1} → {y})"
        ),
        columns=[
            Column("Группа школ", TEXT, width=40),
            Column("Повысили кластер", INT, group="Положительная динамика"),
            Column("Вышли из списка ШНОР", INT, group="Положительная динамика"),
            Column("из них закрыты", INT, group="Положительная динамика"),
            Column("Всего «+», число", INT, group="Положительная динамика"),
            Column("Всего «+», %", SHARE, group="Положительная динамика"),
            Column("Не изменили кластер", INT, group="Нейтральная"),
            Column("%", SHARE, group="Нейтральная"),
            Column("из них вне списка оба года", INT, group="Нейтральная"),
            Column("Отрицательная динамика", INT, group="Отрицательная"),
            Column("%", SHARE, group="Отрицательная"),
            Column("Всего школ по строке", INT),
        ],
    )
    chart_data = []
    for i, r in enumerate(found):
        table.rows.append(
            [
                _label(r, mart, "group_name_ru", keys, bold=r["group_kind"] == "supported"),
                _cell(r, mart, "n_improved_cluster", INT, keys),
                _cell(r, mart, "n_left_list", INT, keys),
                _cell(r, mart, "n_closed", INT, keys),
                _cell(r, mart, "n_positive", INT, keys),
                _cell(r, mart, "positive_share", SHARE, keys),
                _cell(r, mart, "n_neutral", INT, keys),
                _cell(r, mart, "neutral_share", SHARE, keys),
                _cell(r, mart, "n_not_listed", INT, keys),
                _cell(r, mart, "n_negative", INT, keys),
                _cell(r, mart, "negative_share", SHARE, keys),
                _cell(r, mart, "n_schools", INT, keys),
            ]
        )
        if r["group_kind"] == "supported":
            table.total_rows.add(i)
        for label, column in (
            ("Повысили кластер", "n_improved_cluster"),
            ("Вышли из списка ШНОР", "n_left_list"),
            ("Не изменили кластер", "n_neutral"),
            ("Отрицательная динамика", "n_negative"),
        ):
            chart_data.append({"Группа": r["group_name_ru"], "Тип": label, "Школ": r[column]})
    table.footnote = footnotes.transitions_rule(b) + " " + b.tail()
    section.blocks += [
        table,
        Chart(
            "transitions",
            f"Переходы между кластерами по группам школ, списки {y - 1} → {y}",
            charts.stacked_bars(
                chart_data, "Группа", "Тип", "Школ", TRANSITION_SEGMENTS, width=560
            ),
            footnote=table.footnote,
        ),
    ]
    return section


# --- 3. dynamics by procedure and group ----------------------------------------------------------
DYNAMICS_ROWS = (
    ("positive", "positive_share"),
    ("zero_both", "zero_both_share"),
    ("negative", "negative_share"),
    ("neutral", "neutral_share"),
    ("no_participants", "no_participants_share"),
)
DYNAMICS_COLORS = {
    "positive": charts.COLORS["positive"],
    "zero_both": charts.COLORS["positive2"],
    "neutral": charts.COLORS["neutral"],
    "negative": charts.COLORS["negative"],
    "no_participants": charts.COLORS["none"],
}


def _short_procedure(name: str) -> str:
    return name.replace("Математика (профильная)", "Математика проф.").replace(
        "Математика (базовая)", "Математика баз."
    )


def section_dynamics(con: duckdb.DuckDBPyConnection, b: Basis, ly: queries.ListYear) -> Section:
    year_to = ly.results_year
    year_from = year_to - 1
    mart = "rpt_dynamics_by_group"
    keys = ("group_code", "procedure_code", "year_from", "year_to")
    found = queries.rows(con, queries.SQL_DYNAMICS_BY_GROUP, [year_to])
    type_names = {
        r["dynamics_type"]: r["dynamics_type_ru"]
        for r in queries.rows(con, queries.SQL_DYNAMICS_TYPES)
    }
    section = Section(
        "dynamics",
        f"3. Результаты анализа динамики образовательных результатов, {year_from} → {year_to}",
        lead="Доля школ группы с каждым типом динамики по каждой оценочной процедуре.",
    )
    if not found:
        section.blocks.append(
            Paragraph(f"Нет пары лет результатов {year_from} и {year_to}: динамика не рассчитана.")
        )
        return section
    groups: dict[str, list[dict]] = {}
    for r in found:
        groups.setdefault(r["group_code"], []).append(r)
    rule = footnotes.dynamics_rule(b, year_from, year_to) + " " + b.tail()
    for n, (code, group_rows) in enumerate(groups.items(), start=1):
        name = group_rows[0]["group_name_ru"]
        table = Table(
            key=f"3.{n} Динамика {code}"[:31],
            title=f"{name}: динамика {year_from} → {year_to}",
            columns=[Column("Тип динамики", TEXT, width=34)]
            + [
                Column(_short_procedure(r["procedure_name_ru"]), SHARE, width=11)
                for r in group_rows
            ],
            footnote=rule,
        )
        for dynamics_type, column in DYNAMICS_ROWS:
            table.rows.append(
                [Cell(type_names.get(dynamics_type, dynamics_type))]
                + [_cell(r, mart, column, SHARE, keys) for r in group_rows]
            )
        table.rows.append(
            [Cell("Всего школ")] + [_cell(r, mart, "n_schools", INT, keys) for r in group_rows]
        )
        table.rows.append(
            [Cell("Показывают положительный результат", bold=True)]
            + [_cell(r, mart, "positive_result_share", SHARE, keys, bold=True) for r in group_rows]
        )
        table.total_rows.add(len(table.rows) - 1)
        chart_data = [
            {
                "Процедура": _short_procedure(r["procedure_name_ru"]),
                "Тип": type_names.get(t, t),
                "Доля": r[column],
            }
            for r in group_rows
            for t, column in DYNAMICS_ROWS
        ]
        colors = {type_names.get(t, t): c for t, c in DYNAMICS_COLORS.items()}
        section.blocks += [
            table,
            Chart(
                f"dynamics_{n}",
                f"{name}: типы динамики по процедурам, {year_from} → {year_to}",
                charts.stacked_bars(
                    chart_data, "Процедура", "Тип", "Доля", colors, normalize=True, width=520
                ),
                footnote=rule,
            ),
        ]
    return section


# --- 4. urban / rural ----------------------------------------------------------------------------
def section_urban_rural(con: duckdb.DuckDBPyConnection, b: Basis, ly: queries.ListYear) -> Section:
    year_to = ly.results_year
    mart = "rpt_dynamics_urban_rural"
    keys = ("group_code", "locality", "year_from", "year_to")
    found = queries.rows(con, queries.SQL_DYNAMICS_URBAN_RURAL, [year_to])
    type_names = {
        r["dynamics_type"]: r["dynamics_type_ru"]
        for r in queries.rows(con, queries.SQL_DYNAMICS_TYPES)
    }
    section = Section(
        "urban_rural",
        f"4. Динамика образовательных результатов в городских и сельских школах, {year_to - 1} → {year_to}",
    )
    if not found:
        section.blocks.append(Paragraph("Нет данных для сравнения городских и сельских школ."))
        return section
    table = Table(
        key="4 Город и село",
        title=f"Динамика в городских / сельских школах, {year_to - 1} → {year_to}",
        columns=[Column("Тип динамики", TEXT, width=34)]
        + [
            Column(
                f"{r['locality_ru'].replace('ая', 'ие')} школы",
                SHARE,
                group=r["group_name_ru"],
                width=12,
            )
            for r in found
        ],
    )
    for dynamics_type, column in DYNAMICS_ROWS:
        table.rows.append(
            [Cell(type_names.get(dynamics_type, dynamics_type))]
            + [_cell(r, mart, column, SHARE, keys) for r in found]
        )
    table.rows.append([Cell("Школ")] + [_cell(r, mart, "n_schools", INT, keys) for r in found])
    table.rows.append(
        [Cell("Пар «школа × процедура»")]
        + [_cell(r, mart, "n_school_procedures", INT, keys) for r in found]
    )
    table.rows.append(
        [Cell("Показывают положительный результат", bold=True)]
        + [_cell(r, mart, "positive_result_share", SHARE, keys, bold=True) for r in found]
    )
    table.total_rows.add(len(table.rows) - 1)
    table.footnote = (
        "Доли — от всех пар «школа × оценочная процедура» городских (сельских) школ группы. "
        + footnotes.dynamics_rule(b, year_to - 1, year_to)
        + " "
        + b.tail()
    )
    section.blocks.append(table)
    return section


# --- 5. procedures not conducted ------------------------------------------------------------------
def section_not_conducted(
    con: duckdb.DuckDBPyConnection, b: Basis, ly: queries.ListYear
) -> Section:
    y2, y1 = ly.results_year - 1, ly.results_year
    mart = "rpt_procedures_not_conducted"
    keys = ("group_code", "procedure_code", "year")
    found = queries.rows(con, queries.SQL_NOT_CONDUCTED, [y2, y1])
    section = Section("not_conducted", "5. Доля школ, в которых не проводились оценочные процедуры")
    groups: dict[str, dict[str, dict[int, dict]]] = {}
    names: dict[str, str] = {}
    for r in found:
        groups.setdefault(r["group_code"], {}).setdefault(r["procedure_code"], {})[r["year"]] = r
        names[r["group_code"]] = r["group_name_ru"]
    if not groups:
        section.blocks.append(Paragraph("Нет данных об оценочных процедурах этих лет."))
        return section
    footnote = (
        "Не проводилась — в школе группы нет ни одного участника процедуры в этом году; «без класса» — из них "
        "школы без соответствующего класса (нет 9-го / 11-го класса по реестру). Группа — школы, состоявшие в "
        "группе в этом году. " + b.tail()
    )
    for n, (code, by_procedure) in enumerate(groups.items(), start=1):
        table = Table(
            key=f"5.{n} Не проводились {code}"[:31],
            title=f"{names[code]}: оценочные процедуры, которые не проводились",
            columns=[Column("Процедура", TEXT, width=32)],
            footnote=footnote,
        )
        years = [y2, y1]
        for year in years:
            table.columns += [
                Column("число школ", INT, group=f"Не проводилась в {year} г."),
                Column("процент", SHARE, group=f"Не проводилась в {year} г."),
                Column("без класса", INT, group=f"Не проводилась в {year} г."),
            ]
        chart_data = []
        for by_year in by_procedure.values():
            first = next(iter(by_year.values()))
            row = [Cell(first["procedure_name_ru"])]
            for year in years:
                r = by_year.get(year)
                if r is None:
                    row += [Cell(None, INT), Cell(None, SHARE), Cell(None, INT)]
                    continue
                row += [
                    _cell(r, mart, "n_not_conducted", INT, keys),
                    _cell(r, mart, "not_conducted_share", SHARE, keys),
                    _cell(r, mart, "n_not_conducted_without_grade", INT, keys),
                ]
                chart_data.append(
                    {
                        "Процедура": _short_procedure(first["procedure_name_ru"]),
                        "Год": str(year),
                        "Доля": r["not_conducted_share"],
                    }
                )
            table.rows.append(row)
        section.blocks.append(table)
        if code == "supported":
            section.blocks.append(
                Chart(
                    "not_conducted",
                    f"{names[code]}: доля школ, где процедура не проводилась",
                    charts.dot_plot(chart_data, "Процедура", "Год", "Доля", width=480),
                    footnote=footnote,
                )
            )
    return section


# --- 6. resource deficits ---------------------------------------------------------------------------
def section_deficits(con: duckdb.DuckDBPyConnection, b: Basis, ly: queries.ListYear) -> Section:
    mart = "rpt_resource_deficits_by_municipality"
    year = queries.context_year(con, mart, ly.list_year)
    section = Section("deficits", f"6. Ресурсные дефициты школ {year or ly.list_year}")
    if year is None:
        section.blocks.append(Paragraph("Нет данных мониторинга ресурсов."))
        return section
    keys = ("municipality_code", "year")
    found = queries.rows(con, queries.SQL_DEFICITS, [year])
    table = Table(
        key="6 Ресурсные дефициты",
        title=f"Ресурсные дефициты школ {year} года по муниципальным образованиям",
        columns=[
            Column("Муниципальное образование", TEXT, width=28),
            Column("Число", INT, group="Кадровые дефициты"),
            Column("%", SHARE, group="Кадровые дефициты"),
            Column("Число", INT, group="Инфраструктурные дефициты"),
            Column("%", SHARE, group="Инфраструктурные дефициты"),
            Column("Число", INT, group="Кадровые + инфраструктурные"),
            Column("%", SHARE, group="Кадровые + инфраструктурные"),
            Column("Всего школ в МО", INT),
            Column("Число", INT, group=f"ШНОР {year} в МО"),
            Column("% от всех школ МО", SHARE, group=f"ШНОР {year} в МО"),
        ],
    )
    for i, r in enumerate(found):
        table.rows.append(
            [
                _label(r, mart, "municipality_name", keys, bold=r["is_region_total"]),
                _cell(r, mart, "n_staffing_deficit", INT, keys),
                _cell(r, mart, "staffing_deficit_share", SHARE, keys),
                _cell(r, mart, "n_infrastructure_deficit", INT, keys),
                _cell(r, mart, "infrastructure_deficit_share", SHARE, keys),
                _cell(r, mart, "n_both_deficits", INT, keys),
                _cell(r, mart, "both_deficits_share", SHARE, keys),
                _cell(r, mart, "n_schools", INT, keys),
                _cell(r, mart, "n_shnor", INT, keys),
                _cell(r, mart, "shnor_share", SHARE, keys),
            ]
        )
        if r["is_region_total"]:
            table.total_rows.add(i)
    later = (
        f" Данные {year} года — последние, что есть на список {ly.list_year} года."
        if year != ly.list_year
        else ""
    )
    table.footnote = (
        footnotes.deficits_rule(b)
        + f" Доли — от всех школ МО по реестру {year} года; ШНОР — школы списка {year} года. Строки упорядочены "
        "по доле ШНОР." + later + " " + b.tail()
    )
    section.blocks.append(table)
    return section


# --- 7. risk zone -----------------------------------------------------------------------------------
def section_risk_zone(con: duckdb.DuckDBPyConnection, b: Basis, ly: queries.ListYear) -> Section:
    mart = "rpt_risk_zone_by_municipality"
    year = queries.context_year(con, mart, ly.list_year)
    section = Section(
        "risk_zone",
        f"7. Школы, функционирующие в условиях риска снижения образовательных результатов (ИСБШ {year or ly.list_year})",
    )
    if year is None:
        section.blocks.append(Paragraph("ИСБШ не рассчитан: нет социальных паспортов школ."))
        return section
    keys = ("municipality_code", "year")
    found = queries.rows(con, queries.SQL_RISK_ZONE, [year])
    table = Table(
        key="7 Зона риска",
        title=f"Школы «зоны риска» (ШНСУ) по муниципальным образованиям, ИСБШ {year} года",
        columns=[
            Column("Муниципальное образование", TEXT, width=28),
            Column("Число школ «зоны риска»", INT),
            Column("%", SHARE),
            Column("Школ с ИСБШ", INT),
            Column("Всего школ в МО", INT),
            Column(f"в списке ШНОР {year}", INT, group="Из них"),
            Column("в программах поддержки", INT, group="Из них"),
        ],
    )
    total = None
    for i, r in enumerate(found):
        table.rows.append(
            [
                _label(r, mart, "municipality_name", keys, bold=r["is_region_total"]),
                _cell(r, mart, "n_risk_zone", INT, keys),
                _cell(r, mart, "risk_zone_share", SHARE, keys),
                _cell(r, mart, "n_with_isbsh", INT, keys),
                _cell(r, mart, "n_schools", INT, keys),
                _cell(r, mart, "n_risk_zone_shnor", INT, keys),
                _cell(r, mart, "n_risk_zone_supported", INT, keys),
            ]
        )
        if r["is_region_total"]:
            table.total_rows.add(i)
            total = r
    table.footnote = (
        footnotes.isbsh_rule(b)
        + f" % — доля школ «зоны риска» {queries.RISK_ZONE_SHARE_OF}. «В списке ШНОР» — школы списка {year} года; "
        "«в программах поддержки» — школы, бывшие в программе поддержки к этому году. " + b.tail()
    )
    section.blocks.append(table)
    if total is not None:
        section.lead = (
            f"Школы «зоны риска» в регионе: {total['n_risk_zone']}; из них в списке ШНОР {year} года — "
            f"{total['n_risk_zone_shnor']}; из них в программах поддержки — {total['n_risk_zone_supported']}."
        )
    return section


# --- 8. academic debt -------------------------------------------------------------------------------
def _debt_period(periods: list[dict], period: str, year: int) -> dict | None:
    """The monitoring of ``period`` of the academic year ending in ``year``, or the latest before."""
    found = [p for p in periods if p["period"] == period and p["year"] <= year]
    return max(found, key=lambda p: p["year"]) if found else None


def section_academic_debt(
    con: duckdb.DuckDBPyConnection, b: Basis, ly: queries.ListYear
) -> Section:
    mart = "rpt_academic_debt_by_municipality"
    periods = queries.rows(con, queries.SQL_ACADEMIC_DEBT_PERIODS)
    year_end = _debt_period(periods, "year_end", ly.list_year - 1)
    february = _debt_period(periods, "february", ly.list_year)
    section = Section("academic_debt", "8. Мониторинг по показателям учебной неуспешности (трек 3)")
    if year_end is None and february is None:
        section.blocks.append(Paragraph("Нет данных мониторинга академической задолженности."))
        return section
    keys = ("municipality_code", "academic_year", "period")
    blocks: list[tuple[str, dict, list[tuple[str, str, str]]]] = []
    if year_end is not None:
        blocks.append(
            (
                f"на конец {year_end['academic_year']} уч. г.",
                year_end,
                [
                    ("Школ", "n_schools_reporting", INT),
                    ("Доля с задолженностью", "debt_share", SHARE),
                    ("Посещают доп. занятия", "attending_extra_share", SHARE),
                    ("Не ликвидировали", "debt_not_closed_share", SHARE),
                ],
            )
        )
    if february is not None:
        blocks.append(
            (
                f"на февраль {february['year']} г.",
                february,
                [
                    ("Школ", "n_schools_reporting", INT),
                    ("Доля с задолженностью", "debt_share", SHARE),
                    ("Посещают доп. занятия", "attending_extra_share", SHARE),
                    ("Имеют ИОМ", "iom_share", SHARE),
                ],
            )
        )
    data = [
        {
            r["municipality_code"]: r
            for r in queries.rows(con, queries.SQL_ACADEMIC_DEBT, [p["academic_year"], p["period"]])
        }
        for _, p, _ in blocks
    ]
    order: list[str] = []
    for d in data:
        for code in d:
            if code not in order:
                order.append(code)
    order.sort(key=lambda c: c == "region")
    table = Table(
        key="8 Академическая задолженность",
        title="Академическая задолженность по муниципальным образованиям",
        columns=[Column("Муниципальное образование", TEXT, width=28)]
        + [
            Column(label, kind, group=title) for title, _, cols in blocks for label, _, kind in cols
        ],
    )
    chart_data = []
    suppressed = False
    for i, code in enumerate(order):
        first = next(d[code] for d in data if code in d)
        row = [Cell(first["municipality_name"], bold=code == "region")]
        for (title, _, cols), d in zip(blocks, data):
            r = d.get(code)
            for _, column, kind in cols:
                row.append(
                    _cell(r, mart, column, kind, keys, missing=b.missing(r))
                    if r
                    else Cell(None, kind)
                )
                suppressed = suppressed or (r is not None and b.missing(r) != DASH)
            if r is not None and code != "region" and r["debt_share"] is not None:
                chart_data.append(
                    {"МО": r["municipality_name"], "Период": title, "Доля": r["debt_share"]}
                )
        table.rows.append(row)
        if code == "region":
            table.total_rows.add(i)
    table.footnote = (
        "Доля с задолженностью — от всех обучающихся школ, представивших данные; доли посещающих доп. занятия, "
        "имеющих ИОМ и не ликвидировавших задолженность — от обучающихся с академической задолженностью "
        "(суммы по школам МО). Данные — мониторинг академической задолженности школ. "
        f"Данные по состоянию на {format_date(b.data_as_of)}."
    ) + (" " + b.small_number_note() if suppressed else "")
    section.blocks += [
        table,
        Chart(
            "academic_debt",
            "Доля обучающихся с академической задолженностью по МО",
            charts.dot_plot(chart_data, "МО", "Период", "Доля", width=480),
            footnote=table.footnote,
        ),
    ]
    return section


# --- 9. municipality comparison -------------------------------------------------------------------
COMPARISON = (
    ("Доля ШНОР", "shnor_share", "rpt_resource_deficits_by_municipality"),
    ("Доля школ «зоны риска»", "risk_zone_share", "rpt_risk_zone_by_municipality"),
    ("Кадровые дефициты", "staffing_deficit_share", "rpt_resource_deficits_by_municipality"),
    (
        "Инфраструктурные дефициты",
        "infrastructure_deficit_share",
        "rpt_resource_deficits_by_municipality",
    ),
    ("Доля с академической задолженностью", "debt_share", "rpt_academic_debt_by_municipality"),
)


def section_comparison(con: duckdb.DuckDBPyConnection, b: Basis, ly: queries.ListYear) -> Section:
    year = queries.context_year(con, "rpt_resource_deficits_by_municipality", ly.list_year)
    section = Section("comparison", "9. Сравнение муниципальных образований")
    if year is None:
        section.blocks.append(Paragraph("Нет данных для сравнения муниципальных образований."))
        return section
    periods = queries.rows(con, queries.SQL_ACADEMIC_DEBT_PERIODS)
    debt = _debt_period(periods, "year_end", ly.list_year - 1) or {
        "academic_year": None,
        "period": None,
    }
    found = queries.rows(
        con, queries.SQL_MUNICIPALITY_COMPARISON, [debt["academic_year"], debt["period"], year]
    )
    table = Table(
        key="9 Сравнение МО",
        title=f"Муниципальные образования: доли школ, {year} год (по убыванию доли ШНОР)",
        columns=[Column("Муниципальное образование", TEXT, width=28)]
        + [Column(label, SHARE, width=14) for label, _, _ in COMPARISON],
    )
    chart_data = []
    for r in found:
        row = [
            _label(
                r,
                "rpt_resource_deficits_by_municipality",
                "municipality_name",
                ("municipality_code", "year"),
            )
        ]
        for label, column, mart in COMPARISON:
            if mart == "rpt_academic_debt_by_municipality":
                key = {
                    "municipality_code": r["municipality_code"],
                    "academic_year": debt["academic_year"],
                    "period": debt["period"],
                }
            else:
                key = {"municipality_code": r["municipality_code"], "year": r["year"]}
            row.append(Cell(r[column], SHARE, source(M + mart, column, **key)))
            chart_data.append(
                {"МО": r["municipality_name"], "Показатель": label, "Доля": r[column]}
            )
        table.rows.append(row)
    table.footnote = (
        f"Доли от всех школ МО, {year} год: ШНОР — школы списка {year} года; «зона риска» — нижний квартиль ИСБШ "
        f"({queries.RISK_ZONE_SHARE_OF}); дефициты — по мониторингу ресурсов; академическая задолженность — доля "
        f"обучающихся на конец {debt['academic_year'] or '—'} уч. г. " + b.tail()
    )
    section.blocks += [
        Chart(
            "comparison",
            "Сравнение муниципальных образований (по убыванию доли ШНОР)",
            charts.dot_plot(chart_data, "МО", "Показатель", "Доля", width=520),
            footnote=table.footnote,
        ),
        table,
    ]
    return section


# --- 10. completeness (when the warehouse reports it) ------------------------------------------------
def section_completeness(
    con: duckdb.DuckDBPyConnection, b: Basis, ly: queries.ListYear
) -> Section | None:
    if not queries.has_table(con, "marts", queries.COMPLETENESS_MART):
        return None
    found = queries.rows(con, queries.SQL_COMPLETENESS, [ly.results_year - 1, ly.results_year])
    if not found:
        return None
    columns = list(found[0])
    table = Table(
        key="10 Полнота данных",
        title=f"Неполные поставки данных {ly.results_year - 1}–{ly.results_year} годов",
        columns=[
            Column(c, INT if c.startswith(("Ожидалось", "Поставили", "Без")) else TEXT)
            for c in columns
        ],
    )
    for r in found:
        table.rows.append([Cell(r[c]) for c in columns])
    table.footnote = (
        "Годы и муниципальные образования, по которым поставлены не все файлы. " + b.tail()
    )
    return Section("completeness", "10. Полнота данных", [table])


SECTIONS: tuple[Callable[..., Section | None], ...] = (
    section_transitions,
    section_dynamics,
    section_urban_rural,
    section_not_conducted,
    section_deficits,
    section_risk_zone,
    section_academic_debt,
    section_comparison,
    section_completeness,
)


def build_report(
    con: duckdb.DuckDBPyConnection, list_year: int, *, build_id: str, document_date: dt.date | None
) -> Document:
    """The report of ``list_year`` as content (no rendering)."""
    ly = check_list_year(con, list_year)
    years = queries.list_years(con)
    basis = Basis(queries.profile(con), queries.data_as_of(con), queries.small_number_min(con))
    sections = [section_list(con, basis, ly, years)]
    for build in SECTIONS:
        section = build(con, basis, ly)
        if section is not None:
            sections.append(section)
    return Document(
        kind="report",
        title=(
            "Система работы со школами с низкими результатами обучения и/или школами, функционирующими в "
            "неблагоприятных социальных условиях"
        ),
        subtitle=f"Региональный отчёт: список ШНОР {list_year} года (результаты {ly.results_year} года)",
        facts=[
            ("Год списка", str(list_year)),
            ("Год результатов", str(ly.results_year)),
            ("Методика", f"{basis.name}, версия {basis.version}"),
            ("Данные по состоянию на", format_date(basis.data_as_of)),
            ("Сборка хранилища", build_id),
            ("Дата формирования", format_date(document_date)),
        ],
        sections=sections,
        footer=f"Региональный отчёт ШНОР {list_year}",
        created=document_date.isoformat() if document_date else "",
    )
