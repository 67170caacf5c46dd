"""Publish the public marts of the serving warehouse to PostgreSQL, where BI tools read them.

Only a serving warehouse that carries a passed audit is published, and only its schema ``marts``
(no raw, staging or intermediate data, no participant codes). Readers never see a half-published
state:

1. every mart is loaded with ``COPY`` into a new schema ``marts_next`` in one transaction, with
   its primary key, NOT NULL columns, the dbt descriptions as comments, statistics (``ANALYZE``)
   and ``SELECT`` granted to the read-only BI role; the table ``_publication`` says which audited
   build it holds;
2. one short transaction swaps it in: it locks the current marts (``ACCESS EXCLUSIVE``, waiting at
   most a fraction of a second and retrying, so it never deadlocks a reader), renames ``marts`` to
   ``marts_previous`` and ``marts_next`` to ``marts``, and lets the BI role use the new schema. A
   query that started before sees the old marts to its end; a query that has to wait for the lock
   resolves its tables again after the swap and sees only the new ones;
3. the previous marts are dropped.

The same audited build is not published twice (``unchanged``), unless forced or published under
another small-number minimum. The marts are read through the small-number protection
(publishing/small_numbers.py): a figure about fewer than ``EDUQ_SMALL_NUMBER_MIN`` pupils is NULL
(a text says «скрыто: менее 5 участников») and the row's ``is_small_number_suppressed`` is true; the
serving warehouse keeps the exact values.
"""

from __future__ import annotations

import contextlib
import io
import re
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import duckdb
import pyarrow.csv as pacsv

from core.duck import quote_identifier
from core.settings import DEFAULT_SMALL_NUMBER_MIN, Settings
from gate.promote import ServingAudit, serving_audit
from publishing.errors import PublicationRefused, PublishingError
from publishing.mart_catalog import PUBLIC_SCHEMA, Mart
from publishing.small_numbers import open_published, read_published_marts

LOADING_SCHEMA = "marts_next"
PREVIOUS_SCHEMA = "marts_previous"
PUBLICATION_TABLE = "_publication"
ADVISORY_LOCK = 7_302_118_001  # one publisher at a time per database
BATCH_ROWS = 100_000
SWAP_LOCK_TIMEOUT = "200ms"
SWAP_ATTEMPTS = 100

# DuckDB type -> PostgreSQL type; anything else is published as text (DuckDB's text form)
PG_TYPES = {
    "VARCHAR": "text",
    "BOOLEAN": "boolean",
    "TINYINT": "smallint",
    "SMALLINT": "smallint",
    "INTEGER": "integer",
    "BIGINT": "bigint",
    "UTINYINT": "smallint",
    "USMALLINT": "integer",
    "UINTEGER": "bigint",
    "UBIGINT": "numeric(20)",
    "HUGEINT": "numeric(39)",
    "FLOAT": "real",
    "DOUBLE": "double precision",
    "DATE": "date",
    "TIME": "time",
    "TIMESTAMP": "timestamp",
    "TIMESTAMP WITH TIME ZONE": "timestamptz",
    "UUID": "uuid",
    "JSON": "jsonb",
    "INTERVAL": "interval",
}
DECIMAL = re.compile(r"^DECIMAL\((\d+),\s*(\d+)\)$")


class PostgresUnavailable(PublishingError):
    """The PostgreSQL server of the marts cannot be reached or refused the publication."""


@dataclass(frozen=True)
class PgTarget:
    """Where the marts go: a libpq connection string, and how to name it without its password."""

    conninfo: str
    label: str
    source: str  # EDUQ_PG_URL | project cluster


@dataclass
class PgPublication:
    status: str  # published | unchanged
    build_id: str
    target: str
    tables: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    load_seconds: float = 0.0
    swap_seconds: float = 0.0
    swap_attempts: int = 0
    warnings: list[str] = field(default_factory=list)

    def render(self) -> str:
        if self.status == "unchanged":
            return f"PostgreSQL marts ({self.target}): build {self.build_id} already published"
        rows = sum(self.tables.values())
        return (
            f"PostgreSQL marts ({self.target}): published build {self.build_id}, {len(self.tables)} "
            f"tables, {rows} rows in {self.seconds:.1f} s (load {self.load_seconds:.1f} s, swap "
            f"{self.swap_seconds * 1000:.0f} ms)"
        )


