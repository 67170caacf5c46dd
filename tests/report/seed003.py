"""A region built to match the tables of seed 003 (Yaroslavl region, review of 16 March 2023).

Constructed, not sampled: every school's results, social passport and resource survey are chosen
so that the warehouse's rules produce the seed's figures:

- the ШНОР list 2023 (results 2022): 87 schools — 13 сильно, 38 умеренно, 36 базово неуспевающие;
  the list 2022 (results 2021): 107 schools, 32% of 335 («по итогам 2021 года … 32% школ»);
- cluster transitions 2022 → 2023 of the 81 supported schools (500+ 2021: 0/7/3/1 of 11; 500+ 2022:
  8/24/9/1 of 42; региональная программа: 2/18/2/6 of 28; all: 10/49/14/8 of 81);
- procedures not conducted in 2021 and 2022 by the 81 supported schools (ОГЭ, ЕГЭ, ВПР 5–6);
- resource deficits 2023 by municipality (19 municipalities, 335 schools, ШНОР 2023 per municipality);
- risk-zone schools 2023 by municipality: 330 schools with an ИСБШ, their bottom quartile, 26 of them
  on the list 2023 and 5 in a support programme. The quartile rule puts 83 of 330 schools in the bottom
  quartile (ranks 1–83: 4·82/330 < 1), where the seed counts 82: the 83rd is a school of г. Ярославль,
  which shows 13 where the seed has 12.

Results years 2020–2023 (the list 2021 has no previous year and cannot be computed; the list 2024
is empty). Files use the contracts' canonical (English) headers, UTF-8 CSV with «;».
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

YEARS = (2020, 2021, 2022, 2023)

# name: (schools, staffing, infrastructure, both, ШНОР 2023, risk zone, schools with ИСБШ) — seed 003
MUNICIPALITIES: dict[str, tuple[int, int, int, int, int, int, int]] = {
    "Мышкинский МР": (5, 4, 4, 3, 2, 3, 5),
    "Первомайский МР": (8, 2, 8, 2, 3, 1, 8),
    "г. Ярославль": (84, 23, 2, 0, 30, 12, 84),
    "Некоузский МР": (12, 7, 9, 5, 4, 4, 11),
    "Некрасовский МР": (9, 6, 9, 6, 3, 1, 9),
    "Ярославский МР": (24, 6, 22, 6, 8, 5, 24),
    "Борисоглебский МР": (10, 3, 10, 3, 3, 1, 10),
    "Угличский МР": (26, 14, 16, 12, 7, 16, 26),
    "Брейтовский МР": (4, 3, 4, 3, 1, 0, 4),
    "Даниловский МР": (12, 7, 9, 6, 3, 1, 11),
    "г. Переславль-Залесский": (20, 11, 10, 6, 5, 7, 20),
    "г. Рыбинск": (27, 14, 0, 0, 6, 3, 27),
    "Ростовский МР": (24, 13, 15, 9, 5, 7, 23),
    "Большесельский МР": (7, 5, 5, 3, 1, 5, 7),
    "Любимский МР": (7, 4, 4, 4, 1, 2, 7),
    "Рыбинский МР": (15, 7, 12, 5, 2, 6, 15),
    "Тутаевский МР": (19, 7, 11, 4, 2, 5, 18),
    "Гаврилов-Ямский МР": (12, 6, 8, 4, 1, 2, 11),
    "Пошехонский МР": (10, 4, 10, 4, 0, 1, 10),
}
EXTRA_RISK_MUNICIPALITY = "г. Ярославль"  # the 83rd school of the bottom quartile
RISK_AND_LISTED = 26  # «из них ШНОР 2023 г.»
RISK_AND_SUPPORTED = 5  # «из них ШНОР 2022 г (500+)»

# support group: (members, of them on the list 2023 by transition, left the list)
#   transitions on the list: (improved moderate→basic, unchanged severe/moderate/basic, worsened basic→moderate)
GROUPS = {
    "500+ 2021": {"year": 2021, "improved": 0, "unchanged": (0, 1, 2), "worsened": 1, "left": 7},
    "500+ 2022": {"year": 2022, "improved": 8, "unchanged": (2, 3, 4), "worsened": 1, "left": 24},
    "региональная программа": {
        "year": 2022,
        "improved": 2,
        "unchanged": (1, 1, 0),
        "worsened": 6,
        "left": 18,
    },
}
LIST_2023 = {"severe": 13, "moderate": 38, "basic": 36}
LIST_2022_TOTAL = 107

# failing of 20 participants: the cluster's pooled share (flagged procedures)
FAILING = {"severe": 12, "moderate": 9, "basic": 7, "one": 7, "none": 2}
N_VPR, N_GIA = 20, 5
VPR = (("Русский язык", 5), ("Математика", 5), ("Русский язык", 6), ("Математика", 6))
GIA = (
    ("ОГЭ", "Русский язык"),
    ("ОГЭ", "Математика"),
    ("ЕГЭ", "Русский язык"),
    ("ЕГЭ", "Математика (профильная)"),
    ("ЕГЭ", "Математика (базовая)"),
)

# procedures the supported schools (by their index 0..80) did not take, seed 003
# «Доля школ, в которых не проводились соответствующие оценочные процедуры»
NO_GRADE_11 = set(range(36, 81))  # 45 basic schools: no ЕГЭ in either year
NOT_TAKEN: dict[tuple[str, int], set[int]] = {
    ("ВПР Русский язык 5", 2021): {10, 11, 12, 13},
    ("ВПР Русский язык 5", 2022): {14, 15},
    ("ВПР Математика 5", 2021): {10, 11, 12},
    ("ВПР Математика 5", 2022): {14, 15, 16},
    ("ВПР Русский язык 6", 2021): {0},
    ("ВПР Русский язык 6", 2022): {1, 2, 3},
    ("ВПР Математика 6", 2021): {0},
    ("ВПР Математика 6", 2022): {1, 2, 3},
    ("ОГЭ Русский язык", 2021): set(range(20, 27)),
    ("ОГЭ Русский язык", 2022): {25, 26, 27, 28},
    ("ОГЭ Математика", 2021): set(range(20, 27)),
    ("ОГЭ Математика", 2022): {25, 26, 27, 28},
    ("ЕГЭ Русский язык", 2021): {32, 33, 34, 35} | NO_GRADE_11,
    ("ЕГЭ Русский язык", 2022): set(NO_GRADE_11),
    ("ЕГЭ Математика (профильная)", 2021): {32, 33, 34, 35} | NO_GRADE_11,
    ("ЕГЭ Математика (профильная)", 2022): {32} | NO_GRADE_11,
    ("ЕГЭ Математика (базовая)", 2021): {32, 33, 34, 35} | NO_GRADE_11,
    ("ЕГЭ Математика (базовая)", 2022): set(NO_GRADE_11),
}


@dataclass
class School:
    school_id: str
    municipality: str
    code: str
    listed_2023: str | None = None  # cluster
    listed_2022: str | None = None
    newly_2023: bool = False  # on the list 2023, not on 2022: one procedure flagged in 2021 too
    risk: bool = False
    has_isbsh: bool = True
    staffing: bool = False
    infrastructure: bool = False
    programme: str | None = None
    supported_index: int | None = None
    drivers: tuple[str, str] = ("ВПР Русский язык 6", "ВПР Математика 6")
    not_taken: set[tuple[str, int]] = field(default_factory=set)


def _name(subject: str, grade_or_exam: int | str) -> str:
    return (
        f"ВПР {subject} {grade_or_exam}"
        if isinstance(grade_or_exam, int)
        else f"{grade_or_exam} {subject}"
    )


def build() -> list[School]:
    schools: list[School] = []
    serial = 0
    by_municipality: dict[str, list[School]] = {}
    for m, (mcode, (n, staff, infra, both, shnor, _risk, with_isbsh)) in enumerate(
        zip(MUNICIPALITIES, MUNICIPALITIES.values()), start=1
    ):
        rows = []
        for k in range(n):
            serial += 1
            s = School(f"sch76{serial:04d}", mcode, f"{m:02d}")
            s.staffing = k < staff
            s.infrastructure = staff - both <= k < staff - both + infra
            s.listed_2023 = "?" if k < shnor else None
            s.has_isbsh = k < with_isbsh
            rows.append(s)
        by_municipality[mcode] = rows
        schools += rows
    # risk zone: RISK_AND_LISTED of them on the list, spread over the municipalities in order
    overlap_left = RISK_AND_LISTED
    for mcode, (_n, _s, _i, _b, shnor, risk, _w) in MUNICIPALITIES.items():
        rows = by_municipality[mcode]
        take = min(shnor, risk, overlap_left)
        overlap_left -= take
        listed = [s for s in rows if s.listed_2023]
        unlisted = [s for s in rows if not s.listed_2023 and s.has_isbsh]
        for s in listed[:take] + unlisted[: risk - take]:
            s.risk = True
        assert sum(s.risk for s in rows) == risk, mcode
    assert overlap_left == 0
    extra = next(
        s
        for s in by_municipality[EXTRA_RISK_MUNICIPALITY]
        if not s.listed_2023 and not s.risk and s.has_isbsh
    )
    # supported schools: on the list 2023 (not in the risk zone), left it (5 of them in the risk zone)
    staying = [s for s in schools if s.listed_2023 and not s.risk]
    leaving_risk = [s for s in schools if not s.listed_2023 and s.risk]
    leaving = [
        s for s in schools if not s.listed_2023 and not s.risk and s.has_isbsh and s is not extra
    ]
    plan: list[tuple[str, str | None, str | None]] = []  # programme, cluster 2022, cluster 2023
    for programme, g in GROUPS.items():
        plan += [(programme, "moderate", "basic")] * g["improved"]
        for cluster, count in zip(("severe", "moderate", "basic"), g["unchanged"]):
            plan += [(programme, cluster, cluster)] * count
        plan += [(programme, "basic", "moderate")] * g["worsened"]
    on_list = plan
    off_list = [(p, "moderate", None) for p, g in GROUPS.items() for _ in range(g["left"])]
    members = list(zip(staying, on_list)) + list(
        zip(leaving_risk[:RISK_AND_SUPPORTED] + leaving, off_list)
    )
    assert len(members) == 81
    # the supported schools in seed order of the groups, so that the «not taken» indexes spread
    members.sort(key=lambda m: (list(GROUPS).index(m[1][0]), m[0].school_id))
    for index, (s, (programme, before, after)) in enumerate(members):
        s.programme, s.listed_2022, s.listed_2023 = programme, before, after
        s.supported_index = index
        s.not_taken = {key for key, idx in NOT_TAKEN.items() if index in idx}
        if any(k[0].startswith("ВПР") and k[0].endswith("6") for k in s.not_taken):
            s.drivers = ("ВПР Русский язык 5", "ВПР Математика 5")
    # the rest of the list 2023: the clusters still to fill
    left = dict(LIST_2023)
    for s in schools:
        if s.supported_index is not None and s.listed_2023:
            left[s.listed_2023] -= 1
    others = [s for s in schools if s.listed_2023 == "?"]
    fill = [c for c in ("severe", "moderate", "basic") for _ in range(left[c])]
    assert len(fill) == len(others), (len(fill), len(others))
    on_2022 = LIST_2022_TOTAL - 81
    for n, (s, cluster) in enumerate(zip(others, fill)):
        s.listed_2023 = cluster
        if n < on_2022:
            s.listed_2022 = cluster  # unchanged
        else:
            s.newly_2023 = True
    # ИСБШ order: the risk zone lowest, the 83rd just above, a gap, then the others
    scored = [s for s in schools if s.has_isbsh]
    low = [s for s in scored if s.risk] + [extra]
    high = [s for s in scored if s not in low]
    extra.risk = True
    for k, s in enumerate(low):
        s.social = 0.05 + 0.2 * k / len(low)  # type: ignore[attr-defined]
    for k, s in enumerate(high):
        s.social = 0.5 + 0.45 * k / len(high)  # type: ignore[attr-defined]
    return schools


def _failing(s: School, procedure: str, year: int) -> int:
    d1, d2 = s.drivers
    if procedure not in (d1, d2):
        return 1
    level: str | None
    if year == 2020:
        level = s.listed_2022
    elif year == 2021:
        level = s.listed_2022 or ("one" if s.newly_2023 and procedure == d1 else None)
    elif year == 2022:
        level = s.listed_2023
    else:
        level = None
    return FAILING[level or "none"]


def _write(path: Path, header: list[str], rows: list[list[object]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, delimiter=";", lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


def write(out: Path) -> list[School]:
    schools = build()
    yn = {True: "да", False: "нет"}
    for year in YEARS:
        _write(
            out / "schools" / f"schools_{year}.csv",
            [
                "school_id",
                "school_name",
                "municipality_code",
                "municipality_name",
                "locality",
                "is_small",
                "has_grade_9",
                "has_grade_11",
                "enrolment",
            ],
            [
                [
                    s.school_id,
                    f"Школа {s.school_id[-4:]}",
                    s.code,
                    s.municipality,
                    "город" if s.municipality.startswith("г.") else "село",
                    "нет",
                    "да",
                    yn[s.supported_index not in NO_GRADE_11],
                    500,
                ]
                for s in schools
            ],
        )
        vpr = []
        for s in schools:
            for subject, grade in VPR:
                name = _name(subject, grade)
                if (name, year) in s.not_taken:
                    continue
                f = _failing(s, name, year)
                vpr.append([year, s.school_id, grade, subject, N_VPR, f, N_VPR - f, 0, 0])
        _write(
            out / "vpr" / f"vpr_school_stats_{year}.csv",
            [
                "year",
                "school_id",
                "grade",
                "subject",
                "participants",
                "mark_2",
                "mark_3",
                "mark_4",
                "mark_5",
            ],
            vpr,
        )
        gia = []
        for s in schools:
            for exam, subject in GIA:
                name = _name(subject, exam)
                if (name, year) in s.not_taken or (
                    exam == "ЕГЭ" and s.supported_index in NO_GRADE_11
                ):
                    continue
                for p in range(N_GIA):
                    score = {
                        "ЕГЭ Русский язык": (None, 60, None),
                        "ЕГЭ Математика (профильная)": (None, 50, None),
                    }
                    primary, test, mark = score.get(name, (None, None, 4))
                    gia.append(
                        [
                            year,
                            s.school_id,
                            exam,
                            subject,
                            f"{s.school_id}-{exam}-{subject[:3]}-{p}",
                            "выпускник текущего года",
                            "основной",
                            primary,
                            test,
                            mark,
                            "явка",
                        ]
                    )
        _write(
            out / "gia" / f"gia_results_{year}.csv",
            [
                "year",
                "school_id",
                "exam",
                "subject",
                "participant_code",
                "category",
                "wave",
                "primary_score",
                "test_score",
                "mark",
                "status",
            ],
            gia,
        )
    passports = []
    for s in schools:
        if not s.has_isbsh:
            continue
        v = s.social  # type: ignore[attr-defined]
        total = 1000
        passports.append(
            [
                2023,
                s.school_id,
                total,
                round(total * v),
                round(total * (0.5 - 0.4 * v)),
                round(total * (0.5 - 0.4 * v)),
                round(total * (0.2 - 0.15 * v)),
                round(total * (0.2 - 0.15 * v)),
                round(total * (0.1 - 0.08 * v)),
                round(total * (0.3 - 0.2 * v)),
                round(total * (0.2 - 0.15 * v)),
            ]
        )
    _write(
        out / "social_passport" / "social_passport_2023.csv",
        [
            "year",
            "school_id",
            "students_total",
            "both_parents_higher_ed",
            "single_parent",
            "low_income",
            "prevention_register",
            "non_native_russian",
            "disabilities",
            "large_family",
            "unemployed_parents",
        ],
        passports,
    )
    _write(
        out / "resource_survey" / "resource_survey_2023.csv",
        [
            "year",
            "school_id",
            "teachers_total",
            "teacher_vacancies",
            "teachers_retirement_age",
            "avg_teacher_load",
            "nonspecialist_ru_ma",
            "has_psychologist",
            "has_speech_therapist",
            "broadband_ok",
            "building_condition",
            "has_utilities",
            "has_gym",
            "computers",
            "has_science_lab",
            "has_tochka_rosta",
            "has_cos",
        ],
        [
            [
                2023,
                s.school_id,
                30,
                1 if s.staffing else 0,
                3,
                "1,2",
                "нет",
                "да",
                "да",
                "да",
                "норма",
                "да",
                "нет" if s.infrastructure else "да",
                50,
                "да",
                "нет",
                "нет",
            ]
            for s in schools
        ],
    )
    _write(
        out / "support_programmes.csv",
        ["school_id", "programme", "year"],
        [[s.school_id, s.programme, GROUPS[s.programme]["year"]] for s in schools if s.programme],
    )
    return schools
