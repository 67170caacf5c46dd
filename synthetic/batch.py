"""The region model of `model.py`, `results.py` and `context.py`, vectorised over every school
of a region's year, for country-sized sets (`country.py`).

The static region (municipalities, schools and their latent traits, reorganisations, support
programmes) is the one `region.build_region` builds. What differs is how the yearly draws are
made: instead of a generator per school and year (a few microseconds each, but 150,000
school-years and tens of millions of students make that the whole cost), one generator per
(region, stream, year) draws every school's state, every student's result and every context row
of that year at once, as numpy arrays. The distributions and parameters are the same, so a
region of a country set is calibrated like the demo region (24-30% of schools listed); the draws
are not the demo's (the demo keeps its own generator, byte for byte).

Results come out as `Block`s: one procedure, one participant group (a grade, the past-year
graduates), one wave, every school's participants as parallel arrays. The writers
(`columnar.py`) turn them into CSV text or Parquet columns.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

from .context import (
    ITEMS_PER_FACTOR,
    PARTIAL_REPORT,
    RISK_FACTORS,
    RISK_WEIGHTS,
    SOCIAL_SHARES,
    SPARSE_REPORT,
)
from .model import (
    ENROLMENT_NOISE_SD,
    GRADE_WEIGHTS,
    PROC_YEAR_SD,
    SMALL_SCHOOL_BELOW,
    YEAR_NOISE_SD,
)
from .procedures import BY_CODE, INDEX, PROCEDURES, TEST_SCORE_MIN, VPR_BY_GRADE, Procedure
from .region import Region
from .results import (
    GIA_ABSENT,
    GIA_ANNULLED,
    PAST_GRADUATES_RATE,
    RESERVE_SHARE,
    RETAKE_FAIL_FACTOR,
    RETAKE_SHARE,
    VPR_ABSENT,
    VPR_ANNULLED,
)
from .seeding import Stream, rng
from .spec import REFERENCE_YEAR

PRESENT, ABSENT, ANNULLED = 0, 1, 2
CURRENT, PAST = 0, 1
MAIN, RESERVE, ADDITIONAL = 0, 1, 2
KINDS = ("primary", "basic", "secondary")
MAX_PER_GROUP = 999  # participant numbers have three digits
BASE_LOGIT = np.array([p.base_logit for p in PROCEDURES])
_NORMAL = NormalDist()


def _sigmoid(x: np.ndarray | float) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.asarray(x, dtype=float)))


@dataclass(frozen=True)
class RegionArrays:
    """The static traits of a region's schools as arrays (index = school index)."""

    region: Region
    code: str  # two digits, inside the FIS OKO login
    school_id: list[str]
    exam_code: list[str]
    serial: np.ndarray
    base_enrolment: np.ndarray
    drift: np.ndarray
    quality: np.ndarray
    trend: np.ndarray
    social: np.ndarray
    migrant: np.ndarray
    urban: np.ndarray  # bool
    kind: np.ndarray  # index into KINDS
    proc_effect: np.ndarray  # (schools, procedures)
    propensity: np.ndarray  # (schools, 16)
    support_from: np.ndarray  # first year with the support effect; 0 = never
    closed_from: np.ndarray  # first results year under the successor; 0 = never

    @classmethod
    def of(cls, region: Region) -> RegionArrays:
        s = region.schools
        return cls(
            region=region,
            code=region.spec.region_code,
            school_id=[x.school_id for x in s],
            exam_code=[x.exam_code for x in s],
            serial=np.array([x.serial for x in s]),
            base_enrolment=np.array([x.base_enrolment for x in s], dtype=float),
            drift=np.array([x.drift for x in s]),
            quality=np.array([x.quality for x in s]),
            trend=np.array([x.trend for x in s]),
            social=np.array([x.social for x in s]),
            migrant=np.array([x.migrant for x in s]),
            urban=np.array([x.urban for x in s]),
            kind=np.array([KINDS.index(x.kind) for x in s]),
            proc_effect=np.array([x.proc_effect for x in s]),
            propensity=np.array([x.propensity for x in s]),
            support_from=np.array([x.support_from or 0 for x in s]),
            closed_from=np.array([x.closed_from or 0 for x in s]),
        )

    @property
    def size(self) -> int:
        return len(self.school_id)

    def active(self, year: int) -> np.ndarray:
        return (self.closed_from == 0) | (year < self.closed_from)