# --- where ---------------------------------------------------------------------------------------


def read_credentials(pg_dir: Path) -> dict[str, str]:
    """The generated logins of the project's cluster (``scripts/postgres.sh`` writes them)."""
    path = pg_dir / "credentials"
    out = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        key, sep, value = line.partition("=")
        if sep:
            out[key.strip()] = value.strip()
    return out


def project_cluster_running(pg_dir: Path) -> bool:
    return (pg_dir / "data" / "postmaster.pid").exists() and (pg_dir / "credentials").exists()


def _url(user: str, password: str, port: int, database: str) -> str:
    return (
        f"postgresql://{quote(user, safe='')}:{quote(password, safe='')}"
        f"@127.0.0.1:{port}/{quote(database, safe='')}"
    )


def _label(conninfo: str) -> str:
    return re.sub(r"//([^:/@]+):[^@]*@", r"//\1:***@", conninfo)


def resolve_target(settings: Settings) -> tuple[PgTarget | None, str]:
    """The PostgreSQL server to publish to, or None and why there is none."""
    if settings.pg_url:
        return PgTarget(settings.pg_url, _label(settings.pg_url), "EDUQ_PG_URL"), ""
    if not project_cluster_running(settings.pg_dir):
        return None, (
            f"no PostgreSQL configured: EDUQ_PG_URL is not set and the project's cluster "
            f"({settings.pg_dir}) is not running (start it with `make postgres`)"
        )
    creds = read_credentials(settings.pg_dir)
    url = _url(
        creds["OWNER_USER"],
        creds["OWNER_PASSWORD"],
        settings.pg_port,
        creds.get("DATABASE", "eduq"),
    )
    return PgTarget(url, _label(url), "project cluster"), ""


def reader_url(settings: Settings) -> str:
    """The read-only login of the project's cluster (BI tools, Superset, tests)."""
    creds = read_credentials(settings.pg_dir)
    return _url(
        creds["BI_USER"], creds["BI_PASSWORD"], settings.pg_port, creds.get("DATABASE", "eduq")
    )


def connect(conninfo: str, application: str = "eduq"):
    import psycopg

    try:
        return psycopg.connect(
            conninfo, autocommit=True, connect_timeout=5, application_name=application
        )
    except psycopg.OperationalError as exc:
        raise PostgresUnavailable(
            f"cannot connect to PostgreSQL at {_label(conninfo)}: {str(exc).strip()}. Start the "
            "project's server with `make postgres`, or check EDUQ_PG_URL."
        ) from exc


# --- what ----------------------------------------------------------------------------------------


def pg_type(duckdb_type: str) -> str:
    decimal = DECIMAL.match(duckdb_type)
    if decimal:
        return f"numeric({decimal.group(1)},{decimal.group(2)})"
    return PG_TYPES.get(duckdb_type, "text")


def select_expression(column: str, duckdb_type: str) -> str:
    quoted = quote_identifier(column)
    if duckdb_type in PG_TYPES or DECIMAL.match(duckdb_type):
        return quoted
    return f"cast({quoted} as varchar) as {quoted}"


def require_passed_audit(con: duckdb.DuckDBPyConnection, serving: Path) -> ServingAudit:
    from core.withdrawals import describe_pending

    withdrawn = describe_pending(serving)
    if withdrawn is not None:
        raise PublicationRefused(f"{withdrawn}. Nothing was published to PostgreSQL.")
    audit = serving_audit(con)
    if audit is None or not audit.passed:
        raise PublicationRefused(
            f"{serving} carries no passed audit record, so nothing was published to PostgreSQL. "
            "Run the job nightly_load (`eduq run`) to audit and promote a warehouse."
        )
    return audit


def _ident(name: str):
    from psycopg import sql

    return sql.Identifier(name)


