"""The tables of seed 003 (Yaroslavl region, 16 March 2023), reproduced by the published report of a
region built to match them (tests/report/seed003.py). Each expected figure is copied from the seed.

Reproduced exactly: the list 2023 by cluster (and the list 2022: 32% of schools); cluster transitions
by support group; procedures not conducted by the 81 supported schools in 2022 (the seed's 2021 column
counts the same 81 schools in 2021; the mart counts the schools in a programme in 2021); resource
deficits by municipality; dynamics by procedure in each support group (every percentage but one:
«Нет участников» of ВПР Математика 6 in 500+ 2022, 5% for the seed's 2%, whose column sums to 41 of
42 schools) with the mart's counts school by school; dynamics in urban and rural schools of track 1
(every percentage but urban «Нет участников», 14% for 13%). Risk-zone schools by municipality: the
counts of schools with an ИСБШ and of risk-zone schools, except г. Ярославль (13 for the seed's 12:
the bottom quartile of 330 schools holds 83, the seed counts 82), the overlaps with the list (26) and
with the programmes (5). docs/report.md explains each figure that differs.
"""

from __future__ import annotations

import pytest
from openpyxl import load_workbook

pytestmark = pytest.mark.report


def _sheet(region, name: str) -> dict[str, list]:
    """Rows of a report sheet keyed by their first cell (the data rows: below the headers)."""
    wb = load_workbook(region.report / "report_2023.xlsx")
    ws = wb[name]
    out = {}
    for row in ws.iter_rows(min_row=4, values_only=True):
        if row[0] is None or row[1] is None:
            continue
        out[str(row[0])] = list(row[1:])
    return out


def _pct(value: float) -> int:
    return int(value * 100 + 0.5)


def test_the_list_2023_by_cluster(seed003_region) -> None:
    rows = _sheet(seed003_region, "1 ШНОР по кластерам")
    assert {k: v[0] for k, v in rows.items()} == {
        "сильно неуспевающие": 13,
        "умеренно неуспевающие": 38,
        "базово неуспевающие": 36,
        "Всего ШНОР": 87,
    }
    history = _sheet(seed003_region, "1a ШНОР по годам")
    assert (
        history["2022"][2] == 107 and _pct(history["2022"][3]) == 32
    )  # «по итогам 2021 года … 32%»
    assert history["2023"][2] == 87
    assert history["2021"][2] == "нет списка"  # results 2020 have no previous year


def test_cluster_transitions_by_support_group(seed003_region) -> None:
    rows = _sheet(seed003_region, "2 Переходы кластеров")
    # improved, left, of them closed, total «+», «+» %, unchanged, %, not listed both years,
    # negative, %, all
    seed = {
        "Участники: 500+ 2021": (0, 7, 64, 3, 1, 11),
        "Участники: 500+ 2022": (8, 24, 76, 9, 1, 42),
        "Участники: региональная программа": (2, 18, 71, 2, 6, 28),
        "Были охвачены сопровождением (все программы поддержки)": (10, 49, 73, 14, 8, 81),
    }
    for group, (improved, left, positive, unchanged, negative, total) in seed.items():
        r = rows[group]
        assert (r[0], r[1], _pct(r[4]), r[5], r[8], r[10]) == (
            improved,
            left,
            positive,
            unchanged,
            negative,
            total,
        ), group
    supported = rows["Были охвачены сопровождением (все программы поддержки)"]
    assert supported[2] == 0  # no school of the seed-003 region closed
    assert (_pct(supported[6]), _pct(supported[9])) == (17, 10)  # «14 (17%)», «8 (10%)»


