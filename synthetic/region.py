"""The static region: municipalities, schools and their latent traits, reorganisations and
support-programme membership. Built once per generation (small: one object per school)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np

from .names import (
    BIG_CITY,
    VILLAGE_STEMS,
    district_centre,
    district_names,
    town_names,
    urban_school_name,
    village_school_name,
)
from .procedures import PROCEDURES
from .seeding import Stream, rng
from .spec import RegionSpec

# school counts of the 19 municipalities of the 335-school reference region (seed 003)
SIZE_TEMPLATE: tuple[int, ...] = (
    84,
    27,
    26,
    24,
    24,
    20,
    19,
    15,
    12,
    12,
    12,
    10,
    10,
    9,
    8,
    7,
    7,
    5,
    4,
)
SCHOOLS_PER_MUNICIPALITY = 18
TOWN_SHARE = 0.16  # of the non-city municipalities

# (log-median, sigma, min, max) of enrolment by (urban, kind)
ENROLMENT = {
    (True, "secondary"): (np.log(720), 0.40, 200, 1500),
    (True, "basic"): (np.log(260), 0.40, 80, 600),
    (True, "primary"): (np.log(200), 0.35, 60, 400),
    (False, "secondary"): (np.log(190), 0.45, 60, 800),
    (False, "basic"): (np.log(65), 0.45, 30, 250),
    (False, "primary"): (np.log(42), 0.30, 30, 90),
}
# social-context offsets by municipality kind and locality (before standardisation)
SOCIAL_OFFSET = {
    ("city", True): 0.55,
    ("town", True): 0.05,
    ("town", False): -0.35,
    ("district", True): -0.05,
    ("district", False): -0.45,
}
MUNICIPALITY_SD = 0.25  # municipality effect on the social context
URBAN_QUALITY_BONUS = 0.15
GRADE_SPAN = {"primary": 4, "basic": 9, "secondary": 11}  # highest grade taught
PROC_EFFECT_SD = 0.45  # persistent school x procedure effect on the failing logit

# (programme, year of entry, share of schools) — «500+» cohorts and the regional programme
PROGRAMMES: tuple[tuple[str, int, float], ...] = (
    ("500+ 2021", 2021, 11 / 335),
    ("500+ 2022", 2022, 42 / 335),
    ("региональная программа", 2023, 28 / 335),
)


@dataclass(frozen=True)
class Municipality:
    index: int
    code: str
    name: str
    kind: str  # city | town | district
    centre: str  # the place named in urban school names
    size: int


@dataclass
class School:
    index: int
    serial: int
    school_id: str  # FIS OKO login
    exam_code: str  # РЦОИ code
    okpo: str
    municipality: Municipality
    urban: bool
    kind: str  # secondary (1-11) | basic (1-9) | primary (1-4)
    base_enrolment: int
    social: float  # latent social context, standardised over the region (higher = better)
    quality: float  # latent school quality, standardised over the region (higher = better)
    trend: float  # quality change per year
    drift: float  # relative enrolment change per year
    proc_effect: np.ndarray  # persistent effect per procedure on the failing logit
    migrant: float  # latent share of non-native speakers
    propensity: np.ndarray  # uniforms that fix the school's resource profile
    name: str = ""
    closed_from: int | None = None  # first results year under the successor
    successor: int | None = None
    absorbed: list[int] = field(default_factory=list)
    support_from: int | None = None  # first year with the support effect

    @property
    def has_grade_9(self) -> bool:
        return self.kind != "primary"

    @property
    def has_grade_11(self) -> bool:
        return self.kind == "secondary"

    @property
    def locality(self) -> str:
        return "город" if self.urban else "село"

    def active(self, year: int) -> bool:
        return self.closed_from is None or year < self.closed_from


@dataclass(frozen=True)
class Reorganisation:
    old: int
    new: int
    effective_date: dt.date
    first_year: int  # first results year under the successor


@dataclass(frozen=True)
class Membership:
    school: int
    programme: str
    year: int


@dataclass
class Region:
    spec: RegionSpec
    municipalities: list[Municipality]
    schools: list[School]
    reorganisations: list[Reorganisation]
    programmes: list[Membership]

    def active_schools(self, year: int) -> list[School]:
        return [s for s in self.schools if s.active(year)]


def municipality_sizes(schools: int) -> list[int]:
    """School counts per municipality: one big city (~25%), then decreasing district sizes.

    335 schools give exactly SIZE_TEMPLATE; other sizes use ~schools/18 municipalities (min 3).
    """
    m = max(3, round(schools / SCHOOLS_PER_MUNICIPALITY))
    template = np.array(SIZE_TEMPLATE, dtype=float)
    if m == len(template):
        weights = template
    else:
        if m - 1 < len(template) - 1:  # fewer districts: each stands for a group of the template's
            rest = np.array([chunk.mean() for chunk in np.array_split(template[1:], m - 1)])
        else:  # more districts: stretch the template's profile
            rest = np.interp(
                np.linspace(0, len(template) - 2, m - 1), np.arange(len(template) - 1), template[1:]
            )
        weights = np.concatenate([[template[0]], rest * (template[1:].sum() / rest.sum())])
    quotas = weights / weights.sum() * schools
    sizes = np.maximum(np.floor(quotas).astype(int), 1)
    order = np.argsort(-(quotas - np.floor(quotas)), kind="stable")
    i = 0
    while sizes.sum() < schools:
        sizes[order[i % m]] += 1
        i += 1
    while sizes.sum() > schools:
        sizes[int(np.argmax(sizes))] -= 1
    return [int(s) for s in sizes]


def build_municipalities(spec: RegionSpec) -> list[Municipality]:
    sizes = municipality_sizes(spec.schools)
    m = len(sizes)
    width = max(2, len(str(m)))
    n_towns = round((m - 1) * TOWN_SHARE)
    town_index = {1 + 2 * j for j in range(n_towns)}
    towns, districts = town_names(), district_names()
    result = []
    for i, size in enumerate(sizes):
        if i == 0:
            kind, name, centre = "city", f"г. {BIG_CITY}", f"г. {BIG_CITY}"
        elif i in town_index:
            town = next(towns)
            kind, name, centre = "town", f"г. {town}", f"г. {town}"
        else:
            stem = next(districts)
            kind, name, centre = "district", f"{stem} МР", district_centre(stem)
        result.append(Municipality(i, f"{i + 1:0{width}d}", name, kind, centre, size))
    return result


def _codes(spec: RegionSpec, k: int) -> tuple[str, str, str]:
    width = max(4, len(str(spec.schools)))
    school_id = f"sch{spec.region_code}{k + 1:0{width}d}"
    exam_code = (
        str(100000 + (k * 7919 + 3511) % 900000) if spec.schools <= 900000 else f"{k + 1:07d}"
    )
    okpo = str(10000000 + (k * 104729 + 1234567) % 90000000)
    return school_id, exam_code, okpo


def _draw_school(spec: RegionSpec, k: int, muni: Municipality, muni_effect: float) -> School:
    r = rng(spec.seed, Stream.SCHOOL, k)
    # every draw happens unconditionally and in a fixed order: a school's traits never depend
    # on branches taken for it or on any other school
    u_loc, u_kind, u_trend = (float(v) for v in r.random(3))
    z_enrol, z_social, z_quality, z_trend, z_drift, z_migrant = (
        float(v) for v in r.standard_normal(6)
    )
    proc_effect = r.normal(0.0, PROC_EFFECT_SD, len(PROCEDURES))
    propensity = r.random(16)
    urban = {"city": True, "town": u_loc < 0.9, "district": u_loc < 0.22}[muni.kind]
    if urban:
        kind = "primary" if u_kind < 0.02 else "basic" if u_kind < 0.10 else "secondary"
    else:
        kind = "primary" if u_kind < 0.04 else "basic" if u_kind < 0.49 else "secondary"
    mu, sigma, lo, hi = ENROLMENT[(urban, kind)]
    enrolment = min(max(round(float(np.exp(mu + sigma * z_enrol))), lo), hi)
    social = SOCIAL_OFFSET[(muni.kind, urban)] + muni_effect + 0.75 * z_social
    if u_trend < 0.15:
        trend = 0.12 + 0.04 * z_trend
    elif u_trend < 0.30:
        trend = -0.12 + 0.04 * z_trend
    else:
        trend = 0.03 * z_trend
    drift = (0.0 if urban else -0.02) + (0.015 if urban else 0.02) * z_drift
    school_id, exam_code, okpo = _codes(spec, k)
    return School(
        index=k,
        serial=k + 1,
        school_id=school_id,
        exam_code=exam_code,
        okpo=okpo,
        municipality=muni,
        urban=bool(urban),
        kind=kind,
        base_enrolment=enrolment,
        social=social,
        quality=z_quality,
        trend=trend,
        drift=drift,
        proc_effect=proc_effect,
        migrant=z_migrant,
        propensity=propensity,
    )


def _standardise(values: np.ndarray) -> np.ndarray:
    sd = values.std()
    return (values - values.mean()) / (sd if sd > 0 else 1.0)


def _name_schools(spec: RegionSpec, schools: list[School]) -> None:
    used: dict[str, int] = {}  # name -> how many schools carry it (or a numbered variant)
    numbers: dict[int, int] = {}
    for s in schools:
        if s.urban:
            numbers[s.municipality.index] = numbers.get(s.municipality.index, 0) + 1
            elite = s.kind == "secondary" and s.quality > 1.5 and s.municipality.kind != "district"
            name = urban_school_name(
                numbers[s.municipality.index],
                s.kind,
                s.municipality.centre,
                gymnasium=elite and s.serial % 2 == 0,
                lyceum=elite and s.serial % 2 == 1,
            )
        else:
            stem = VILLAGE_STEMS[int(s.propensity[15] * len(VILLAGE_STEMS))]
            name = village_school_name(stem, s.kind)
        if name in used:  # «МОУ Покровская средняя школа № 2», ...
            base = name
            while name in used:
                used[base] += 1
                name = f"{base} № {used[base]}"
        used[name] = 1
        s.name = name


def _reorganise(spec: RegionSpec, schools: list[School]) -> list[Reorganisation]:
    years = spec.years
    if len(years) < 2:
        return []
    target = spec.reorganisations
    if target is None:
        target = max(3, round(spec.schools * 0.012)) if spec.schools >= 30 else spec.schools // 10
    r = rng(spec.seed, Stream.REORGANISATION)
    old_candidates = [
        s for s in schools if not s.urban and s.base_enrolment < 160 and s.support_from is None
    ]
    order = r.permutation(len(old_candidates))
    by_municipality: dict[int, list[School]] = {}
    for s in schools:
        by_municipality.setdefault(s.municipality.index, []).append(s)
    involved: set[int] = set()
    result: list[Reorganisation] = []
    for i in order:
        if len(result) >= target:
            break
        old = old_candidates[int(i)]
        if old.index in involved:
            continue
        successors = [
            s
            for s in by_municipality[old.municipality.index]
            if GRADE_SPAN[s.kind] >= GRADE_SPAN[old.kind]
            and s.base_enrolment > old.base_enrolment
            and s.index not in involved
            and s.index != old.index
        ]
        if not successors:
            continue
        new = successors[int(r.integers(len(successors)))]
        first_year = years[1 + len(result) % (len(years) - 1)]
        old.closed_from, old.successor = first_year, new.index
        new.absorbed.append(old.index)
        involved.update((old.index, new.index))
        # effective 1 September of the year before: the next spring's results are the successor's
        result.append(
            Reorganisation(old.index, new.index, dt.date(first_year - 1, 9, 1), first_year)
        )
    return sorted(result, key=lambda x: x.old)


def _assign_programmes(spec: RegionSpec, schools: list[School]) -> list[Membership]:
    r = rng(spec.seed, Stream.PROGRAMMES)
    need = np.array([-s.quality - 0.4 * s.social for s in schools]) + r.normal(
        0.0, 0.6, len(schools)
    )
    ranked = [schools[int(i)] for i in np.argsort(-need, kind="stable")]
    taken: set[int] = set()
    result: list[Membership] = []
    for programme, year, share in PROGRAMMES:
        if year > spec.years[-1]:
            continue
        count = max(1, round(share * spec.schools))
        pool = [s for s in ranked if s.index not in taken][: int(count * 2.5)]
        chosen = r.choice(len(pool), size=min(count, len(pool)), replace=False)
        for i in sorted(int(c) for c in chosen):
            s = pool[i]
            taken.add(s.index)
            s.support_from = year + 1
            result.append(Membership(s.index, programme, year))
    return sorted(result, key=lambda m: (m.year, m.school))


def build_region(spec: RegionSpec) -> Region:
    municipalities = build_municipalities(spec)
    schools: list[School] = []
    for muni in municipalities:
        muni_effect = float(
            rng(spec.seed, Stream.MUNICIPALITY, muni.index).normal(0.0, MUNICIPALITY_SD)
        )
        for _ in range(muni.size):
            schools.append(_draw_school(spec, len(schools), muni, muni_effect))
    social = _standardise(np.array([s.social for s in schools]))
    c = spec.social_quality_corr
    raw_quality = c * social + np.sqrt(1 - c * c) * np.array([s.quality for s in schools])
    raw_quality += URBAN_QUALITY_BONUS * np.array([s.urban for s in schools])
    quality = _standardise(raw_quality)
    for s, z, q in zip(schools, social, quality):
        s.social, s.quality = float(z), float(q)
    _name_schools(spec, schools)
    # programmes first: membership must not depend on the years requested (reorganisation
    # years do), so schools in a programme are simply never the ones that close
    programmes = _assign_programmes(spec, schools)
    reorganisations = _reorganise(spec, schools)
    return Region(spec, municipalities, schools, reorganisations, programmes)