def _published_build(pg) -> tuple[str, str, int | None] | None:
    row = pg.execute(
        "select to_regclass(%s) is not null", [f"{PUBLIC_SCHEMA}.{PUBLICATION_TABLE}"]
    ).fetchone()
    if not row[0]:
        return None
    from psycopg import sql

    cur = pg.execute(
        sql.SQL("select * from {}.{}").format(_ident(PUBLIC_SCHEMA), _ident(PUBLICATION_TABLE))
    )
    got = cur.fetchone()
    if not got:
        return None
    row = dict(zip([d.name for d in cur.description], got))
    return (row["build_id"], row["candidate_sha256"], row.get("small_number_min"))


def _role_exists(pg, role: str) -> bool:
    return bool(pg.execute("select 1 from pg_roles where rolname = %s", [role]).fetchone())


def _tables_of(pg, schema: str) -> list[str]:
    rows = pg.execute(
        "select tablename from pg_tables where schemaname = %s order by tablename", [schema]
    ).fetchall()
    return [r[0] for r in rows]


@contextlib.contextmanager
def _publisher_lock(pg) -> Iterator[None]:
    pg.execute("select pg_advisory_lock(%s)", [ADVISORY_LOCK])
    try:
        yield
    finally:
        pg.execute("select pg_advisory_unlock(%s)", [ADVISORY_LOCK])


def _copy_mart(pg, duck: duckdb.DuckDBPyConnection, mart: Mart, batch_rows: int) -> int:
    from psycopg import sql
    from psycopg.copy import QueuedLibpqWriter

    select = ", ".join(select_expression(c.name, c.data_type) for c in mart.columns)
    reader = duck.sql(f'select {select} from {PUBLIC_SCHEMA}."{mart.name}"').to_arrow_reader(
        batch_rows
    )
    # freeze: the table was created in this transaction, so its rows are written frozen and
    # all-visible (no later vacuum needed)
    statement = sql.SQL("copy {}.{} ({}) from stdin (format csv, freeze)").format(
        _ident(LOADING_SCHEMA),
        _ident(mart.name),
        sql.SQL(", ").join(_ident(c.name) for c in mart.columns),
    )
    rows = 0
    options = pacsv.WriteOptions(include_header=False, batch_size=batch_rows)
    # a writer thread sends one batch while the next is being converted
    with pg.cursor() as cur, cur.copy(statement, writer=QueuedLibpqWriter(cur)) as copy:
        for batch in reader:
            if batch.num_rows == 0:
                continue
            buffer = io.BytesIO()
            pacsv.write_csv(batch, buffer, options)
            copy.write(buffer.getvalue())
            rows += batch.num_rows
    return rows


def _create_mart(pg, mart: Mart) -> None:
    """The table, empty. Text columns of the primary key are codes (school, procedure, group,
    municipality): they compare byte for byte (collation C), which builds the key's index several
    times faster than the database's Russian collation; names keep the Russian order. The marts are
    written once and replaced whole, so autovacuum has nothing to do on them (and its locks would
    only delay the swap)."""
    from psycopg import sql

    columns = [
        sql.SQL("{} {}{}{}").format(
            _ident(c.name),
            sql.SQL(pg_type(c.data_type)),
            sql.SQL(
                ' collate "C"'
                if c.name in mart.primary_key and pg_type(c.data_type) == "text"
                else ""
            ),
            sql.SQL("" if c.nullable else " not null"),
        )
        for c in mart.columns
    ]
    pg.execute(
        sql.SQL("create table {}.{} ({}) with (autovacuum_enabled = false)").format(
            _ident(LOADING_SCHEMA), _ident(mart.name), sql.SQL(", ").join(columns)
        )
    )


def _finish_mart(pg, mart: Mart) -> None:
    """Primary key (built once, after the load), comments, statistics."""
    from psycopg import sql

    table = sql.SQL("{}.{}").format(_ident(LOADING_SCHEMA), _ident(mart.name))
    if mart.primary_key:
        pg.execute(
            sql.SQL("alter table {} add constraint {} primary key ({})").format(
                table,
                _ident(f"{mart.name}_pkey"),
                sql.SQL(", ").join(_ident(k) for k in mart.primary_key),
            )
        )
    if mart.description:
        pg.execute(
            sql.SQL("comment on table {} is {}").format(table, sql.Literal(mart.description))
        )
    for column in mart.columns:
        if column.description:
            pg.execute(
                sql.SQL("comment on column {}.{} is {}").format(
                    table, _ident(column.name), sql.Literal(column.description)
                )
            )
    pg.execute(sql.SQL("analyze {}").format(table))


