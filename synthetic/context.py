"""School context files: social passport (ИСБШ inputs), resource survey, risk-profile
questionnaire and academic-debt monitoring. Each row comes from the school's yearly state and
its own (seed, stream, school, year) generator; persistent school traits (e.g. whether there is
a gym) come from the school's fixed `propensity` uniforms so they stay stable across years."""

from __future__ import annotations

from statistics import NormalDist

import numpy as np

from .model import SchoolYear
from .region import School
from .seeding import Stream, rng

YES, NO = "да", "нет"

# ---------------------------------------------------------------- social passport

# (logit intercept, slope on the social context) of each share; higher context = better
SOCIAL_SHARES: tuple[tuple[str, float, float], ...] = (
    ("both_parents_higher_ed", -1.3, 0.70),
    ("single_parent", -1.5, -0.35),
    ("low_income", -1.9, -0.70),
    ("prevention_register", -4.0, -0.50),
    ("non_native_russian", -3.4, -0.30),
    ("disabilities", -2.9, -0.20),
    ("large_family", -2.0, -0.15),
    ("unemployed_parents", -2.9, -0.55),
)
PARTIAL_REPORT = 0.03  # school-years that leave 3 indicator columns empty
SPARSE_REPORT = 0.006  # school-years that leave 5 empty (fewer than 4 ИСБШ inputs remain)


def social_counts(sy: SchoolYear, seed: int) -> tuple[int, list[int]]:
    """Total and the eight indicator counts (before any blanking)."""
    s = sy.school
    static = rng(seed, Stream.SOCIAL, s.index, 0).normal(0.0, 0.25, len(SOCIAL_SHARES))
    r = rng(seed, Stream.SOCIAL, s.index, sy.year)
    noise = r.normal(0.0, 0.08, len(SOCIAL_SHARES))
    counts = []
    for i, (name, a, b) in enumerate(SOCIAL_SHARES):
        logit = a + b * sy.social + static[i] + noise[i]
        if name == "non_native_russian":
            logit += 0.8 * s.migrant
        if name == "large_family" and not s.urban:
            logit += 0.3
        counts.append(int(r.binomial(sy.enrolment, 1.0 / (1.0 + np.exp(-logit)))))
    return sy.enrolment, counts


def social_passport_row(sy: SchoolYear, seed: int) -> tuple:
    total, counts = social_counts(sy, seed)
    r = rng(seed, Stream.SOCIAL, sy.school.index, sy.year, 1)
    u = float(r.random())
    order = r.permutation(len(counts)).tolist()
    blank = 5 if u < SPARSE_REPORT else 3 if u < SPARSE_REPORT + PARTIAL_REPORT else 0
    values: list[int | None] = list(counts)
    for i in order[:blank]:
        values[i] = None
    return (sy.year, sy.school.school_id, total, *values)


# ---------------------------------------------------------------- resource survey

_NORMAL = NormalDist()


def _stable(p: float, yearly: float) -> float:
    """A school's fixed propensity, wobbling a little from year to year."""
    return 0.85 * p + 0.15 * yearly


