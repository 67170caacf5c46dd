"""Small-number protection: no figure about fewer than ``EDUQ_SMALL_NUMBER_MIN`` pupils (default 5)
leaves the centre.

**The rule, once.** A published cell that describes a group of pupils — a count of failing results, a
share, a dynamics type, an index computed from a school's social passport — is suppressed when the
group has 1 to ``min_n − 1`` pupils (a group of 0 reveals nothing: the figure is empty anyway). Which
cell describes which group is declared once, in the seed ``small_number_protection`` (mart, column,
count column; ``reference.small_number_protection`` in the warehouse, so the declaration travels with
the audited build). A suppressed number or boolean becomes empty (NULL; «<5» in CSV files), a
suppressed text becomes «скрыто: менее 5 участников», and the row gets
``is_small_number_suppressed = true``. The counts themselves stay published: a procedure with 3
participants says N = 3, not what they scored.

**Applied in one place.** Every publication reads the serving warehouse through
:func:`open_published`: an in-memory DuckDB with the serving file attached read-only, whose schemas
hold one view per table of the serving file — the declared marts through the rule, everything else as
it is. The ШНОР list, the marts files, the PostgreSQL marts, the regional report and the school cards
query these views with their usual SQL, so none of them can publish an exact small figure by mistake.

**The ШНОР list** names a procedure only when it has at least ``min_participants`` participants (the
methodology profile; 5 in every shipped profile, 10 in the strict one), and its cluster measure
pools only such procedures; :func:`open_published` refuses every publication when the profile's
``min_participants`` is below ``min_n`` (the list would show the failure share of a smaller group).

**The serving warehouse keeps exact values**: it is the centre's own, opened read-only by analysts and
BI tools on the centre's machines (docs/reliability.md).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from core import duck
from core.duck import quote_identifier as _quote
from core.settings import Settings
from gate.publishable import require_intact
from publishing.errors import PublicationRefused
from publishing.mart_catalog import Mart, MartColumn, read_marts

FLAG_COLUMN = "is_small_number_suppressed"
FLAG_DESCRIPTION = (
    "Защита малых чисел: в строке скрыты значения о группе менее чем из N обучающихся "
    "(EDUQ_SMALL_NUMBER_MIN, по умолчанию 5; seed small_number_protection). "
    "True when a figure of this row about fewer than N pupils was suppressed."
)
SERVING_CATALOG = "serving"
PROTECTION_TABLE = "small_number_protection"  # schema reference (seed)
RULES_TABLE = "publication_rules"  # main schema of the in-memory catalog
SKIPPED_SCHEMAS = ("information_schema", "pg_catalog")


def number_mark(min_n: int) -> str:
    """What a suppressed number shows where a text can stand (CSV, report, cards): «<5»."""
    return f"<{min_n}"


def text_mark(min_n: int) -> str:
    """What a suppressed text shows: «скрыто: менее 5 участников»."""
    return f"скрыто: менее {min_n} участников"


@dataclass(frozen=True)
class Protection:
    """The protected columns of one mart: column -> the counts that suppress it."""

    mart: str
    columns: Mapping[str, tuple[str, ...]]

    @property
    def counts(self) -> tuple[str, ...]:
        return tuple(sorted({c for counts in self.columns.values() for c in counts}))


def is_small(count: str, min_n: int) -> str:
    """SQL: the count ``count`` is a small group (1 .. min_n − 1), never NULL."""
    return f"coalesce({_quote(count)} between 1 and {int(min_n) - 1}, false)"


def suppressed_when(counts: tuple[str, ...], min_n: int) -> str:
    return "(" + " or ".join(is_small(c, min_n) for c in counts) + ")"


def projection(columns: list[tuple[str, str]], protection: Protection | None, min_n: int) -> str:
    """The select list of a published mart: ``columns`` (name, DuckDB type) with the rule applied to
    the protected ones, and the flag column (when the mart has protected columns)."""
    if protection is None:
        return ", ".join(_quote(name) for name, _ in columns)
    out = []
    for name, data_type in columns:
        counts = protection.columns.get(name)
        if not counts:
            out.append(_quote(name))
            continue
        hidden = duck.quote_literal(text_mark(min_n)) if data_type == "VARCHAR" else "null"
        out.append(
            f"case when {suppressed_when(counts, min_n)} then {hidden} else {_quote(name)} end "
            f"as {_quote(name)}"
        )
    out.append(f"{suppressed_when(protection.counts, min_n)} as {FLAG_COLUMN}")
    return ", ".join(out)


def read_protections(con: duckdb.DuckDBPyConnection, catalog: str) -> dict[str, Protection]:
    """The declaration of the warehouse attached as ``catalog``, by mart."""
    rows = con.execute(
        f"""select mart_name, column_name, list(count_column order by count_column)
            from {_quote(catalog)}.reference.{PROTECTION_TABLE}
            group by mart_name, column_name order by mart_name, column_name"""
    ).fetchall()
    by_mart: dict[str, dict[str, tuple[str, ...]]] = {}
    for mart, column, counts in rows:
        by_mart.setdefault(mart, {})[column] = tuple(counts)
    return {mart: Protection(mart, columns) for mart, columns in by_mart.items()}


def declaration_problems(
    protections: Mapping[str, Protection], mart_columns: Mapping[str, list[str]]
) -> list[str]:
    """Declared marts or columns that the warehouse does not have (the rule would protect nothing)."""
    problems = []
    for mart, protection in sorted(protections.items()):
        names = set(mart_columns.get(mart, ()))
        if not names:
            problems.append(f"marts.{mart} does not exist")
            continue
        for column in sorted(set(protection.columns) | set(protection.counts)):
            if column not in names:
                problems.append(f"marts.{mart} has no column {column}")
    return problems


def _table_columns(con: duckdb.DuckDBPyConnection, catalog: str) -> dict[tuple[str, str], list]:
    rows = con.execute(
        """select schema_name, table_name, column_name, data_type from duckdb_columns()
           where database_name = ? order by schema_name, table_name, column_index""",
        [catalog],
    ).fetchall()
    out: dict[tuple[str, str], list] = {}
    for schema, table, column, data_type in rows:
        out.setdefault((schema, table), []).append((column, data_type))
    return out


def require_list_protected(con: duckdb.DuckDBPyConnection, catalog: str, min_n: int) -> None:
    """The ШНОР list shows a procedure's failure share only for procedures with at least
    ``min_participants`` participants: that must not be a group smaller than ``min_n``."""
    found = con.execute(
        f"select min(min_participants) from {_quote(catalog)}.marts.dim_methodology_profile"
    ).fetchone()[0]
    if found is not None and int(found) < min_n:
        raise PublicationRefused(
            f"the methodology profile counts procedures with {found} or more participants for the "
            f"ШНОР list, fewer than the small-number minimum {min_n} (EDUQ_SMALL_NUMBER_MIN): the "
            "list, the marts and the cards would show the failure share of fewer than "
            f"{min_n} pupils. Nothing was published. Use a profile whose min_participants is at "
            f"least {min_n}, or set EDUQ_SMALL_NUMBER_MIN={found} if that is the centre's rule."
        )


def attach_published(con: duckdb.DuckDBPyConnection, serving: Path, min_n: int) -> None:
    """Attach ``serving`` read-only to the in-memory connection ``con`` and create, in ``con``'s
    own catalog, a view of every table of it — the declared marts through the rule."""
    try:
        con.execute(
            f"attach '{str(serving).replace(chr(39), chr(39) * 2)}' as {SERVING_CATALOG} "
            "(read_only)"
        )
    except duckdb.Error as exc:  # truncated, random bytes: refused as damaged
        require_intact(serving, record_required=False)
        raise PublicationRefused(
            f"{serving} cannot be opened ({exc}). Nothing was published. `eduq rebuild` rebuilds "
            "the warehouse from the raw archive."
        ) from exc
    try:
        _create_views(con, min_n, serving)
    except duckdb.Error as exc:  # a damaged file may attach and fail on its first read
        require_intact(serving, record_required=False)
        raise PublicationRefused(
            f"{serving} cannot be read ({exc}). Nothing was published. `eduq rebuild` rebuilds "
            "the warehouse from the raw archive."
        ) from exc


def _create_views(con: duckdb.DuckDBPyConnection, min_n: int, serving: Path) -> None:
    tables = _table_columns(con, SERVING_CATALOG)
    has_marts = any(schema == "marts" for schema, _ in tables)
    protections: dict[str, Protection] = {}
    if has_marts:
        if ("reference", PROTECTION_TABLE) not in tables:
            require_intact(serving, record_required=False)  # a damaged file says so first
            raise PublicationRefused(
                f"{serving} has no reference.{PROTECTION_TABLE} (which published figures describe "
                "small groups of pupils): it was built by an older eduq. Nothing was published; "
                "`eduq run` builds and promotes a warehouse that has it."
            )
        protections = read_protections(con, SERVING_CATALOG)
        marts = {t: [c for c, _ in cols] for (s, t), cols in tables.items() if s == "marts"}
        problems = declaration_problems(protections, marts)
        if problems:
            raise PublicationRefused(
                "the small-number protection (seed small_number_protection) names what the serving "
                f"warehouse does not have: {'; '.join(problems)}. Nothing was published: fix the "
                "seed and run `eduq run`."
            )
        if "fct_shnor_list" in marts:
            if "dim_methodology_profile" not in marts:
                raise PublicationRefused(
                    f"{serving} has no marts.dim_methodology_profile: the minimum number of "
                    "participants of the ШНОР list cannot be checked. Nothing was published."
                )
            require_list_protected(con, SERVING_CATALOG, min_n)
    schemas = sorted({s for s, _ in tables if s not in SKIPPED_SCHEMAS})
    for schema in schemas:
        if schema != "main":
            con.execute(f"create schema {_quote(schema)}")
    for (schema, table), columns in sorted(tables.items()):
        if schema in SKIPPED_SCHEMAS:
            continue
        rule = protections.get(table) if schema == "marts" else None
        con.execute(
            f"create view {_quote(schema)}.{_quote(table)} as select "
            f"{projection(columns, rule, min_n)} "
            f"from {SERVING_CATALOG}.{_quote(schema)}.{_quote(table)}"
        )
    con.execute(f"create table main.{RULES_TABLE} as select {int(min_n)} as small_number_min")


@contextlib.contextmanager
def open_published(
    serving: Path,
    min_n: int,
    settings: Settings | None = None,
    *,
    config: Mapping[str, str] | None = None,
) -> Iterator[duckdb.DuckDBPyConnection]:
    """The serving warehouse as publications may read it (see the module docstring), in a database
    with DuckDB's resources of ``settings`` (or ``config``; core.duck)."""
    con = duck.connect(settings=settings, config=config)
    try:
        attach_published(con, serving, min_n)
        yield con
    finally:
        con.close()