def test_procedures_not_conducted_by_the_supported_schools(seed003_region) -> None:
    rows = _sheet(seed003_region, "5.1 Не проводились supported")
    seed = {  # 2021: number, %; 2022: number, %
        "ОГЭ Русский язык": (7, 9, 4, 5),
        "ОГЭ Математика": (7, 9, 4, 5),
        "ЕГЭ Русский язык": (49, 60, 45, 56),
        "ЕГЭ Математика (профильная)": (49, 60, 46, 57),
        "ВПР Русский язык, 5 класс": (4, 5, 2, 2),
        "ВПР Русский язык, 6 класс": (1, 1, 3, 4),
        "ВПР Математика, 5 класс": (3, 4, 3, 4),
        "ВПР Математика, 6 класс": (1, 1, 3, 4),
    }
    # 2022: the 81 supported schools. 2021: the mart counts the schools that were in a programme in
    # 2021 (the 11 of «500+ 2021»), while the seed counts the 81 of 2022 in 2021 — not reproduced
    for procedure, (_n21, _p21, n22, p22) in seed.items():
        r = rows[procedure]
        assert (r[3], _pct(r[4])) == (n22, p22), procedure
    # ЕГЭ in the 45 basic schools: no grade 11 by the registry
    assert rows["ЕГЭ Русский язык"][5] == 45


SEED_DEFICITS = {  # staffing n, %, infrastructure n, %, both n, %, all schools, ШНОР n, %
    "Мышкинский МР": (4, 80, 4, 80, 3, 60, 5, 2, 40),
    "Первомайский МР": (2, 25, 8, 100, 2, 25, 8, 3, 38),
    "г. Ярославль": (23, 27, 2, 2, 0, 0, 84, 30, 35),
    "Некоузский МР": (7, 58, 9, 75, 5, 42, 12, 4, 33),
    "Некрасовский МР": (6, 67, 9, 100, 6, 67, 9, 3, 33),
    "Ярославский МР": (6, 25, 22, 92, 6, 25, 24, 8, 33),
    "Борисоглебский МР": (3, 30, 10, 100, 3, 30, 10, 3, 30),
    "Угличский МР": (14, 54, 16, 62, 12, 46, 26, 7, 27),
    "Брейтовский МР": (3, 75, 4, 100, 3, 75, 4, 1, 25),
    "Даниловский МР": (7, 58, 9, 75, 6, 50, 12, 3, 25),
    "г. Переславль-Залесский": (11, 55, 10, 50, 6, 30, 20, 5, 22),
    "г. Рыбинск": (14, 52, 0, 0, 0, 0, 27, 6, 21),
    "Ростовский МР": (13, 54, 15, 63, 9, 38, 24, 5, 21),
    "Большесельский МР": (5, 71, 5, 71, 3, 43, 7, 1, 14),
    "Любимский МР": (4, 57, 4, 57, 4, 57, 7, 1, 14),
    "Рыбинский МР": (7, 47, 12, 80, 5, 33, 15, 2, 13),
    "Тутаевский МР": (7, 37, 11, 58, 4, 21, 19, 2, 11),
    "Гаврилов-Ямский МР": (6, 50, 8, 67, 4, 33, 12, 1, 8),
    "Пошехонский МР": (4, 40, 10, 100, 4, 40, 10, 0, 0),
}


def test_resource_deficits_by_municipality(seed003_region) -> None:
    rows = _sheet(seed003_region, "6 Ресурсные дефициты")
    for municipality, want in SEED_DEFICITS.items():
        r = rows[municipality]
        got = (r[0], _pct(r[1]), r[2], _pct(r[3]), r[4], _pct(r[5]), r[6], r[7], _pct(r[8]))
        # three ШНОР shares of the seed do not follow from its own counts: г. Ярославль 35% (30 of 84
        # is 35.7%), г. Переславль-Залесский 22% (5 of 20 is 25%), г. Рыбинск 21% (6 of 27 is 22.2%);
        # the report gives the shares of the counts. Every other figure is the seed's.
        misprinted = {"г. Ярославль": 36, "г. Переславль-Залесский": 25, "г. Рыбинск": 22}
        if municipality in misprinted:
            want = (*want[:8], misprinted[municipality])
        assert got == want, municipality
    # the order of the seed: by the share of ШНОР, descending
    names = [k for k in rows if k != "Всего по региону"]
    assert names[:3] == ["Мышкинский МР", "Первомайский МР", "г. Ярославль"]
    assert rows["Всего по региону"][6] == 335 and rows["Всего по региону"][7] == 87


