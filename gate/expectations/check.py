"""What a data-quality check is: a query that shapes the data into a pandas frame (one row per
thing checked), and the Great Expectations expectations that frame must meet.

Checks are plain data so that this module imports neither Great Expectations (4–5 s) nor
Dagster: GX is imported only when checks run (:mod:`gate.expectations.gx_runner`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import pandas as pd

# "schema.table" -> column names, read from the warehouse's information_schema
Catalog = Mapping[str, tuple[str, ...]]


class Level(StrEnum):
    """``error`` blocks promotion and publication; ``warning`` is reported and does not block."""

    ERROR = "error"
    WARNING = "warning"

    @property
    def gx_severity(self) -> str:
        return "critical" if self is Level.ERROR else "warning"


class SkipCheck(Exception):
    """The data the check needs is not in the warehouse (yet): the check is skipped, with the reason."""


@dataclass(frozen=True)
class Expect:
    """One Great Expectations expectation by class name and arguments (built when checks run)."""

    kind: str
    kwargs: Mapping[str, Any] = field(default_factory=dict)

    def describe(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.kwargs.items())
        return f"{self.kind}({args})"

    def in_words(self) -> str:
        """What a row failing this expectation is, in words («min_mark below 2»)."""
        a = self.kwargs
        column = a.get("column")
        if self.kind == "ExpectColumnValuesToNotBeNull":
            return f"{column} empty"
        if self.kind == "ExpectColumnValuesToBeBetween":
            low, high = a.get("min_value"), a.get("max_value")
            if low is not None and high is not None:
                return f"{column} outside {_plain(low)}–{_plain(high)}"
            return (
                f"{column} below {_plain(low)}"
                if low is not None
                else f"{column} above {_plain(high)}"
            )
        if self.kind == "ExpectColumnValuesToMatchRegex":
            return f"{column} malformed (does not match {a.get('regex')})"
        if self.kind == "ExpectColumnValuesToBeInSet":
            values = ", ".join(_plain(v) for v in a.get("value_set", ()))
            return f"{column} not one of {values}"
        if self.kind == "ExpectColumnValuesToBeUnique":
            return f"{column} repeated"
        if self.kind == "ExpectCompoundColumnsToBeUnique":
            return "the same " + ", ".join(a.get("column_list", ())) + " more than once"
        if self.kind == "ExpectColumnPairValuesAToBeGreaterThanB":
            relation = "above" if a.get("or_equal") else "not below"
            return f"{a.get('column_B')} {relation} {a.get('column_A')}"
        if self.kind == "ExpectColumnPairValuesToBeEqual":
            return f"{a.get('column_A')} differs from {a.get('column_B')}"
        if self.kind == "ExpectTableRowCountToBeBetween":
            return "no rows" if a.get("min_value") == 1 else "a row count out of range"
        return self.describe()


def expect(kind: str, **kwargs: Any) -> Expect:
    return Expect(kind, kwargs)


QueryBuilder = Callable[[Catalog], str]
# failing rows -> what is wrong and what to do, in words (the message of a failed check)
Explainer = Callable[[pd.DataFrame], str]

EXAMPLE_ROWS = 3


def rows_in_words(
    frame: pd.DataFrame, columns: tuple[str, ...] = (), limit: int = EXAMPLE_ROWS
) -> str:
    """The first rows of ``frame`` as «column value, …» (``columns`` first, at most six), «; »-joined,
    with how many more there are: the examples of a failed check's message."""
    if frame is None or len(frame) == 0:
        return ""
    shown = [c for c in columns if c in frame.columns] or list(frame.columns)[:6]
    parts = []
    for record in frame.head(limit)[shown].to_dict("records"):
        parts.append(", ".join(f"{k} {_plain(v)}" for k, v in record.items()))
    more = f" (and {len(frame) - limit} more)" if len(frame) > limit else ""
    return "; ".join(parts) + more


def _plain(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


@dataclass(frozen=True)
class Check:
    """A named check on one asset (table) of the warehouse.

    ``query`` is SQL (or a function of the catalog returning SQL, raising :class:`SkipCheck`
    when what it needs is absent) whose result is validated with ``expectations``. Rows the
    expectations flag are the failing rows saved for inspection; for table-level expectations
    (row counts) the whole frame is saved.
    """

    name: str
    suite: str  # raw | marts
    asset: tuple[str, ...]  # the Dagster asset key (schema, table) the check is attached to
    level: Level
    description: str  # what it checks, when it matters, how to fix
    query: str | QueryBuilder
    expectations: tuple[Expect, ...]
    requires: tuple[str, ...] = ()  # "schema.table" that must exist, else the check is skipped
    # what the failing rows mean, in words, with examples and what to do; without it the message
    # names the expectations that failed and shows the first failing rows
    explain: Explainer | None = None
    example_columns: tuple[str, ...] = ()  # columns shown first in the default message
    # ``{rows}`` in a query is the check's table (its ``asset``). The table the check judges in
    # parts, each part's rows on their own (row by row, or aggregates and keys within a part):
    # ``by_file``, a raw table (``raw.<source>``)
    # whose parts are the delivered files (the loader only appends them); ``by_year``, a table whose
    # parts are its years (a year-local mart, macros/year_local.sql, replaces a year's rows whole).
    # Where an audited build judged the table, its passed verdict holds for the parts left as they
    # were, and the rows of the others alone are judged (:meth:`resolve_query` with ``only``;
    # gate.baseline.GxCarrier.narrowing, gate.audit.gx_outcomes)
    by_file: str = ""
    by_year: str = ""

    @property
    def key(self) -> str:
        """Unique across suites: ``<schema>__<table>__<name>``."""
        return "__".join((*self.asset, self.name))

    @property
    def in_parts(self) -> str:
        """The table the check judges in parts ("" when it judges the whole of what it reads)."""
        return self.by_file or self.by_year

    def resolve_query(self, catalog: Catalog, only: str | None = None) -> str:
        """The check's SQL on this warehouse; with ``only`` (a check judged in parts), on the rows of
        its table that meet that condition."""
        missing = [t for t in (*self.requires, ".".join(self.asset)) if t not in catalog]
        if missing:
            raise SkipCheck(f"{', '.join(missing)} not in the warehouse")
        sql = self.query(catalog) if callable(self.query) else self.query
        rows = self.in_parts or ".".join(self.asset)  # ``{rows}``: the check's table
        if only is not None:
            if not self.in_parts:
                raise ValueError(f"{self.key} does not judge its table in parts")
            rows = f"(select * from {rows} where {only})"
        return sql.replace("{rows}", rows)


@dataclass
class ExpectationOutcome:
    expectation: str
    success: bool
    unexpected_count: int | None = None
    observed_value: Any = None
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "expectation": self.expectation,
            "success": self.success,
            "unexpected_count": self.unexpected_count,
            "observed_value": _jsonable(self.observed_value),
            "error": self.error,
        }


@dataclass
class CheckResult:
    check: Check
    status: str  # passed | failed | skipped | error
    message: str
    rows_checked: int = 0
    failing_rows: pd.DataFrame | None = None
    outcomes: list[ExpectationOutcome] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return self.status in ("passed", "skipped")

    @property
    def blocks_publication(self) -> bool:
        return self.check.level is Level.ERROR and not self.passed

    @property
    def failing_row_count(self) -> int:
        return 0 if self.failing_rows is None else len(self.failing_rows)


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return str(value)