@dataclass(frozen=True)
class YearState:
    """Every school's state in a results year (closed schools included, `active` false)."""

    year: int
    active: np.ndarray
    enrolment: np.ndarray  # int
    grades: np.ndarray  # (schools, 12) students per grade
    quality: np.ndarray
    social: np.ndarray
    fail_p: np.ndarray  # (schools, procedures) failing probability

    @property
    def is_small(self) -> np.ndarray:
        return self.enrolment < SMALL_SCHOOL_BELOW


def year_state(ra: RegionArrays, year: int) -> YearState:
    spec = ra.region.spec
    n = ra.size
    r = rng(spec.seed, Stream.STATE, 0, year)
    enrol_noise = r.standard_normal(n)
    quality_noise = r.standard_normal(n)
    proc_noise = r.normal(0.0, PROC_YEAR_SD, (n, len(PROCEDURES)))
    t = year - REFERENCE_YEAR
    enrolment = np.maximum(
        10, np.rint(ra.base_enrolment * np.exp(ra.drift * t + ENROLMENT_NOISE_SD * enrol_noise))
    )
    support = np.where(
        ra.support_from > 0, spec.support_gain * np.maximum(0, year - ra.support_from + 1), 0.0
    )
    quality = ra.quality + ra.trend * t + YEAR_NOISE_SD * quality_noise + support
    social = ra.social.copy()
    effects = ra.proc_effect + proc_noise
    active = ra.active(year)
    # a successor school includes the schools it absorbed (enrolment-weighted traits)
    for school in ra.region.schools:
        members = [i for i in school.absorbed if not active[i]]
        if not members:
            continue
        k = [school.index, *members]
        w = enrolment[k] / enrolment[k].sum()
        quality[school.index] = float(w @ quality[k])
        social[school.index] = float(w @ social[k])
        effects[school.index] = w @ effects[k]
        enrolment[school.index] = enrolment[k].sum()
    enrolment = enrolment.astype(np.int64)
    fail_logit = BASE_LOGIT + spec.fail_shift - spec.quality_slope * quality[:, None] + effects
    grades = np.zeros((n, 12), dtype=np.int64)
    cohort = rng(spec.seed, Stream.COHORT, 0, year)
    for k, kind in enumerate(KINDS):
        idx = np.flatnonzero(ra.kind == k)
        if len(idx):
            weights = GRADE_WEIGHTS[kind]
            grades[idx] = cohort.multinomial(enrolment[idx], weights / weights.sum())
    grades[~active] = 0
    if grades.max() > MAX_PER_GROUP:
        raise ValueError(f"more than {MAX_PER_GROUP} students in one grade: use fewer students")
    return YearState(year, active, enrolment, grades, quality, social, _sigmoid(fail_logit))


# ---------------------------------------------------------------- results


@dataclass(frozen=True)
class Block:
    """One procedure's results for a group of participants of many schools (parallel arrays).

    value: the primary score (procedures with a mark scale) or the test score (ЕГЭ русский,
    профильная математика); -1 when the participant did not sit (absent or annulled).
    """

    procedure: Procedure
    group: str  # participant-code group: "04".."09", "11", "PG" (past-year graduates)
    category: int  # CURRENT | PAST
    wave: int  # MAIN | RESERVE | ADDITIONAL
    school: np.ndarray  # school index per row
    number: np.ndarray  # participant number inside (school, group), from 1
    status: np.ndarray  # PRESENT | ABSENT | ANNULLED
    value: np.ndarray

    def __len__(self) -> int:
        return len(self.school)

    def mark(self) -> np.ndarray:
        """The mark 2-5 of each row (0 = no mark: not present, or a test-score procedure)."""
        return mark_of(self.procedure, self.value)

    def failing(self) -> np.ndarray:
        return (
            (self.status == PRESENT) & (self.value >= 0) & (self.value < fail_below(self.procedure))
        )


def fail_below(proc: Procedure) -> int:
    """The lowest passing value: the «3» cut of the primary score, or the minimum test score."""
    return proc.scale.cuts[0] if proc.scale is not None else TEST_SCORE_MIN[proc.code]


def max_value(proc: Procedure) -> int:
    return proc.scale.maximum if proc.scale is not None else 100


def mark_of(proc: Procedure, value: np.ndarray) -> np.ndarray:
    if proc.scale is None:
        return np.zeros(len(value), dtype=np.int64)
    c3, c4, c5 = proc.scale.cuts
    mark = np.where(value >= c5, 5, np.where(value >= c4, 4, np.where(value >= c3, 3, 2)))
    return np.where(value >= 0, mark, 0)