def resource_row(sy: SchoolYear, seed: int) -> tuple:
    s, year = sy.school, sy.year
    p = s.propensity
    u = rng(seed, Stream.RESOURCE, s.index, year).random(16)
    rural = not s.urban
    weak = max(0.0, -sy.quality)  # weaker schools have somewhat more staffing problems
    improve = 0.01 * max(0, year - 2021)  # infrastructure slowly improves across the region
    teachers = max(5, round(5 + sy.enrolment / 14 * (0.9 + 0.2 * u[0])))
    vacancies = 0
    if _stable(p[0], u[1]) < (0.33 if rural else 0.19) + 0.04 * weak:
        vacancies = 1 + int(u[2] * (3 if rural else 4))
    retirement_share = 0.08 + (0.22 if rural else 0.17) * p[1] + 0.05 * u[3]
    retired = min(teachers, round(teachers * retirement_share))
    load = 1.12 + (0.33 if rural else 0.30) * _stable(p[2], u[4]) + 0.05 * (u[5] - 0.5)
    nonspecialist = _stable(p[3], u[6]) < (0.12 if rural else 0.02) + 0.03 * weak
    has_psychologist = p[4] > (0.28 if rural else 0.07)
    has_speech = p[5] > (0.36 if rural else 0.10)
    broadband = _stable(p[6], u[7]) > (0.27 if rural else 0.06) - improve
    building_u = _stable(p[7], u[8])
    building = (
        "аварийное"
        if building_u < (0.03 if rural else 0.01)
        else "требует капремонта"
        if building_u < (0.22 if rural else 0.12) - improve
        else "норма"
    )
    utilities = p[8] > (0.07 if rural else 0.005)
    gym = p[9] > (0.18 if rural else 0.05)
    per_student = 0.12 * float(
        np.exp(0.45 * _NORMAL.inv_cdf(min(max(float(p[10]), 1e-6), 1 - 1e-6)))
    )
    computers = max(1, round(sy.enrolment * per_student * (0.95 + 0.1 * u[9])))
    tochka_rosta = p[12] < (0.55 if rural else 0.08) + improve
    science_lab = tochka_rosta or p[11] > (0.55 if rural else 0.40)
    cos = p[13] < 0.55 + 2 * improve
    return (
        year,
        s.school_id,
        teachers,
        vacancies,
        retired,
        f"{load:.2f}".replace(".", ","),
        YES if nonspecialist else NO,
        YES if has_psychologist else NO,
        YES if has_speech else NO,
        YES if broadband else NO,
        building,
        YES if utilities else NO,
        YES if gym else NO,
        computers,
        YES if science_lab else NO,
        YES if tochka_rosta else NO,
        YES if cos else NO,
    )


# ---------------------------------------------------------------- risk questionnaire

RISK_FACTORS = 10
ITEMS_PER_FACTOR = 3
# per factor: (intercept, weight of low quality, of low social context, of rural, of migrants)
RISK_WEIGHTS: tuple[tuple[float, float, float, float, float], ...] = (
    (-0.2, 0.3, 0.2, 0.8, 0.0),  # 1 оснащение
    (-0.2, 0.3, 0.1, 0.8, 0.0),  # 2 кадры
    (-0.1, 0.8, 0.1, 0.2, 0.0),  # 3 предметная компетентность
    (-0.1, 0.7, 0.2, 0.1, 0.0),  # 4 адаптивность учебного процесса
    (-0.2, 0.5, 0.1, 0.4, 0.0),  # 5 повышение квалификации
    (0.0, 0.9, 0.3, 0.0, 0.0),  # 6 доля обучающихся с рисками неуспешности
    (-0.3, 0.2, 0.4, 0.0, 0.0),  # 7 ОВЗ
    (-0.5, 0.2, 0.2, 0.0, 0.8),  # 8 языковые и культурные барьеры
    (-0.1, 0.4, 0.6, 0.0, 0.0),  # 9 образовательная среда
    (0.0, 0.3, 0.8, 0.2, 0.0),  # 10 вовлечённость родителей
)


def item_codes() -> list[str]:
    return [
        f"F{f:02d}_{i}" for f in range(1, RISK_FACTORS + 1) for i in range(1, ITEMS_PER_FACTOR + 1)
    ]