SEED_RISK = {  # risk-zone schools, schools with an ИСБШ («Всего школ в МО» of the seed)
    "Большесельский МР": (5, 7),
    "Борисоглебский МР": (1, 10),
    "Брейтовский МР": (0, 4),
    "г. Переславль-Залесский": (7, 20),
    "г. Рыбинск": (3, 27),
    "г. Ярославль": (12, 84),
    "Гаврилов-Ямский МР": (2, 11),
    "Даниловский МР": (1, 11),
    "Любимский МР": (2, 7),
    "Мышкинский МР": (3, 5),
    "Некоузский МР": (4, 11),
    "Некрасовский МР": (1, 9),
    "Первомайский МР": (1, 8),
    "Пошехонский МР": (1, 10),
    "Ростовский МР": (7, 23),
    "Рыбинский МР": (6, 15),
    "Тутаевский МР": (5, 18),
    "Угличский МР": (16, 26),
    "Ярославский МР": (5, 24),
}


def test_risk_zone_schools_by_municipality(seed003_region) -> None:
    rows = _sheet(seed003_region, "7 Зона риска")
    assert [k for k in rows if k != "Всего по региону"] == list(SEED_RISK)  # the seed's order
    for municipality, (risk, with_isbsh) in SEED_RISK.items():
        r = rows[municipality]
        expected = (
            risk + 1 if municipality == "г. Ярославль" else risk
        )  # 83 of 330 in the bottom quartile
        assert (r[0], r[2]) == (expected, with_isbsh), municipality
    total = rows["Всего по региону"]
    assert (total[0], total[2], total[3]) == (83, 330, 335)
    assert (total[4], total[5]) == (
        26,
        5,
    )  # «из них ШНОР 2023 г.» 26, «из них ШНОР 2022 г (500+)» 5


# --- dynamics by procedure (seed 003, «Результаты анализа динамики образовательных результатов») ----
ROW_LABELS = (  # the report's rows, in the seed's order of the types
    "Положительная",
    "0% не преодолевших порог за 2 года",
    "Отрицательная",
    "Нейтральная",
    "Нет участников ГИА/ВПР в один или оба года",
)
SEED_PROCEDURES = {  # the seed's columns: the report's procedure and seed003's name
    "ОГЭ Русский язык": "ОГЭ Русский язык",
    "ОГЭ Математика": "ОГЭ Математика",
    "ВПР Русский язык, 5 класс": "ВПР Русский язык 5",
    "ВПР Русский язык, 6 класс": "ВПР Русский язык 6",
    "ВПР Математика, 5 класс": "ВПР Математика 5",
    "ВПР Математика, 6 класс": "ВПР Математика 6",
}
# positive, 0% both years, negative, neutral, no participants, «показывают положительный результат» (%),
# per procedure in the seed's column order; and the number of schools of the group
SEED_DYNAMICS = {
    "500+ 2022": (
        42,
        (
            (33, 40, 24, 0, 2, 74),
            (60, 10, 26, 2, 2, 69),
            (57, 2, 33, 0, 7, 60),
            (64, 0, 29, 2, 5, 64),
            (57, 10, 26, 0, 7, 67),
            (60, 0, 33, 2, 2, 60),
        ),
    ),
    "500+ 2021": (
        11,
        (
            (27, 55, 0, 0, 18, 82),
            (55, 9, 18, 0, 18, 64),
            (18, 36, 36, 0, 9, 55),
            (45, 27, 18, 0, 9, 73),
            (27, 27, 36, 0, 9, 55),
            (27, 27, 36, 0, 9, 55),
        ),
    ),
    "региональная программа": (
        28,
        (
            (14, 54, 11, 0, 21, 68),
            (39, 29, 11, 0, 21, 68),
            (39, 21, 32, 0, 7, 61),
            (43, 18, 36, 0, 4, 61),
            (29, 25, 36, 4, 7, 54),
            (36, 18, 43, 0, 4, 54),
        ),
    ),
}
# «Нет участников» of ВПР Математика 6 in 500+ 2022: the seed prints 2%, but then its column sums to
# 41 of 42 schools; the 2 schools without the procedure (as for ВПР Русский язык 6) make 5%
MISPRINTED_DYNAMICS = {("500+ 2022", "ВПР Математика, 6 класс", 4): 5}


