"""Benchmark: publish country-size marts to PostgreSQL (publishing/postgres.py: COPY into a new
schema, keys, comments, ANALYZE, swap). Prints figures; not a test.

The marts are made from a built serving warehouse (the template, e.g. the demo region's): every
mart is copied ``k`` times with its school codes (and municipality codes) suffixed, so the tables
keep their real columns, types, keys and value distributions at ``k`` times the schools:

    make demo && make bench-postgres                                   # 38,000 schools
    python bench/bench_postgres.py --schools 38000 [--template FILE] [--pg-url URL] [--repeat 2]

It needs a PostgreSQL server: EDUQ_PG_URL / --pg-url, or the project's cluster (make postgres).
"""

from __future__ import annotations

import argparse
import contextlib
import math
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

import duckdb

from core.settings import load_settings
from orchestration.dbt_project import prepare_manifest
from publishing.mart_catalog import read_marts
from publishing.postgres import connect, publish_marts, resolve_target, select_expression

KEYED = ("school_id", "old_school_id", "new_school_id", "successor_school_id", "municipality_code")


def scaled_warehouse(template: Path, target: Path, copies: int) -> dict[str, int]:
    """The template's marts ``copies`` times over (codes suffixed), with its audit record and its
    small-number protection (reference.small_number_protection)."""
    con = duckdb.connect(str(target))
    try:
        con.execute(f"attach '{template}' as template (read_only)")
        con.execute("create schema marts; create schema audit; create schema reference")
        con.execute(
            "create table reference.small_number_protection as "
            "select * from template.reference.small_number_protection"
        )
        for (table,) in con.execute(
            "select table_name from duckdb_tables() where database_name = 'template' "
            "and schema_name = 'audit'"
        ).fetchall():
            con.execute(f"create table audit.{table} as select * from template.audit.{table}")
        rows = {}
        tables = con.execute(
            "select table_name from duckdb_tables() where database_name = 'template' "
            "and schema_name = 'marts' order by 1"
        ).fetchall()
        for (table,) in tables:
            ddl = con.execute(
                "select sql from duckdb_tables() where database_name = 'template' "
                "and schema_name = 'marts' and table_name = ?",
                [table],
            ).fetchone()[0]
            con.execute(ddl)  # same columns, types and constraints
            columns = [
                r[0]
                for r in con.execute(
                    "select column_name from duckdb_columns() where database_name = 'template' "
                    "and schema_name = 'marts' and table_name = ? order by column_index",
                    [table],
                ).fetchall()
            ]
            keyed = [c for c in columns if c in KEYED]
            select = ", ".join(
                f'case when "{c}" is null then null else "{c}" || \'-\' || k end'
                if c in keyed
                else f'"{c}"'
                for c in columns
            )
            times = copies if keyed else 1
            con.execute(
                f"insert into marts.{table} select {select} from template.marts.{table}, "
                f"range({times}) as copies(k)"
            )
            rows[table] = con.execute(f"select count(*) from marts.{table}").fetchone()[0]
        con.execute("checkpoint")
        return rows
    finally:
        con.close()


def duckdb_export_seconds(db: Path, manifest: Path) -> float:
    """Reading every mart as Arrow batches and writing CSV, without PostgreSQL (the client's share)."""
    import io

    import pyarrow.csv as pacsv

    started = time.perf_counter()
    with duckdb.connect(str(db), read_only=True) as con:
        for mart in read_marts(con, manifest):
            select = ", ".join(select_expression(c.name, c.data_type) for c in mart.columns)
            for batch in con.sql(f'select {select} from marts."{mart.name}"').to_arrow_reader(
                200_000
            ):
                pacsv.write_csv(batch, io.BytesIO(), pacsv.WriteOptions(include_header=False))
    return time.perf_counter() - started


def main() -> int:
    settings = load_settings()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--schools", type=int, default=38_000)
    parser.add_argument("--template", type=Path, default=settings.serving_db)
    parser.add_argument("--pg-url", help="default: EDUQ_PG_URL or the project's cluster")
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    if not args.template.exists():
        sys.exit(f"no template warehouse at {args.template}: run `make demo` first (or --template)")
    url = args.pg_url
    if url is None:
        target, why = resolve_target(settings)
        if target is None:
            sys.exit(why)
        url = target.conninfo
    with duckdb.connect(str(args.template), read_only=True) as con:
        schools = con.execute("select count(distinct school_id) from marts.dim_school").fetchone()[
            0
        ]
    copies = math.ceil(args.schools / schools)
    manifest = prepare_manifest()
    folder = Path(tempfile.mkdtemp(prefix="eduq-bench-pg-"))
    try:
        db = folder / "serving.duckdb"
        started = time.perf_counter()
        rows = scaled_warehouse(args.template, db, copies)
        built = time.perf_counter() - started
        total = sum(rows.values())
        print(
            f"marts of {schools * copies:,} schools ({schools} template schools x {copies}): "
            f"{len(rows)} tables, {total:,} rows, DuckDB file {db.stat().st_size / 1e6:.0f} MB "
            f"(made in {built:.1f} s)"
        )
        for table, n in sorted(rows.items(), key=lambda kv: -kv[1])[:5]:
            print(f"  {table:<40} {n:>12,} rows")
        export = duckdb_export_seconds(db, manifest)
        print(
            f"DuckDB -> Arrow -> CSV alone (no server): {export:.1f} s, {total / export:,.0f} rows/s"
        )
        for attempt in range(1, args.repeat + 1):
            cpu = resource.getrusage(resource.RUSAGE_SELF)
            result = publish_marts(db, url, manifest, force=True)
            used = resource.getrusage(resource.RUSAGE_SELF)
            print(
                f"publish #{attempt}: {result.seconds:.1f} s in all, load (COPY, keys, comments, "
                f"ANALYZE) {result.load_seconds:.1f} s = {total / result.load_seconds:,.0f} rows/s, "
                f"swap {result.swap_seconds * 1000:.0f} ms ({result.swap_attempts} attempt), client CPU "
                f"{used.ru_utime - cpu.ru_utime + used.ru_stime - cpu.ru_stime:.1f} s"
            )
        with contextlib.closing(connect(url)) as pg:
            size = pg.execute(
                "select sum(pg_total_relation_size(c.oid)) from pg_class as c "
                "join pg_namespace as n on n.oid = c.relnamespace "
                "where n.nspname = 'marts' and c.relkind = 'r'"
            ).fetchone()[0]
        print(f"PostgreSQL marts: {float(size) / 1e6:.0f} MB with their primary-key indexes")
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