def small_number_min(con: duckdb.DuckDBPyConnection) -> int | None:
    """The minimum of the published connection ``con`` (None: ``con`` is not one)."""
    try:
        row = con.execute(f"select small_number_min from main.{RULES_TABLE}").fetchone()
    except duckdb.CatalogException:
        return None
    return int(row[0]) if row else None


def published_protections(con: duckdb.DuckDBPyConnection) -> dict[str, Protection]:
    """The declaration of the serving warehouse behind the published connection ``con``."""
    return read_protections(con, SERVING_CATALOG)


def mark_csv(batch: pa.RecordBatch, protection: Protection | None, min_n: int) -> pa.RecordBatch:
    """A batch of a published mart as its CSV shows it: a suppressed number or boolean as «<5»
    (the CSV's text then; the datapackage declares «<5» a missing value). Texts already say why."""
    if protection is None:
        return batch
    names = batch.schema.names
    arrays = list(batch.columns)
    for name, counts in protection.columns.items():
        i = names.index(name)
        if pa.types.is_string(arrays[i].type) or pa.types.is_large_string(arrays[i].type):
            continue
        small = None
        for count in counts:
            values = batch.column(names.index(count))
            hit = pc.fill_null(pc.and_(pc.greater_equal(values, 1), pc.less(values, min_n)), False)
            small = hit if small is None else pc.or_(small, hit)
        arrays[i] = pc.if_else(small, number_mark(min_n), pc.cast(arrays[i], pa.string()))
    return pa.RecordBatch.from_arrays(arrays, names=names)