def _titled_table(region, title_start: str) -> tuple[dict[str, dict[str, object]], str]:
    """The report sheet whose title begins with ``title_start``: {row label: {column: value}}; the
    column of a grouped header is «group / column»."""
    wb = load_workbook(region.report / "report_2023.xlsx")
    found = [ws for ws in wb.worksheets if str(ws["A1"].value or "").startswith(title_start)]
    assert len(found) == 1, (title_start, [ws["A1"].value for ws in wb.worksheets])
    ws = found[0]
    grouped = ws.cell(row=4, column=1).value is None and ws.cell(row=4, column=2).value is not None
    headers, group = [], None
    for col in range(2, ws.max_column + 1):
        if grouped:
            group = ws.cell(row=3, column=col).value or group
            headers.append(f"{group} / {ws.cell(row=4, column=col).value}")
        else:
            headers.append(ws.cell(row=3, column=col).value)
    first = 5 if grouped else 4
    out: dict[str, dict[str, object]] = {}
    for row in ws.iter_rows(min_row=first, values_only=True):
        if row[0] is None or all(v is None for v in row[1:]):
            continue
        out[str(row[0])] = dict(zip(headers, row[1:]))
    return out, ws.title


@pytest.fixture(scope="module")
def serving_con(seed003_region):
    import duckdb

    with duckdb.connect(str(seed003_region.settings.serving_db), read_only=True) as con:
        yield con


def test_dynamics_by_procedure_in_each_support_group(seed003_region, serving_con) -> None:
    from tests.report import seed003

    for group, (n_schools, columns) in SEED_DYNAMICS.items():
        rows, sheet = _titled_table(seed003_region, f"Участники: {group}: динамика 2021 → 2022")
        for (procedure, name), printed in zip(SEED_PROCEDURES.items(), columns):
            # the report's percentages are the seed's
            got = [_pct(rows[label][procedure]) for label in ROW_LABELS]
            got.append(_pct(rows["Показывают положительный результат"][procedure]))
            want = [
                MISPRINTED_DYNAMICS.get((group, procedure, i), v) for i, v in enumerate(printed)
            ]
            assert got == want, (group, procedure, sheet)
            assert rows["Всего школ"][procedure] == n_schools
            # and the mart counts the schools the seed's percentages stand for
            counts = serving_con.execute(
                "select n_schools, n_positive, n_zero_both, n_negative, n_neutral,"
                " n_no_participants, n_positive_result from marts.rpt_dynamics_by_group"
                " where group_code = ? and procedure_name_ru = ? and year_from = 2021"
                " and year_to = 2022",
                [f"programme: {group}", procedure],
            ).fetchone()
            positive, zero, *_ = seed003.DYNAMICS[group][name]
            assert counts == (n_schools, *seed003.DYNAMICS[group][name], positive + zero), (
                group,
                procedure,
            )


def _expected_type(school, procedure: str) -> str:
    """The type of dynamics 2021 → 2022 of the school's results as written (seed 003's rule applied
    to the generator's counts: N of 40 in ВПР, 5 in ОГЭ/ЕГЭ)."""
    from tests.report import seed003

    def taken(year: int) -> bool:
        if procedure.startswith("ЕГЭ") and school.supported_index in seed003.NO_GRADE_11:
            return False
        return (procedure, year) not in school.not_taken

    if not (taken(2021) and taken(2022)):
        return "no_participants"
    n = seed003.N_VPR if procedure.startswith("ВПР") else seed003.N_GIA
    before, after = (seed003._failing(school, procedure, y) / n for y in (2021, 2022))
    if before == after == 0:
        return "zero_both"
    return "positive" if after < before else "negative" if after > before else "neutral"