def _write_publication(pg, audit: ServingAudit, tables: dict[str, int], min_n: int) -> None:
    from psycopg import sql

    table = sql.SQL("{}.{}").format(_ident(LOADING_SCHEMA), _ident(PUBLICATION_TABLE))
    pg.execute(
        sql.SQL(
            """create table {} (
                build_id text not null primary key, candidate_sha256 text not null,
                methodology_profile text, audited_at timestamptz, promoted_at timestamptz,
                published_at timestamptz not null, tables integer not null, rows bigint not null,
                small_number_min integer not null)"""
        ).format(table)
    )
    pg.execute(
        sql.SQL("insert into {} values (%s, %s, %s, %s, %s, now(), %s, %s, %s)").format(table),
        [
            audit.build_id,
            audit.candidate_sha256,
            audit.methodology_profile,
            audit.audited_at,
            audit.promoted_at,
            len(tables),
            sum(tables.values()),
            min_n,
        ],
    )
    pg.execute(
        sql.SQL("comment on table {} is {}").format(
            table,
            sql.Literal(
                "Какая проверенная сборка хранилища опубликована в схеме marts (build_id — "
                "сборка, прошедшая аудит; published_at — время публикации; small_number_min — "
                "значения о группах менее чем из стольких обучающихся скрыты)."
            ),
        )
    )


def _load(
    pg,
    duck,
    marts: list[Mart],
    audit: ServingAudit,
    bi_role: str | None,
    batch_rows: int,
    min_n: int,
):
    from psycopg import sql

    tables = {}
    with pg.transaction():
        pg.execute("set local maintenance_work_mem = '256MB'")  # the primary keys' sorts
        pg.execute(sql.SQL("drop schema if exists {} cascade").format(_ident(LOADING_SCHEMA)))
        pg.execute(sql.SQL("create schema {}").format(_ident(LOADING_SCHEMA)))
        pg.execute(
            sql.SQL("comment on schema {} is {}").format(
                _ident(LOADING_SCHEMA),
                sql.Literal(
                    "Витрины хранилища eduq (ШНОР, ИСБШ, зона риска, динамика): только прошедшие "
                    "аудит сборки; заменяются целиком при каждой публикации."
                ),
            )
        )
        for mart in marts:
            _create_mart(pg, mart)
            tables[mart.name] = _copy_mart(pg, duck, mart, batch_rows)
            _finish_mart(pg, mart)
        _write_publication(pg, audit, tables, min_n)
        if bi_role:
            pg.execute(
                sql.SQL("grant select on all tables in schema {} to {}").format(
                    _ident(LOADING_SCHEMA), _ident(bi_role)
                )
            )
    return tables


def _swap(pg, bi_role: str | None, attempts: int) -> int:
    """Swap the loaded schema in; returns how many attempts it took."""
    import psycopg
    from psycopg import sql

    for attempt in range(1, attempts + 1):
        try:
            with pg.transaction():
                pg.execute(
                    sql.SQL("set local lock_timeout = {}").format(sql.Literal(SWAP_LOCK_TIMEOUT))
                )
                current = _tables_of(pg, PUBLIC_SCHEMA)
                if current:
                    pg.execute(
                        sql.SQL("lock table {} in access exclusive mode").format(
                            sql.SQL(", ").join(
                                sql.SQL("{}.{}").format(_ident(PUBLIC_SCHEMA), _ident(t))
                                for t in current
                            )
                        )
                    )
                exists = pg.execute(
                    "select 1 from pg_namespace where nspname = %s", [PUBLIC_SCHEMA]
                ).fetchone()
                if exists:
                    pg.execute(
                        sql.SQL("alter schema {} rename to {}").format(
                            _ident(PUBLIC_SCHEMA), _ident(PREVIOUS_SCHEMA)
                        )
                    )
                pg.execute(
                    sql.SQL("alter schema {} rename to {}").format(
                        _ident(LOADING_SCHEMA), _ident(PUBLIC_SCHEMA)
                    )
                )
                if bi_role:
                    pg.execute(
                        sql.SQL("grant usage on schema {} to {}").format(
                            _ident(PUBLIC_SCHEMA), _ident(bi_role)
                        )
                    )
            return attempt
        except psycopg.errors.LockNotAvailable:
            time.sleep(min(0.02 * attempt, 0.5))  # a reader holds a mart; let it finish
    raise PostgresUnavailable(
        f"could not swap the new marts in: readers held the current marts through {attempts} "
        "attempts. The new marts stay loaded in schema marts_next; publish again."
    )