def published_mart(mart: Mart, protection: Protection | None, min_n: int) -> Mart:
    """``mart`` as a publication shows it: a protected column may be empty and its description says
    when (datapackage.json, the PostgreSQL comments), the flag column comes last."""
    if protection is None:
        return mart
    columns = tuple(
        replace(
            c,
            nullable=True,
            description=f"{c.description} {describe_protection(protection, c.name, min_n)}".strip(),
        )
        if c.name in protection.columns
        else c
        for c in mart.columns
    )
    return replace(
        mart, columns=(*columns, MartColumn(FLAG_COLUMN, "BOOLEAN", False, FLAG_DESCRIPTION))
    )


def read_published_marts(
    con: duckdb.DuckDBPyConnection, manifest: Path
) -> list[tuple[Mart, Protection | None]]:
    """Every public mart of the published connection ``con`` as a publication shows it, with its
    protection (None: nothing in it describes a group of pupils)."""
    protections = published_protections(con)
    min_n = small_number_min(con) or 0
    return [
        (published_mart(m, protections.get(m.name), min_n), protections.get(m.name))
        for m in read_marts(con, manifest, database=SERVING_CATALOG)
    ]


def csv_schema(schema: pa.Schema, protection: Protection | None) -> pa.Schema:
    """The schema of :func:`mark_csv`'s batches: protected numbers and booleans become texts."""
    if protection is None:
        return schema
    fields = [f.with_type(pa.string()) if f.name in protection.columns else f for f in schema]
    return pa.schema(fields, metadata=schema.metadata)


def describe_protection(protection: Protection, column: str, min_n: int) -> str:
    """The sentence a protected column's documentation gets (datapackage.json, docs)."""
    counts = ", ".join(protection.columns[column])
    return (
        f"Скрыто («{number_mark(min_n)}» или «{text_mark(min_n)}»), когда {counts} от 1 до "
        f"{min_n - 1} (защита малых чисел). Suppressed when {counts} is 1 to {min_n - 1}."
    )
