"""A region built to match the tables of seed 003 (Yaroslavl region, review of 16 March 2023).

Constructed, not sampled: every school's results, social passport and resource survey are chosen
so that the warehouse's rules produce the seed's figures:

- the ШНОР list 2023 (results 2022): 87 schools — 13 сильно, 38 умеренно, 36 базово неуспевающие;
  the list 2022 (results 2021): 107 schools, 32% of 335 («по итогам 2021 года … 32% школ»);
- cluster transitions 2022 → 2023 of the 81 supported schools (500+ 2021: 0/7/3/1 of 11; 500+ 2022:
  8/24/9/1 of 42; региональная программа: 2/18/2/6 of 28; all: 10/49/14/8 of 81);
- procedures not conducted in 2021 and 2022 by the 81 supported schools (ОГЭ, ЕГЭ, ВПР 5–6);
- dynamics 2021 → 2022 by procedure in each support group (positive, 0% both years, negative,
  neutral, no participants: `DYNAMICS`, the seed's percentages turned into counts of schools), and
  in the urban and rural schools of track 1 (`URBAN_RURAL`, over every school × reported procedure);
- resource deficits 2023 by municipality (19 municipalities, 335 schools, ШНОР 2023 per municipality);
- risk-zone schools 2023 by municipality: 330 schools with an ИСБШ, their bottom quartile, 26 of them
  on the list 2023 and 5 in a support programme. The quartile rule puts 83 of 330 schools in the bottom
  quartile (ranks 1–83: 4·82/330 < 1), where the seed counts 82: the 83rd is a school of г. Ярославль,
  which shows 13 where the seed has 12.

Two seed figures cannot hold together with the rest (docs/report.md explains both): «Нет участников»
of ВПР Математика 6 in «500+ 2022» (the seed prints 2%, its column then sums to 41 of 42 schools; the
region has the 2 schools the «не проводились» table implies, 5%) and «Нет участников» of the urban
schools (13% in the seed; the region has 34 of 243 pairs, 14%: see `URBAN_RURAL`).

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

# failing of 40 participants: the cluster's pooled share (flagged procedures); no share sits on a
# boundary of the rule (30%, 40%, 50%)
FAILING = {"severe": 24, "moderate": 18, "basic": 14, "one": 14, "none": 4}
N_VPR, N_GIA = 40, 5
VPR = (("Русский язык", 5), ("Математика", 5), ("Русский язык", 6), ("Математика", 6))
GIA = (
    ("ОГЭ", "Русский язык"),
    ("ОГЭ", "Математика"),
    ("ЕГЭ", "Русский язык"),
    ("ЕГЭ", "Математика (профильная)"),
    ("ЕГЭ", "Математика (базовая)"),
)

# procedures the supported schools (by their index 0..80: 0–10 «500+ 2021», 11–52 «500+ 2022», 53–80
# «региональная программа») did not take, seed 003 «Доля школ, в которых не проводились
# соответствующие оценочные процедуры»; spread over the groups as the dynamics tables' «Нет
# участников» require (ОГЭ 2/1/6 schools, ВПР 5 1/3/2, ВПР 6 1/2/1 in 500+ 2021 / 500+ 2022 / региональная)
NO_GRADE_11 = set(range(36, 81))  # 45 basic schools (the 28 of the regional programme among them)
OGE_2021, OGE_2022 = {5, 6, 20, 60, 61, 62, 63}, {62, 63, 64, 65}
VPR6_2021, VPR6_2022 = {0}, {16, 17, 57}
NOT_TAKEN: dict[tuple[str, int], set[int]] = {
    ("ВПР Русский язык 5", 2021): {1, 12, 13, 54},
    ("ВПР Русский язык 5", 2022): {14, 55},
    ("ВПР Математика 5", 2021): {1, 12, 54},
    ("ВПР Математика 5", 2022): {13, 15, 56},
    ("ВПР Русский язык 6", 2021): VPR6_2021,
    ("ВПР Русский язык 6", 2022): VPR6_2022,
    ("ВПР Математика 6", 2021): VPR6_2021,
    ("ВПР Математика 6", 2022): VPR6_2022,
    ("ОГЭ Русский язык", 2021): OGE_2021,
    ("ОГЭ Русский язык", 2022): OGE_2022,
    ("ОГЭ Математика", 2021): OGE_2021,
    ("ОГЭ Математика", 2022): OGE_2022,
    ("ЕГЭ Русский язык", 2021): {32, 33, 34, 35} | NO_GRADE_11,
    ("ЕГЭ Русский язык", 2022): set(NO_GRADE_11),
    ("ЕГЭ Математика (профильная)", 2021): {32, 33, 34, 35} | NO_GRADE_11,
    ("ЕГЭ Математика (профильная)", 2022): {32} | NO_GRADE_11,
    ("ЕГЭ Математика (базовая)", 2021): set(NO_GRADE_11),
    ("ЕГЭ Математика (базовая)", 2022): set(NO_GRADE_11),
}

# seed 003, «Результаты анализа динамики образовательных результатов» 2021 → 2022: schools of each
# group by type of dynamics, per procedure — the seed's percentages of 42, 11 and 28 schools as counts
# (each count is the only one of its group size that rounds to the printed percentage)
TYPES = ("positive", "zero_both", "negative", "neutral", "no_participants")
DYNAMICS: dict[str, dict[str, tuple[int, int, int, int, int]]] = {
    "500+ 2022": {
        "ОГЭ Русский язык": (14, 17, 10, 0, 1),
        "ОГЭ Математика": (25, 4, 11, 1, 1),
        "ВПР Русский язык 5": (24, 1, 14, 0, 3),
        "ВПР Русский язык 6": (27, 0, 12, 1, 2),
        "ВПР Математика 5": (24, 4, 11, 0, 3),
        # the seed prints «Нет участников» 2% (1 school) and its column sums to 41: the «не
        # проводились» table gives 1 + 3 schools without ВПР 6 (as ВПР Русский язык 6 here), 2 of them
        "ВПР Математика 6": (25, 0, 14, 1, 2),
    },
    "500+ 2021": {
        "ОГЭ Русский язык": (3, 6, 0, 0, 2),
        "ОГЭ Математика": (6, 1, 2, 0, 2),
        "ВПР Русский язык 5": (2, 4, 4, 0, 1),
        "ВПР Русский язык 6": (5, 3, 2, 0, 1),
        "ВПР Математика 5": (3, 3, 4, 0, 1),
        "ВПР Математика 6": (3, 3, 4, 0, 1),
    },
    "региональная программа": {
        "ОГЭ Русский язык": (4, 15, 3, 0, 6),
        "ОГЭ Математика": (11, 8, 3, 0, 6),
        "ВПР Русский язык 5": (11, 6, 9, 0, 2),
        "ВПР Русский язык 6": (12, 5, 10, 0, 1),
        "ВПР Математика 5": (8, 7, 10, 1, 2),
        "ВПР Математика 6": (10, 5, 12, 0, 1),
    },
}
# seed 003, «Динамика образовательных результатов в городских / сельских школах трека 1» (the 53
# schools of 500+ 2021 and 500+ 2022: 27 urban, 26 rural), over every pair school × reported
# procedure (the 9 of the profile: 243 and 234 pairs), as counts by type. The seed's rural column
# holds only over the 9 procedures (over the 6 of its group tables, 38% + 24% of 156 pairs make at
# least 96 = 61.5%, it prints 61%). Urban «Нет участников» is 34 (14%) where the seed prints 13% (31
# or 32): the ЕГЭ the «не проводились» table takes away (49 of the 81 schools without ЕГЭ in 2021, at
# most 28 of them in the regional programme; 45 without grade 11) leave at least 21 + 21 + 17
# track-1 schools without ЕГЭ русский, профильная, базовая, with the 20 of the six other procedures
# 79 pairs — the seed's 13% and 19% allow at most 32 + 45 = 77 (docs/report.md).
URBAN_RURAL = {
    "город": (27, (97, 38, 72, 2, 34)),
    "село": (26, (88, 55, 44, 2, 45)),
}
TRACK_1 = ("500+ 2021", "500+ 2022")
PROCEDURES_6 = tuple(DYNAMICS["500+ 2021"])
EGE = ("ЕГЭ Русский язык", "ЕГЭ Математика (профильная)", "ЕГЭ Математика (базовая)")


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
    # supported schools: the failing of each (procedure, year) and the type of dynamics 2021 → 2022
    failing: dict[tuple[str, int], int] = field(default_factory=dict)
    dynamics: dict[str, str] = field(default_factory=dict)
    urban: bool | None = None  # track 1: chosen to match the urban / rural table
    social: float = 0.0


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
        s.social = 0.05 + 0.2 * k / len(low)
    for k, s in enumerate(high):
        s.social = 0.5 + 0.45 * k / len(high)
    supported = sorted(
        (s for s in schools if s.supported_index is not None), key=lambda s: s.supported_index or 0
    )
    for programme in GROUPS:
        _plan_group_dynamics(
            [s for s in supported if s.programme == programme], DYNAMICS[programme]
        )
    _plan_urban_rural([s for s in supported if s.programme in TRACK_1])
    return schools


# --- dynamics 2021 → 2022 of the supported schools -------------------------------------------------
# Two procedures of every supported school carry its cluster (the «drivers»: flagged in 2020 and 2021,
# and in 2022 while it stays on the list); their type of dynamics is what its transition allows. The
# other procedures stay below the threshold and take the types the group's table still needs.
P, Z, N, U, NONE = TYPES
ANY_PAIR = [(a, b) for a in (P, N, U) for b in (P, N, U)]
ONE_POSITIVE = [(P, P), (P, N), (N, P), (P, U), (U, P)]
ALLOWED = {
    "improved": ONE_POSITIVE,  # moderate → basic: the pooled share falls
    "left": ONE_POSITIVE,  # at most one procedure stays flagged
    "worsened": [(N, N), (N, P), (P, N), (N, U), (U, N)],  # basic → moderate: it rises
    "unchanged": ANY_PAIR,
}


def _transition(s: School) -> str:
    if s.listed_2023 is None:
        return "left"
    if s.listed_2023 == s.listed_2022:
        return "unchanged"
    return "improved" if (s.listed_2022, s.listed_2023) == ("moderate", "basic") else "worsened"


def _driver_failing(kind: str, cluster: str, c1: str, c2: str) -> tuple[tuple[int, int], ...]:
    """Failing of 40 of both drivers in 2021 and 2022 (types c1, c2): the cluster's pooled share each
    year, every driver at least 13 of 40 (32.5%) while flagged."""
    if kind == "unchanged":
        base = {"basic": 13, "moderate": 17, "severe": 22}[cluster]
        return (base + (c1 == P), base + (c2 == P)), (base + (c1 == N), base + (c2 == N))
    table = {
        "improved": {  # 2021 moderate (34–36 of 80), 2022 basic (26–28)
            (P, P): ((18, 18), (14, 14)),
            (P, N): ((21, 13), (13, 14)),
            (N, P): ((13, 21), (14, 13)),
            (P, U): ((21, 13), (13, 13)),
            (U, P): ((13, 21), (13, 13)),
        },
        "worsened": {  # 2021 basic (28–30), 2022 moderate (34–36)
            (N, N): ((14, 14), (18, 18)),
            (N, P): ((13, 17), (21, 13)),
            (P, N): ((17, 13), (13, 21)),
            (N, U): ((13, 15), (19, 15)),
            (U, N): ((15, 13), (15, 19)),
        },
        "left": {  # 2021 moderate (36), 2022 at most one flagged
            (P, P): ((18, 18), (4, 4)),
            (P, N): ((18, 18), (4, 20)),
            (N, P): ((18, 18), (20, 4)),
            (P, U): ((18, 18), (4, 18)),
            (U, P): ((18, 18), (18, 4)),
        },
    }
    return table[kind][(c1, c2)]


# failing in 2021 and 2022 of a procedure below the threshold, by type (of 40 for ВПР, of 5 for ГИА)
OTHER_VPR = {P: (3, 2), N: (2, 3), U: (2, 2), Z: (0, 0)}
OTHER_GIA = {P: (1, 0), N: (0, 1), U: (1, 1), Z: (0, 0)}


def _takes(s: School, procedure: str) -> bool:
    """The school has participants in the procedure in 2021 and in 2022."""
    if procedure.startswith("ЕГЭ") and s.supported_index in NO_GRADE_11:
        return False
    return (procedure, 2021) not in s.not_taken and (procedure, 2022) not in s.not_taken


def _plan_group_dynamics(members: list[School], table: dict[str, tuple[int, ...]]) -> None:
    from collections import Counter
    from itertools import combinations

    pools = {p: Counter(dict(zip(TYPES, counts))) for p, counts in table.items()}
    for p in PROCEDURES_6:
        absent = [s for s in members if not _takes(s, p)]
        assert pools[p][NONE] == len(absent), (p, pools[p][NONE], len(absent))
        pools[p][NONE] = 0
        for s in absent:
            s.dynamics[p] = NONE
    vpr = [p for p in PROCEDURES_6 if p.startswith("ВПР")]
    rank = {"worsened": 0, "improved": 1, "left": 2, "unchanged": 3}
    order = sorted(
        members,
        key=lambda s: (sum(_takes(s, p) for p in vpr), rank[_transition(s)], s.supported_index),
    )
    chosen: dict[str, tuple[str, str, str, str]] = {}

    def assign(i: int) -> bool:
        if i == len(order):
            return True
        s = order[i]
        options = []
        for d1, d2 in combinations([p for p in vpr if _takes(s, p)], 2):
            for c1, c2 in ALLOWED[_transition(s)]:
                if pools[d1][c1] and pools[d2][c2]:
                    options.append((-(pools[d1][c1] + pools[d2][c2]), d1, d2, c1, c2))
        for _, d1, d2, c1, c2 in sorted(options):
            pools[d1][c1] -= 1
            pools[d2][c2] -= 1
            chosen[s.school_id] = (d1, d2, c1, c2)
            if assign(i + 1):
                return True
            pools[d1][c1] += 1
            pools[d2][c2] += 1
        return False

    assert assign(0), "no assignment of the drivers' dynamics fits the seed's table"
    for s in members:
        d1, d2, c1, c2 = chosen[s.school_id]
        s.drivers = (d1, d2)
        (a1, a2), (b1, b2) = _driver_failing(_transition(s), s.listed_2022 or "", c1, c2)
        for d, c, a, b in ((d1, c1, a1, b1), (d2, c2, a2, b2)):
            s.dynamics[d] = c
            s.failing.update({(d, 2020): a, (d, 2021): a, (d, 2022): b, (d, 2023): 4})
    # the other procedures take what is left of each column, in the order of the schools
    for p in PROCEDURES_6:
        left = [t for t in TYPES for _ in range(pools[p][t])]
        slots = [s for s in members if p not in s.dynamics]
        assert len(left) == len(slots), (p, len(left), len(slots))
        for s, t in zip(slots, left):
            _set_other(s, p, t)


def _set_other(s: School, procedure: str, kind: str) -> None:
    s.dynamics[procedure] = kind
    if kind == NONE:
        return
    before, after = (OTHER_VPR if procedure.startswith("ВПР") else OTHER_GIA)[kind]
    s.failing.update(
        {(procedure, 2020): before, (procedure, 2021): before, (procedure, 2022): after}
    )
    s.failing[(procedure, 2023)] = after


def _plan_urban_rural(track: list[School]) -> None:
    """Which schools of track 1 are urban, and the types of their ЕГЭ, so that the pairs school ×
    procedure of the urban and of the rural schools count as `URBAN_RURAL`."""
    import random
    from collections import Counter

    for s in track:
        for p in EGE:
            if not _takes(s, p):
                s.dynamics[p] = NONE
    (n_urban, urban), (_, rural) = URBAN_RURAL["город"], URBAN_RURAL["село"]
    ege_total = Counter(dict(zip(TYPES, (u + r for u, r in zip(urban, rural)))))
    for s in track:
        ege_total -= Counter(s.dynamics[p] for p in PROCEDURES_6)
    ege_total[NONE] = 0  # (what is left are the types of the ЕГЭ taken)
    rng = random.Random(3)
    for _ in range(100_000):
        picked = rng.sample(track, n_urban)
        got = Counter(s.dynamics[p] for s in picked for p in PROCEDURES_6 + EGE if p in s.dynamics)
        need = Counter(dict(zip(TYPES, urban)))
        if got[NONE] != need[NONE] or any(got[t] > need[t] for t in TYPES):
            continue
        need -= got
        if all(need[t] <= ege_total[t] for t in TYPES):
            break
    else:
        raise AssertionError("no choice of urban schools fits the seed's urban / rural table")
    rest = ege_total - need
    for s in track:
        s.urban = s in picked
    for group, types in ((picked, need), ([s for s in track if not s.urban], rest)):
        left = [t for t in TYPES for _ in range(types[t])]
        slots = [(s, p) for s in group for p in EGE if p not in s.dynamics]
        assert len(left) == len(slots), (len(left), len(slots))
        for (s, p), t in zip(slots, left):
            _set_other(s, p, t)


def _failing(s: School, procedure: str, year: int) -> int:
    if (procedure, year) in s.failing:
        return s.failing[(procedure, year)]
    if not procedure.startswith("ВПР"):
        return 0
    d1, d2 = s.drivers
    if procedure not in (d1, d2):
        return 2
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


def _locality(s: School) -> str:
    if s.urban is not None:
        return "город" if s.urban else "село"
    return "город" if s.municipality.startswith("г.") else "село"


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
                    _locality(s),
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
                failing = _failing(s, name, year)
                for p in range(N_GIA):
                    fails = p < failing
                    score = {  # below the minimum: test score < 24 (русский), < 27 (профильная)
                        "ЕГЭ Русский язык": (None, 20 if fails else 60, None),
                        "ЕГЭ Математика (профильная)": (None, 20 if fails else 50, None),
                    }
                    primary, test, mark = score.get(name, (None, None, 2 if fails else 4))
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
        v = s.social
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