def publish_marts(
    serving_db: Path,
    conninfo: str,
    manifest: Path,
    *,
    bi_role: str | None = "eduq_bi",
    force: bool = False,
    batch_rows: int = BATCH_ROWS,
    swap_attempts: int = SWAP_ATTEMPTS,
    small_number_min: int = DEFAULT_SMALL_NUMBER_MIN,
    duckdb_config: Mapping[str, str] | None = None,
) -> PgPublication:
    """Publish every public mart of ``serving_db`` to the PostgreSQL database ``conninfo``
    (see the module docstring). Refuses a serving warehouse without a passed audit.
    ``duckdb_config``: the DuckDB resources the marts are read with (core.duck.resources)."""
    from psycopg import sql

    started = time.perf_counter()
    if not serving_db.exists():
        raise PublicationRefused(f"no serving warehouse at {serving_db}: run `eduq run` first")
    label = _label(conninfo)
    # the marts as publications read them: small figures suppressed (publishing/small_numbers.py)
    with open_published(serving_db, small_number_min, config=duckdb_config) as duck:
        audit = require_passed_audit(duck, serving_db)
        marts = [mart for mart, _ in read_published_marts(duck, manifest)]
        with contextlib.closing(connect(conninfo, "eduq publish")) as pg, _publisher_lock(pg):
            warnings = []
            role = bi_role if bi_role and _role_exists(pg, bi_role) else None
            if bi_role and role is None:
                warnings.append(
                    f"role {bi_role} does not exist on {label}: BI tools have no read-only login; "
                    "create it with scripts/postgres_roles.sql"
                )
            published = _published_build(pg)
            if not force and published == (
                audit.build_id,
                audit.candidate_sha256,
                small_number_min,
            ):
                return PgPublication(
                    "unchanged",
                    audit.build_id,
                    label,
                    seconds=time.perf_counter() - started,
                    warnings=warnings,
                )
            pg.execute(sql.SQL("drop schema if exists {} cascade").format(_ident(PREVIOUS_SCHEMA)))
            loaded = time.perf_counter()
            tables = _load(pg, duck, marts, audit, role, batch_rows, small_number_min)
            swapping = time.perf_counter()
            attempts = _swap(pg, role, swap_attempts)
            swapped = time.perf_counter()
            import psycopg

            try:
                with pg.transaction():
                    pg.execute("set local lock_timeout = '30s'")
                    pg.execute(
                        sql.SQL("drop schema if exists {} cascade").format(_ident(PREVIOUS_SCHEMA))
                    )
            except psycopg.Error as exc:  # the next publication drops it
                warnings.append(f"the previous marts were not dropped yet ({exc})")
    return PgPublication(
        "published",
        audit.build_id,
        label,
        tables,
        seconds=time.perf_counter() - started,
        load_seconds=swapping - loaded,
        swap_seconds=swapped - swapping,
        swap_attempts=attempts,
        warnings=warnings,
    )


def published_build(conninfo: str) -> dict | None:
    """The row of ``marts._publication`` of a database (None if nothing was published)."""
    from psycopg import sql

    with contextlib.closing(connect(conninfo)) as pg:
        if _published_build(pg) is None:
            return None
        cur = pg.execute(
            sql.SQL("select * from {}.{}").format(_ident(PUBLIC_SCHEMA), _ident(PUBLICATION_TABLE))
        )
        names = [d.name for d in cur.description]
        return dict(zip(names, cur.fetchone()))
