"""Assessment results of one school in one year: ВПР per student or as school statistics,
ОГЭ/ЕГЭ per participant. Everything for a school-year is drawn from its own streams
(seed, VPR|GIA, school, year); the rows of one school are built as small numpy arrays and
handed to the writers, so nothing larger than one school's year is ever held in memory."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from .model import SchoolYear
from .procedures import BY_CODE, TEST_SCORE_MIN, VPR_BY_GRADE, Procedure
from .seeding import Stream, rng

PRESENT, ABSENT, ANNULLED = 0, 1, 2
STATUS_RU = ("явка", "неявка", "аннулирован")
CURRENT, PAST = "выпускник текущего года", "выпускник прошлых лет"
MAIN, RESERVE, ADDITIONAL = "основной", "резервный", "дополнительный"

VPR_ABSENT, VPR_ANNULLED = 0.03, 0.005
GIA_ABSENT, GIA_ANNULLED = 0.02, 0.003
RESERVE_SHARE = 0.6  # of the absent on the main day who sit a reserve day
RETAKE_SHARE = 0.85  # of the failing who retake in the additional period
RETAKE_FAIL_FACTOR = 0.4  # failing probability of a retake relative to the first attempt
PAST_GRADUATES_RATE = 0.05  # past-year graduates per current graduate (ЕГЭ)


@dataclass
class Attempts:
    """One procedure's results for a group of participants (arrays of equal length)."""

    procedure: Procedure
    codes: list[str]
    status: np.ndarray
    mark: np.ndarray  # 0 = no mark
    primary: np.ndarray  # -1 = empty
    test: np.ndarray  # -1 = empty
    category: str = CURRENT
    wave: str = MAIN

    def select(self, mask: np.ndarray) -> list[int]:
        return np.flatnonzero(mask).tolist()


def _sigmoid(x: float) -> float:
    return float(1.0 / (1.0 + np.exp(-x)))


def _status(r: np.random.Generator, n: int, absent: float, annulled: float) -> np.ndarray:
    u = r.random(n)
    return np.where(u < absent, ABSENT, np.where(u < absent + annulled, ANNULLED, PRESENT))


def _marks(r: np.random.Generator, n: int, p_fail: float, quality: float) -> np.ndarray:
    """Marks 2-5: «2» with probability p_fail, the passing marks shifted by school quality."""
    fail = r.random(n) < p_fail
    u = r.random(n)
    p4, p5 = _sigmoid(0.1 + 0.9 * quality), _sigmoid(-1.7 + 0.9 * quality)
    return np.where(fail, 2, np.where(u < p5, 5, np.where(u < p4, 4, 3)))


def _primary(r: np.random.Generator, marks: np.ndarray, proc: Procedure) -> np.ndarray:
    """A primary score inside the band of each mark (so mark and score always agree)."""
    assert proc.scale is not None
    lo, hi = proc.scale.bands()
    return lo[marks] + np.floor(r.random(len(marks)) * (hi[marks] - lo[marks] + 1)).astype(int)


def _test_scores(
    r: np.random.Generator, n: int, p_fail: float, quality: float, proc: Procedure
) -> np.ndarray:
    """ЕГЭ test scores 0-100: below the minimum with probability p_fail."""
    minimum = TEST_SCORE_MIN[proc.code]
    fail = r.random(n) < p_fail
    low = r.integers(max(0, minimum - 18), minimum, n)
    mean = (62.0 if proc.code == "EGE_RU" else 55.0) + 8.0 * quality
    high = np.clip(np.rint(r.normal(mean, 12.0, n)), minimum, 100).astype(int)
    return np.where(fail, low, high)


def _attempt(
    r: np.random.Generator,
    proc: Procedure,
    codes: list[str],
    p_fail: float,
    quality: float,
    absent: float,
    annulled: float,
    category: str = CURRENT,
    wave: str = MAIN,
) -> Attempts:
    n = len(codes)
    status = _status(r, n, absent, annulled)
    if proc.scale is not None:
        mark = _marks(r, n, p_fail, quality)
        primary = _primary(r, mark, proc)
        test = np.full(n, -1)
    else:
        test = _test_scores(r, n, p_fail, quality, proc)
        mark = np.zeros(n, dtype=int)
        # ЕГЭ русский язык: the primary score comes along (half the test score); профильная: none
        primary = np.rint(test / 2).astype(int) if proc.code == "EGE_RU" else np.full(n, -1)
    present = status == PRESENT
    return Attempts(
        proc,
        codes,
        status,
        np.where(present, mark, 0),
        np.where(present, primary, -1),
        np.where(present, test, -1),
        category,
        wave,
    )


def _subset(a: Attempts, index: list[int]) -> list[str]:
    return [a.codes[i] for i in index]


def _failing(a: Attempts) -> np.ndarray:
    if a.procedure.scale is not None:
        return (a.status == PRESENT) & (a.mark == 2)
    return (a.status == PRESENT) & (a.test >= 0) & (a.test < TEST_SCORE_MIN[a.procedure.code])


def _code_prefix(sy: SchoolYear) -> str:
    return f"{sy.year}-{sy.school.school_id[5:]}"


# ---------------------------------------------------------------- ВПР


def vpr_attempts(sy: SchoolYear, seed: int) -> Iterator[Attempts]:
    """ВПР grades 4-8 (primary-only schools: grade 4), one block per procedure."""
    r = rng(seed, Stream.VPR, sy.school.index, sy.year)
    prefix = _code_prefix(sy)
    for grade, procs in VPR_BY_GRADE.items():
        n = int(sy.grades[grade])
        if n == 0:
            continue
        codes = [f"{prefix}-{grade:02d}{i:03d}" for i in range(1, n + 1)]
        for proc in procs:
            yield _attempt(
                r, proc, codes, sy.fail_probability(proc.code), sy.quality, VPR_ABSENT, VPR_ANNULLED
            )


