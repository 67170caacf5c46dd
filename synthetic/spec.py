"""Parameters of a synthetic region (`RegionSpec`) and the year-list parser used by the CLI."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any

GENERATOR_VERSION = "1.0.0"
DEFAULT_YEARS: tuple[int, ...] = (2021, 2022, 2023, 2024)
REFERENCE_YEAR = 2022  # trends and enrolment drift are measured from this year


@dataclass(frozen=True)
class RegionSpec:
    """Everything that determines the generated files. Same spec => byte-identical files.

    seed                      master seed; every school draws from its own generators derived
                              from (seed, stream, school index[, year])
    schools                   number of distinct schools (FIS OKO logins), reorganised ones included
    years                     results years; one registry, result and survey file per year
    region_code               two digits inside the FIS OKO login (sch + region + serial)
    region_name               printed in the title blocks of the XLSX files
    student_level_vpr_years   the last N years get ВПР per student (CSV); earlier years school statistics (XLSX)
    risk_questionnaire_years  the last N years get the risk-profile questionnaire
    reorganisations           number of mergers; None = automatic (max(3, 1.2% of schools), fewer if the
                              region is too small to find pairs; 0 when there is only one year)
    fail_shift                calibration: added to the logit of every failing probability; the default
                              0.25 gives 24-30% listed schools per results year (+0.1 adds ~2-3 points)
    quality_slope             how strongly school quality lowers the failing logit
    support_gain              quality gained per year by a school in a support programme (from the year
                              after it joined)
    social_quality_corr       correlation between the latent social context and school quality
    """

    seed: int = 42
    schools: int = 335
    years: tuple[int, ...] = DEFAULT_YEARS
    region_code: str = "99"
    region_name: str = "Северо-Волжская область"
    student_level_vpr_years: int = 2
    risk_questionnaire_years: int = 2
    reorganisations: int | None = None
    fail_shift: float = 0.25
    quality_slope: float = 0.85
    support_gain: float = 0.10
    social_quality_corr: float = 0.5

    def __post_init__(self) -> None:
        years = tuple(sorted({int(y) for y in self.years}))
        object.__setattr__(self, "years", years)
        if not years:
            raise ValueError("years: at least one year is needed")
        if years[0] < 2000 or years[-1] > 2100:
            raise ValueError(f"years: {years[0]}..{years[-1]} is outside 2000..2100")
        if self.schools < 3:
            raise ValueError("schools: at least 3 schools are needed")
        if not re.fullmatch(r"\d{2}", self.region_code):
            raise ValueError("region_code: two digits, e.g. '99'")
        if not 0 <= self.social_quality_corr < 1:
            raise ValueError("social_quality_corr: between 0 and 1")
        if self.student_level_vpr_years < 0 or self.risk_questionnaire_years < 0:
            raise ValueError("year counts must not be negative")

    @property
    def student_level_vpr(self) -> frozenset[int]:
        """Years whose ВПР results are written per student (the rest as school statistics)."""
        n = self.student_level_vpr_years
        return frozenset(self.years[-n:]) if n else frozenset()

    @property
    def risk_years(self) -> frozenset[int]:
        n = self.risk_questionnaire_years
        return frozenset(self.years[-n:]) if n else frozenset()

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["years"] = list(self.years)
        return data


def parse_years(text: str) -> tuple[int, ...]:
    """Parse a year list: «2021-2024», «2021,2023», «2022» or a mix («2019-2020,2023»).

    Returns the years sorted and without repeats; raises ValueError on anything else.
    """
    years: set[int] = set()
    for part in text.replace(" ", "").split(","):
        if not part:
            continue
        match = re.fullmatch(r"(\d{4})(?:[-–](\d{4}))?", part)
        if not match:
            raise ValueError(
                f"not a year or a year range: {part!r} (use e.g. 2021-2024 or 2021,2023)"
            )
        first = int(match.group(1))
        last = int(match.group(2) or first)
        if last < first:
            raise ValueError(
                f"year range goes backwards: {part!r} (write the earlier year first, "
                f"e.g. {last}-{first})"
            )
        years.update(range(first, last + 1))
    if not years:
        raise ValueError(f"no years in {text!r}")
    return tuple(sorted(years))