def primary_of_test(proc: Procedure, value: np.ndarray) -> np.ndarray:
    """ЕГЭ русский язык: the primary score comes along (half the test score); профильная: none."""
    if proc.code == "EGE_RU":
        return np.where(value >= 0, np.rint(value / 2), -1).astype(np.int64)
    return np.full(len(value), -1, dtype=np.int64)


def _numbers(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """School index and participant number 1..n of every participant, for per-school counts."""
    school = np.repeat(np.arange(len(counts)), counts)
    starts = np.cumsum(counts) - counts
    number = np.arange(len(school)) - np.repeat(starts, counts) + 1
    return school, number


def _attempt(
    r: np.random.Generator,
    state: YearState,
    proc: Procedure,
    group: str,
    school: np.ndarray,
    number: np.ndarray,
    p_fail: np.ndarray,
    absent: float,
    annulled: float,
    category: int = CURRENT,
    wave: int = MAIN,
) -> Block:
    n = len(school)
    q = state.quality[school]
    u = r.random(n)
    status = np.where(u < absent, ABSENT, np.where(u < absent + annulled, ANNULLED, PRESENT))
    fail = r.random(n) < p_fail
    if proc.scale is not None:
        u_mark = r.random(n)
        p4, p5 = _sigmoid(0.1 + 0.9 * q), _sigmoid(-1.7 + 0.9 * q)
        mark = np.where(fail, 2, np.where(u_mark < p5, 5, np.where(u_mark < p4, 4, 3)))
        lo, hi = proc.scale.bands()
        value = lo[mark] + np.floor(r.random(n) * (hi[mark] - lo[mark] + 1)).astype(np.int64)
    else:
        minimum = TEST_SCORE_MIN[proc.code]
        low = r.integers(max(0, minimum - 18), minimum, n)
        mean = (62.0 if proc.code == "EGE_RU" else 55.0) + 8.0 * q
        high = np.clip(np.rint(r.normal(mean, 12.0, n)), minimum, 100).astype(np.int64)
        value = np.where(fail, low, high)
    value = np.where(status == PRESENT, value, -1)
    return Block(proc, group, category, wave, school, number, status.astype(np.int8), value)


def vpr_blocks(ra: RegionArrays, state: YearState, grades: range = range(4, 9)) -> Iterator[Block]:
    """ВПР per student, grades 4-8 (the subjects of `procedures.VPR_BY_GRADE`)."""
    r = rng(ra.region.spec.seed, Stream.VPR, 0, state.year)
    for grade in grades:
        school, number = _numbers(state.grades[:, grade])
        if not len(school):
            continue
        for proc in VPR_BY_GRADE[grade]:
            p = state.fail_p[school, INDEX[proc.code]]
            yield _attempt(
                r, state, proc, f"{grade:02d}", school, number, p, VPR_ABSENT, VPR_ANNULLED
            )


def _take(block: Block, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return block.school[mask], block.number[mask]


def _with_reserve_and_retakes(
    r: np.random.Generator, state: YearState, main: Block, retake: bool
) -> list[Block]:
    """Main day, then the reserve day of some of the absent (their first attempt), then the
    additional period of some of the failing (the same participant codes)."""
    proc, col = main.procedure, INDEX[main.procedure.code]
    blocks = [main]
    going = (main.status == ABSENT) & (r.random(len(main)) < RESERVE_SHARE)
    school, number = _take(main, going)
    reserve = _attempt(
        r,
        state,
        proc,
        main.group,
        school,
        number,
        state.fail_p[school, col],
        0.0,
        0.0,
        main.category,
        RESERVE,
    )
    if len(reserve):
        blocks.append(reserve)
    if retake:
        s1, n1 = _take(main, main.failing())
        s2, n2 = _take(reserve, reserve.failing())
        school, number = np.concatenate([s1, s2]), np.concatenate([n1, n2])
        keep = r.random(len(school)) < RETAKE_SHARE
        school, number = school[keep], number[keep]
        if len(school):
            p = state.fail_p[school, col] * RETAKE_FAIL_FACTOR
            blocks.append(
                _attempt(
                    r,
                    state,
                    proc,
                    main.group,
                    school,
                    number,
                    p,
                    0.05,
                    0.0,
                    main.category,
                    ADDITIONAL,
                )
            )
    return blocks


def gia_blocks(ra: RegionArrays, state: YearState) -> Iterator[Block]:
    """ОГЭ (grade 9) and ЕГЭ (grade 11 and past-year graduates) per participant."""
    r = rng(ra.region.spec.seed, Stream.GIA, 0, state.year)
    n9 = np.where(ra.kind > 0, state.grades[:, 9], 0)
    n11 = np.where(ra.kind == 2, state.grades[:, 11], 0)
    n_past = r.poisson(PAST_GRADUATES_RATE * n11)
    school9, number9 = _numbers(n9)
    for code in ("OGE_RU", "OGE_MA"):
        if len(school9):
            p = state.fail_p[school9, INDEX[code]]
            main = _attempt(
                r, state, BY_CODE[code], "09", school9, number9, p, GIA_ABSENT, GIA_ANNULLED
            )
            yield from _with_reserve_and_retakes(r, state, main, retake=True)
    school11, number11 = _numbers(n11)
    profile = r.random(len(school11)) < _sigmoid(-0.4 + 0.7 * state.quality[school11])
    past_school, past_number = _numbers(n_past)
    past_ru = r.random(len(past_school)) < 0.5
    groups = {
        "EGE_RU": (np.ones(len(school11), bool), past_ru),
        "EGE_MA_PROF": (profile, ~past_ru),
        "EGE_MA_BASE": (~profile, np.zeros(len(past_school), bool)),
    }
    for code, (current, past) in groups.items():
        proc, col = BY_CODE[code], INDEX[code]
        school, number = school11[current], number11[current]
        if len(school):
            p = state.fail_p[school, col]
            main = _attempt(r, state, proc, "11", school, number, p, GIA_ABSENT, GIA_ANNULLED)
            yield from _with_reserve_and_retakes(r, state, main, retake=code == "EGE_MA_BASE")
        school, number = past_school[past], past_number[past]
        if len(school):
            p = state.fail_p[school, col]
            yield _attempt(
                r, state, proc, "PG", school, number, p, GIA_ABSENT, GIA_ANNULLED, PAST, MAIN
            )


# ---------------------------------------------------------------- school context


def social_passport(ra: RegionArrays, state: YearState) -> tuple[np.ndarray, np.ndarray]:
    """Total and the eight indicator counts of every school (-1 = left empty)."""
    seed, n, k = ra.region.spec.seed, ra.size, len(SOCIAL_SHARES)
    static = rng(seed, Stream.SOCIAL, 0, 0).normal(0.0, 0.25, (n, k))
    r = rng(seed, Stream.SOCIAL, 0, state.year)
    logit = static + r.normal(0.0, 0.08, (n, k))
    for i, (name, a, b) in enumerate(SOCIAL_SHARES):
        logit[:, i] += a + b * state.social
        if name == "non_native_russian":
            logit[:, i] += 0.8 * ra.migrant
        if name == "large_family":
            logit[:, i] += np.where(ra.urban, 0.0, 0.3)
    counts = r.binomial(state.enrolment[:, None], _sigmoid(logit))
    u = r.random(n)
    blank = np.where(u < SPARSE_REPORT, 5, np.where(u < SPARSE_REPORT + PARTIAL_REPORT, 3, 0))
    order = np.argsort(r.random((n, k)), axis=1)  # a random order of the columns per school
    rank = np.argsort(order, axis=1)
    counts = np.where(rank < blank[:, None], -1, counts)
    return state.enrolment, counts


def _stable(p: np.ndarray, yearly: np.ndarray) -> np.ndarray:
    return 0.85 * p + 0.15 * yearly


def resource_survey(ra: RegionArrays, state: YearState) -> dict[str, np.ndarray]:
    """The resource survey's items (as in `context.resource_row`), one value per school."""
    year, p = state.year, ra.propensity
    u = rng(ra.region.spec.seed, Stream.RESOURCE, 0, year).random((ra.size, 16))
    rural = ~ra.urban
    weak = np.maximum(0.0, -state.quality)
    improve = 0.01 * max(0, year - 2021)
    teachers = np.maximum(5, np.rint(5 + state.enrolment / 14 * (0.9 + 0.2 * u[:, 0])))
    vacancies = np.where(
        _stable(p[:, 0], u[:, 1]) < np.where(rural, 0.33, 0.19) + 0.04 * weak,
        1 + np.floor(u[:, 2] * np.where(rural, 3, 4)),
        0,
    )
    retirement_share = 0.08 + np.where(rural, 0.22, 0.17) * p[:, 1] + 0.05 * u[:, 3]
    retired = np.minimum(teachers, np.rint(teachers * retirement_share))
    load = 1.12 + np.where(rural, 0.33, 0.30) * _stable(p[:, 2], u[:, 4]) + 0.05 * (u[:, 5] - 0.5)
    building_u = _stable(p[:, 7], u[:, 8])
    building = np.where(
        building_u < np.where(rural, 0.03, 0.01),
        2,
        np.where(building_u < np.where(rural, 0.22, 0.12) - improve, 1, 0),
    )
    z = np.array([_NORMAL.inv_cdf(min(max(float(x), 1e-6), 1 - 1e-6)) for x in p[:, 10]])
    per_student = 0.12 * np.exp(0.45 * z)
    computers = np.maximum(1, np.rint(state.enrolment * per_student * (0.95 + 0.1 * u[:, 9])))
    tochka = p[:, 12] < np.where(rural, 0.55, 0.08) + improve
    return {
        "teachers_total": teachers.astype(np.int64),
        "teacher_vacancies": vacancies.astype(np.int64),
        "teachers_retirement_age": retired.astype(np.int64),
        "avg_teacher_load": np.round(load, 2),
        "nonspecialist_ru_ma": _stable(p[:, 3], u[:, 6])
        < np.where(rural, 0.12, 0.02) + 0.03 * weak,
        "has_psychologist": p[:, 4] > np.where(rural, 0.28, 0.07),
        "has_speech_therapist": p[:, 5] > np.where(rural, 0.36, 0.10),
        "broadband_ok": _stable(p[:, 6], u[:, 7]) > np.where(rural, 0.27, 0.06) - improve,
        "building_condition": building,  # index into BUILDING
        "has_utilities": p[:, 8] > np.where(rural, 0.07, 0.005),
        "has_gym": p[:, 9] > np.where(rural, 0.18, 0.05),
        "computers": computers.astype(np.int64),
        "has_science_lab": tochka | (p[:, 11] > np.where(rural, 0.55, 0.40)),
        "has_tochka_rosta": tochka,
        "has_cos": p[:, 13] < 0.55 + 2 * improve,
    }


BUILDING = ("норма", "требует капремонта", "аварийное")


def risk_answers(ra: RegionArrays, state: YearState) -> np.ndarray:
    """(schools, 30) answers 1-5 to the risk questionnaire (higher = more risk)."""
    seed, n = ra.region.spec.seed, ra.size
    static = rng(seed, Stream.RISK, 0, 0).normal(0.0, 0.5, (n, RISK_FACTORS))
    noise = rng(seed, Stream.RISK, 0, state.year).normal(
        0.0, 0.7, (n, RISK_FACTORS, ITEMS_PER_FACTOR)
    )
    w = np.array(RISK_WEIGHTS)  # (factors, 5)
    x = (
        w[:, 0]
        - np.outer(state.quality, w[:, 1])
        - np.outer(state.social, w[:, 2])
        + np.outer(~ra.urban, w[:, 3])
        + np.outer(ra.migrant, w[:, 4])
        + static
    )
    answers = np.clip(np.rint(2.6 + 0.9 * x[:, :, None] + noise), 1, 5).astype(np.int64)
    return answers.reshape(n, RISK_FACTORS * ITEMS_PER_FACTOR)


DEBT_PERIODS = (
    ("февраль", 1.3, 0.75, 0.45, 0.35),
    ("конец учебного года", 1.0, 0.80, 0.50, 0.60),
)


def academic_debt(ra: RegionArrays, state: YearState) -> list[np.ndarray]:
    """Per period of `DEBT_PERIODS`: (schools, 4) with debt, attending, ИОМ, closed."""
    r = rng(ra.region.spec.seed, Stream.DEBT, 0, state.year)
    p_debt = _sigmoid(-(3.6 + 0.7 * state.quality))
    result = []
    for _, factor, attend, iom, closed in DEBT_PERIODS:
        debt = r.binomial(state.enrolment, np.minimum(1.0, p_debt * factor))
        result.append(
            np.column_stack(
                [debt, r.binomial(debt, attend), r.binomial(debt, iom), r.binomial(debt, closed)]
            )
        )
    return result
