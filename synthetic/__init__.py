"""Deterministic, streaming generator of a synthetic region's input files.

    from synthetic import generate_region, parse_years
    report = generate_region(Path("landing"), seed=42, schools=335, years=(2021, 2022, 2023, 2024))

Parameters (see `RegionSpec` and README.md in this folder):

- seed: master seed. Same seed and parameters give byte-identical files (XLSX included).
- schools: distinct schools (FIS OKO logins `sch<region><serial>`), reorganised ones included;
  ~schools/18 municipalities (min 3): one big city (~25% of schools), a few towns, rural districts.
- years: results years. Per year: registry, ОГЭ/ЕГЭ, social passport, resource survey, academic
  debt; ВПР per student in the last two years and as school statistics before; the risk
  questionnaire in the last two years. Once: code crosswalk, reorganisations, support programmes.
- further `RegionSpec` fields as keyword options: region_code, region_name, fail_shift
  (calibration of the ШНОР share), quality_slope, social_quality_corr, reorganisations, ...

Model: latent social context (city higher) and school quality correlated at r = 0.5; quality
has a per-school trend (15% improve, 15% worsen), yearly noise and, once a school is in a
support programme, a gain. The failing probability of each procedure is a logistic function
of quality plus persistent school x procedure effects and yearly noise; calibrated so that
20-30% of schools meet the default ШНОР rule each results year (checked by `check.py`).

Every random draw comes from a generator seeded by (seed, stream, school, year), so the
output does not depend on iteration order. Rows are written as produced (csv writer, the
sheet's XML streamed into its zip entry); memory is bounded by one school's year of students.
"""

from __future__ import annotations

from .generate import (
    MANIFEST,
    FileReport,
    GenerationReport,
    files_not_generated,
    generate_region,
    write_region,
)
from .spec import GENERATOR_VERSION, RegionSpec, parse_years

__all__ = [
    "GENERATOR_VERSION",
    "MANIFEST",
    "FileReport",
    "GenerationReport",
    "RegionSpec",
    "files_not_generated",
    "generate_region",
    "parse_years",
    "write_region",
]