def test_dynamics_of_every_school_and_of_all_schools(seed003_region, serving_con) -> None:
    """fct_procedure_dynamics school by school, and the region's row of rpt_dynamics_by_group, against
    the types of the results the generator wrote."""
    from collections import Counter

    from tests.report import seed003

    names = {
        **{v: k for k, v in SEED_PROCEDURES.items()},
        "ЕГЭ Русский язык": "ЕГЭ Русский язык",
        "ЕГЭ Математика (профильная)": "ЕГЭ Математика (профильная)",
        "ЕГЭ Математика (базовая)": "ЕГЭ Математика (базовая)",
    }
    got = {
        (sid, name): kind
        for sid, name, kind in serving_con.execute(
            "select school_id, procedure_name_ru, dynamics_type from marts.fct_procedure_dynamics"
            " where year_to = 2022"
        ).fetchall()
    }
    assert len(got) == 335 * 9
    region: dict[str, Counter] = {}
    for school in seed003_region.schools:
        for name, procedure in names.items():
            want = _expected_type(school, name)
            if school.supported_index is not None and name in school.dynamics:
                assert want == school.dynamics[name]  # the plan of the generator holds
            assert got[(school.school_id, procedure)] == want, (school.school_id, procedure)
            region.setdefault(procedure, Counter())[want] += 1
    rows = serving_con.execute(
        "select procedure_name_ru, n_schools, n_positive, n_zero_both, n_negative, n_neutral,"
        " n_no_participants from marts.rpt_dynamics_by_group where group_code = 'region'"
        " and year_to = 2022"
    ).fetchall()
    assert {r[0]: r[1:] for r in rows} == {
        p: (335, *(c[t] for t in seed003.TYPES)) for p, c in region.items()
    }


# seed 003, «Динамика образовательных результатов в городских / сельских школах трека 1»: positive,
# 0% both years, negative, neutral, no participants, «показывают положительный результат» (%)
SEED_URBAN_RURAL = {
    "городские школы": (27, (40, 16, 30, 1, 13, 56)),
    "сельские школы": (26, (38, 24, 19, 1, 19, 61)),
}
# «Нет участников» of the urban schools: 34 of 243 pairs (14%) where the seed prints 13% — the ЕГЭ
# not conducted (the seed's «не проводились» table) leave no fewer (tests/report/seed003.py URBAN_RURAL)
MISPRINTED_URBAN_RURAL = {("городские школы", 4): 14}


def test_dynamics_in_urban_and_rural_schools_of_track_1(seed003_region, serving_con) -> None:
    from tests.report import seed003

    rows, _ = _titled_table(seed003_region, "Динамика в городских / сельских школах, 2021 → 2022")
    track = "Трек 1: адресная поддержка ШНОР (проект «500+»)"
    for column, (n_schools, printed) in SEED_URBAN_RURAL.items():
        key = f"{track} / {column}"
        got = [_pct(rows[label][key]) for label in ROW_LABELS]
        got.append(_pct(rows["Показывают положительный результат"][key]))
        want = [MISPRINTED_URBAN_RURAL.get((column, i), v) for i, v in enumerate(printed)]
        assert got == want, column
        assert rows["Школ"][key] == n_schools
        assert (
            rows["Пар «школа × процедура»"][key] == n_schools * 9
        )  # the 9 procedures of the profile
    counts = serving_con.execute(
        "select locality, n_schools, n_school_procedures, n_positive, n_zero_both, n_negative,"
        " n_neutral, n_no_participants from marts.rpt_dynamics_urban_rural"
        " where group_code = 'track_1' and year_to = 2022 order by locality"
    ).fetchall()
    assert counts == [
        ("rural", 26, 234, *seed003.URBAN_RURAL["село"][1]),
        ("urban", 27, 243, *seed003.URBAN_RURAL["город"][1]),
    ]
