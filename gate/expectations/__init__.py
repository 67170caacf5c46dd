"""Great Expectations suites, as code, that gate the publication of the ШНОР list.

- :mod:`gate.expectations.raw` — the raw inputs (schema ``raw``)
- :mod:`gate.expectations.marts` — the marts (schema ``marts``), built from the marts that exist
- :mod:`gate.expectations.gx_runner` — runs checks with GX 1.x on pandas frames read from DuckDB

Every check has a level: ``error`` blocks promotion and publication, ``warning`` is reported in
the run and in the publication manifest. Importing this package does not import GX.
"""

from __future__ import annotations

from gate.expectations.check import Catalog, Check, CheckResult, Level, SkipCheck
from gate.expectations.marts import mart_checks
from gate.expectations.raw import raw_checks


def all_checks(catalog: Catalog, school_code_pattern: str | None = None) -> list[Check]:
    """Every check that applies to a warehouse with this catalog: the raw suite, then the marts suite."""
    return raw_checks(school_code_pattern) + mart_checks(catalog)


__all__ = [
    "Catalog",
    "Check",
    "CheckResult",
    "Level",
    "SkipCheck",
    "all_checks",
    "mart_checks",
    "raw_checks",
]