def vpr_student_rows(sy: SchoolYear, seed: int) -> list[tuple]:
    rows: list[tuple] = []
    sid, year = sy.school.school_id, sy.year
    for a in vpr_attempts(sy, seed):
        grade, subject = a.procedure.grade, a.procedure.subject
        for code, st, mark, score in zip(
            a.codes, a.status.tolist(), a.mark.tolist(), a.primary.tolist()
        ):
            rows.append(
                (
                    year,
                    sid,
                    grade,
                    subject,
                    code,
                    score if st == PRESENT else "",
                    mark if st == PRESENT else "",
                    STATUS_RU[st],
                )
            )
    return rows


def vpr_stats_rows(sy: SchoolYear, seed: int) -> list[tuple]:
    """Counts of marks among the present, one row per grade and subject with participants."""
    rows: list[tuple] = []
    for a in vpr_attempts(sy, seed):
        counts = np.bincount(a.mark[a.status == PRESENT], minlength=6)[2:6].tolist()
        if sum(counts) == 0:
            continue
        rows.append(
            (
                sy.year,
                sy.school.school_id,
                a.procedure.grade,
                a.procedure.subject,
                sum(counts),
                *counts,
            )
        )
    return rows


# ---------------------------------------------------------------- ОГЭ and ЕГЭ


def _with_reserve_and_retakes(
    r: np.random.Generator, main: Attempts, p_fail: float, quality: float, retake: bool
) -> list[Attempts]:
    """Main-day results, then reserve-day results of some of the absent (their first attempt),
    then retakes in the additional period of some of the failing (same participant codes)."""
    blocks = [main]
    reserve_idx = main.select((main.status == ABSENT) & (r.random(len(main.codes)) < RESERVE_SHARE))
    reserve = _attempt(
        r,
        main.procedure,
        _subset(main, reserve_idx),
        p_fail,
        quality,
        0.0,
        0.0,
        main.category,
        RESERVE,
    )
    if reserve_idx:
        blocks.append(reserve)
    if retake:
        failing = [main.codes[i] for i in main.select(_failing(main))]
        failing += [reserve.codes[i] for i in reserve.select(_failing(reserve))]
        keep = r.random(len(failing)) < RETAKE_SHARE
        failing = [c for c, k in zip(failing, keep.tolist()) if k]
        if failing:
            blocks.append(
                _attempt(
                    r,
                    main.procedure,
                    failing,
                    p_fail * RETAKE_FAIL_FACTOR,
                    quality,
                    0.05,
                    0.0,
                    main.category,
                    ADDITIONAL,
                )
            )
    return blocks


def gia_attempts(sy: SchoolYear, seed: int) -> Iterator[Attempts]:
    r = rng(seed, Stream.GIA, sy.school.index, sy.year)
    prefix = _code_prefix(sy)
    q = sy.quality
    n9 = int(sy.grades[9]) if sy.school.has_grade_9 else 0
    n11 = int(sy.grades[11]) if sy.school.has_grade_11 else 0
    n_past = int(r.poisson(PAST_GRADUATES_RATE * n11))
    profile_draw = r.random(n11)
    past_subject = r.random(n_past)
    if n9:
        codes9 = [f"{prefix}-09{i:03d}" for i in range(1, n9 + 1)]
        for code in ("OGE_RU", "OGE_MA"):
            p = sy.fail_probability(code)
            main = _attempt(r, BY_CODE[code], codes9, p, q, GIA_ABSENT, GIA_ANNULLED)
            yield from _with_reserve_and_retakes(r, main, p, q, retake=True)
    if n11:
        codes11 = [f"{prefix}-11{i:03d}" for i in range(1, n11 + 1)]
        past = [f"{prefix}-PG{i:02d}" for i in range(1, n_past + 1)]
        profile = profile_draw < _sigmoid(-0.4 + 0.7 * q)
        groups = {
            "EGE_RU": (codes11, [c for c, u in zip(past, past_subject.tolist()) if u < 0.5]),
            "EGE_MA_PROF": (
                [c for c, f in zip(codes11, profile.tolist()) if f],
                [c for c, u in zip(past, past_subject.tolist()) if u >= 0.5],
            ),
            "EGE_MA_BASE": ([c for c, f in zip(codes11, profile.tolist()) if not f], []),
        }
        for code, (current, past_codes) in groups.items():
            p = sy.fail_probability(code)
            if current:
                main = _attempt(r, BY_CODE[code], current, p, q, GIA_ABSENT, GIA_ANNULLED)
                yield from _with_reserve_and_retakes(r, main, p, q, retake=code == "EGE_MA_BASE")
            if past_codes:
                yield _attempt(
                    r, BY_CODE[code], past_codes, p, q, GIA_ABSENT, GIA_ANNULLED, PAST, MAIN
                )


def gia_rows(sy: SchoolYear, seed: int) -> list[tuple]:
    rows: list[tuple] = []
    code, year = sy.school.exam_code, sy.year
    for a in gia_attempts(sy, seed):
        exam, subject = a.procedure.exam, a.procedure.subject
        for pc, st, mark, primary, test in zip(
            a.codes, a.status.tolist(), a.mark.tolist(), a.primary.tolist(), a.test.tolist()
        ):
            rows.append(
                (
                    year,
                    code,
                    exam,
                    subject,
                    pc,
                    a.category,
                    a.wave,
                    primary if primary >= 0 else "",
                    test if test >= 0 else "",
                    mark if mark > 0 else "",
                    STATUS_RU[st],
                )
            )
    return rows
