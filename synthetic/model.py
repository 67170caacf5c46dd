"""The yearly state of a school: enrolment, students per grade, effective quality and the
failing logit of every procedure. Derived deterministically from the static traits and the
(seed, school, year) streams; a successor school includes the schools it absorbed."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .procedures import INDEX, PROCEDURES
from .region import Region, School
from .seeding import Stream, rng
from .spec import REFERENCE_YEAR, RegionSpec

YEAR_NOISE_SD = 0.20  # school quality wobble from year to year
PROC_YEAR_SD = 0.30  # school x procedure x year noise on the failing logit
ENROLMENT_NOISE_SD = 0.03
SMALL_SCHOOL_BELOW = 100  # малокомплектная: fewer students than this
BASE_LOGIT = np.array([p.base_logit for p in PROCEDURES])
# relative size of each grade (index = grade, 0 unused): senior grades are smaller
GRADE_WEIGHTS: dict[str, np.ndarray] = {
    "secondary": np.array([0] + [1.0] * 9 + [0.6, 0.6]),
    "basic": np.array([0] + [1.0] * 9 + [0, 0]),
    "primary": np.array([0] + [1.0] * 4 + [0] * 7),
}


@dataclass(frozen=True)
class SchoolYear:
    school: School
    year: int
    enrolment: int
    grades: np.ndarray  # students per grade, index 0..11
    quality: float
    social: float
    fail_logit: np.ndarray  # per procedure, in PROCEDURES order

    @property
    def is_small(self) -> bool:
        return self.enrolment < SMALL_SCHOOL_BELOW

    def fail_probability(self, code: str) -> float:
        return float(1.0 / (1.0 + np.exp(-self.fail_logit[INDEX[code]])))


@dataclass(frozen=True)
class _MemberState:
    enrolment: int
    quality: float
    social: float
    effects: np.ndarray


def _member_state(spec: RegionSpec, s: School, year: int) -> _MemberState:
    r = rng(spec.seed, Stream.STATE, s.index, year)
    enrol_noise, quality_noise = (float(v) for v in r.standard_normal(2))
    proc_noise = r.normal(0.0, PROC_YEAR_SD, len(PROCEDURES))
    t = year - REFERENCE_YEAR
    enrolment = max(
        10, round(s.base_enrolment * float(np.exp(s.drift * t + ENROLMENT_NOISE_SD * enrol_noise)))
    )
    support = (
        spec.support_gain * max(0, year - s.support_from + 1) if s.support_from is not None else 0.0
    )
    quality = s.quality + s.trend * t + YEAR_NOISE_SD * quality_noise + support
    return _MemberState(enrolment, quality, s.social, s.proc_effect + proc_noise)


def school_year(region: Region, school: School, year: int) -> SchoolYear:
    spec = region.spec
    members = [school] + [
        region.schools[i] for i in school.absorbed if not region.schools[i].active(year)
    ]
    states = [_member_state(spec, m, year) for m in members]
    enrolment = sum(st.enrolment for st in states)
    w = np.array([st.enrolment for st in states], dtype=float) / enrolment
    quality = float(sum(wi * st.quality for wi, st in zip(w, states)))
    social = float(sum(wi * st.social for wi, st in zip(w, states)))
    effects = sum(wi * st.effects for wi, st in zip(w, states))
    fail_logit = BASE_LOGIT + spec.fail_shift - spec.quality_slope * quality + effects
    weights = GRADE_WEIGHTS[school.kind]
    grades = rng(spec.seed, Stream.COHORT, school.index, year).multinomial(
        enrolment, weights / weights.sum()
    )
    return SchoolYear(school, year, enrolment, grades, quality, social, fail_logit)