def risk_rows(sy: SchoolYear, seed: int) -> list[tuple]:
    """30 answers 1-5 (higher = more risk), 3 items per factor of the «500+» risk profile."""
    s = sy.school
    static = rng(seed, Stream.RISK, s.index, 0).normal(0.0, 0.5, RISK_FACTORS)
    r = rng(seed, Stream.RISK, s.index, sy.year)
    noise = r.normal(0.0, 0.7, (RISK_FACTORS, ITEMS_PER_FACTOR))
    rows = []
    codes = iter(item_codes())
    for f, (a, wq, ws, wr, wm) in enumerate(RISK_WEIGHTS):
        x = a - wq * sy.quality - ws * sy.social + wr * (not s.urban) + wm * s.migrant + static[f]
        for i in range(ITEMS_PER_FACTOR):
            answer = int(np.clip(np.rint(2.6 + 0.9 * x + noise[f, i]), 1, 5))
            rows.append((sy.year, s.school_id, next(codes), answer))
    return rows


# ---------------------------------------------------------------- academic debt


def academic_debt_rows(sy: SchoolYear, seed: int) -> list[tuple]:
    """February and year-end monitoring of the academic year ending in `sy.year`."""
    r = rng(seed, Stream.DEBT, sy.school.index, sy.year)
    total = sy.enrolment
    p_debt = float(1.0 / (1.0 + np.exp(3.6 + 0.7 * sy.quality)))
    academic_year = f"{sy.year - 1}/{sy.year}"
    rows = []
    for period, factor, attend, iom, closed in (
        ("февраль", 1.3, 0.75, 0.45, 0.35),
        ("конец учебного года", 1.0, 0.80, 0.50, 0.60),
    ):
        debt = int(r.binomial(total, min(1.0, p_debt * factor)))
        rows.append(
            (
                sy.school.school_id,
                period,
                academic_year,
                total,
                debt,
                int(r.binomial(debt, attend)),
                int(r.binomial(debt, iom)),
                int(r.binomial(debt, closed)),
            )
        )
    return rows


def _percent(value: float) -> str:
    return f"{value:.0f}%"


def programme_target_rows(school: School, seed: int) -> list[tuple]:
    """(indicator, unit, baseline, target) of a supported school's programme, worded as schools
    word them (seed 001): indicators the warehouse computes (ВПР, ГИА-9, academic debt, ИОМ) and
    some it cannot (teacher training, a database «имеется»)."""
    r = rng(seed, Stream.TARGETS, school.index)
    vpr = float(np.clip(82 + 6 * school.quality + r.normal(0, 3), 55, 97))
    debt = float(np.clip(5 - 1.5 * school.quality + r.normal(0, 1), 1, 15))
    rows: list[tuple] = [
        (
            "Доля учащихся, успешно написавших ВПР (среди всех участвовавших)",
            "%",
            _percent(vpr),
            _percent(min(vpr + r.integers(3, 8), 99)),
        ),
        (
            "Доля обучающихся, имеющих академическую задолженность",
            "%",
            _percent(debt),
            _percent(debt / 2),
        ),
        (
            (
                "Доля слабоуспевающих и неуспевающих обучающихся (от числа слабоуспевающих и "
                "неуспевающих) для которых разработаны и реализованы индивидуальные образовательные маршруты"
            ),
            "%",
            _percent(10 * r.integers(2, 5)),
            _percent(10 * r.integers(5, 9)),
        ),
        (
            (
                "Доля педагогических работников, прошедших адресное обучение по вопросам организации "
                "образовательной деятельности со слабоуспевающими и неуспевающими учениками"
            ),
            "%",
            _percent(5 * r.integers(2, 5)),
            _percent(5 * r.integers(5, 9)),
        ),
        ("Наличие банка данных о детях группы риска", "", "имеется", "обновляется ежегодно"),
    ]
    if school.has_grade_9:
        oge = float(np.clip(85 + 5 * school.quality + r.normal(0, 3), 50, 99))
        rows.insert(
            1,
            (
                (
                    "Доля обучающихся, получивших положительные результаты на государственной итоговой "
                    "аттестации ГИА-9 (с первого раза)"
                ),
                "%",
                _percent(oge),
                _percent(min(oge + r.integers(2, 6), 100)),
            ),
        )
    return rows
