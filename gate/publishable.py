"""The publication gate: what may be published from a serving warehouse.

Two rules, checked by every path to publication (`eduq run`, `eduq publish`, the schedule, the
sensors, a manual run in Dagster):

1. the serving warehouse carries a passed audit record (embedded by promotion), and
2. the list year is publishable (``marts.dim_list_year``): its list could be computed under the
   methodology profile (a persistence profile needs the results year before its results year) and
   every result it depends on is delivered. A list that cannot be computed is not published as an
   empty list; an incomplete one waits for its missing files. Each refusal says why, in words.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb

from core import duck
from core.settings import Settings
from core.withdrawals import describe_pending
from gate.errors import ListIncomplete, ListNotComputable, ListYearNotAvailable, PublicationRefused
from gate.promote import ServingAudit, serving_audit, serving_integrity


@dataclass(frozen=True)
class ListYear:
    """One row of ``marts.dim_list_year``."""

    list_year: int
    results_year: int
    status: str  # publishable | incomplete | not_computable
    is_computable: bool
    is_publishable: bool
    missing_results_year: int | None
    reason_ru: str | None  # why there is no list, or what is missing
    n_listed: int | None

    def describe(self) -> str:
        if self.status == "not_computable":
            return (
                f"the ШНОР list {self.list_year} cannot be computed: it needs results of "
                f"{self.missing_results_year} (the persistence rule compares {self.results_year} with "
                f"{self.missing_results_year}) and the warehouse has none — there is no list for "
                f"{self.list_year}, not an empty one. {self.reason_ru or ''}".strip()
            )
        if self.status == "incomplete":
            return (
                f"the ШНОР list {self.list_year} (results {self.results_year}) is not published: the "
                f"results it depends on are incomplete — {self.reason_ru}. Deliver the missing files; "
                "the list is published by the first run after they arrive (a procedure that was not "
                "held that year goes in seeds/procedures_not_held.csv)."
            )
        return f"the ШНОР list {self.list_year} (results {self.results_year}) may be published"


def _has_table(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    return bool(
        con.execute(
            "select count(*) from information_schema.tables where table_schema = ? and table_name = ? "
            "and table_catalog = current_database()",
            [schema, table],
        ).fetchone()[0]
    )


def list_years(con: duckdb.DuckDBPyConnection) -> list[ListYear]:
    """Every list year the warehouse knows, oldest first (none when it has no dim_list_year)."""
    if not _has_table(con, "marts", "dim_list_year"):
        return []
    rows = con.execute(
        """select list_year, results_year, list_status, is_computable, is_publishable,
                  missing_results_year, coalesce(not_computable_reason_ru, incomplete_reason_ru), n_listed
           from marts.dim_list_year order by list_year"""
    ).fetchall()
    return [ListYear(*row) for row in rows]


def computed_list_years(con: duckdb.DuckDBPyConnection) -> list[int]:
    """List years whose list exists (computed, complete or not)."""
    return [y.list_year for y in list_years(con) if y.is_computable]


def publishable_list_years(con: duckdb.DuckDBPyConnection) -> list[int]:
    return [y.list_year for y in list_years(con) if y.is_publishable]


def require_publishable(con: duckdb.DuckDBPyConnection, list_year: int) -> ListYear:
    """The list year if it may be published; else the refusal, saying why."""
    known = {y.list_year: y for y in list_years(con)}
    year = known.get(list_year)
    if year is None:
        computed = [str(y) for y, v in known.items() if v.is_computable]
        raise ListYearNotAvailable(
            f"the serving warehouse has no ШНОР list for {list_year} (the list of year Y is built on "
            f"results of year Y-1); lists available: {', '.join(computed) or 'none'}"
        )
    if not year.is_computable:
        raise ListNotComputable(year.describe())
    if not year.is_publishable:
        raise ListIncomplete(year.describe())
    return year


def open_serving(settings: Settings) -> duckdb.DuckDBPyConnection:
    """The serving warehouse of ``settings`` opened read-only for a publication (with DuckDB's
    resources of ``settings``, core.duck). A file DuckDB cannot open at all (truncated, random
    bytes) is refused as damaged when promotion recorded another hash."""
    serving = settings.serving_db
    try:
        return duck.connect(serving, settings, read_only=True)
    except duckdb.Error as exc:
        require_intact(serving, record_required=False)
        raise PublicationRefused(
            f"{serving} cannot be opened ({exc}). Nothing was published. `eduq rebuild` rebuilds "
            "the warehouse from the raw archive."
        ) from exc


def require_intact(serving: Path, record_required: bool = True) -> None:
    """The serving file must be byte for byte what promotion wrote (its hash in serving.json), and
    no file withdrawn since its build (core.withdrawals) may be in it. ``record_required=False``
    (before the file is opened): a file without any promotion record is left to
    :func:`require_audited`, which says whether it carries an audit at all."""
    problem = serving_integrity(serving, record_required) or describe_pending(serving)
    if problem is not None:
        raise PublicationRefused(f"{problem}. Nothing was published.")


def require_audited(con: duckdb.DuckDBPyConnection, serving: Path) -> ServingAudit:
    """The serving warehouse must carry a passed audit record, and be the file promotion wrote."""
    try:
        audit = serving_audit(con)
    except duckdb.Error as exc:  # a damaged file may open and fail on its first read
        require_intact(serving, record_required=False)
        raise PublicationRefused(
            f"{serving} cannot be read ({exc}). Nothing was published. `eduq rebuild` rebuilds the "
            "warehouse from the raw archive."
        ) from exc
    if audit is None:
        raise PublicationRefused(
            f"{serving} carries no audit record, so it was not promoted by an audited build (it may have been "
            "copied by hand). Nothing was published. Run the job nightly_load (`eduq run`) to audit and promote."
        )
    if not audit.passed:
        raise PublicationRefused(
            f"{serving} carries a failed audit (build {audit.build_id}, {audit.errors_failed} error-level "
            "check(s) failed). Nothing was published. Fix the data and run the job nightly_load again."
        )
    require_intact(serving)
    return audit
