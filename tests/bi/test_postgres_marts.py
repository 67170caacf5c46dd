"""The marts in PostgreSQL, on a real server started by the project's script:

- after publication the PostgreSQL marts equal the DuckDB marts row for row, with their types,
  NOT NULL columns, primary keys and the dbt descriptions as comments;
- the read-only role eduq_bi reads the marts and nothing else: every denial is shown;
- a nightly run whose audit fails publishes nothing: the served marts stay as they were;
- a reader querying PostgreSQL in a loop during a whole nightly run (that publishes a corrected
  build) never errors and sees, in every single query, either the old marts or the new ones;
- a reader holding the marts delays the swap (the publisher retries) and is never deadlocked.
"""

from __future__ import annotations

import threading
import time

import duckdb
import psycopg
import pytest

from orchestration.dbt_project import MANIFEST
from publishing.mart_catalog import read_manifest_docs
from publishing.postgres import PG_TYPES, publish_marts
from tests.bi.pg_support import PgReader, duckdb_marts, fingerprint, pg_marts
from tests.integration.test_gates_support import (
    copy_home,
    correct_results,
    failed_run,
    informative_students_only,
    listed_schools,
    new_instance,
    serving_build,
)
from tests.small_numbers_scan import protected_columns

pytestmark = pytest.mark.integration

# what information_schema calls the PostgreSQL types eduq creates
PG_NAMES = {
    "text": "text",
    "boolean": "boolean",
    "smallint": "smallint",
    "integer": "integer",
    "bigint": "bigint",
    "double precision": "double precision",
    "date": "date",
    "timestamptz": "timestamp with time zone",
}


def publish(settings, cluster, **kwargs):
    return publish_marts(settings.serving_db, cluster.owner_url, MANIFEST, **kwargs)


def assert_pg_equals_duckdb(serving, cluster) -> dict[str, list[tuple]]:
    expected = duckdb_marts(serving)
    assert pg_marts(cluster.reader_url, list(expected)) == expected
    with psycopg.connect(cluster.reader_url) as con:
        tables = {
            r[0]
            for r in con.execute(
                "select table_name from information_schema.tables where table_schema = 'marts'"
            ).fetchall()
        }
    assert tables == set(expected) | {"_publication"}
    return expected


def test_pg_marts_equal_the_duckdb_marts_with_keys_and_comments(small_region, pg_cluster) -> None:
    settings = small_region.settings
    result = publish(settings, pg_cluster, force=True)
    assert result.status == "published" and result.swap_attempts == 1
    expected = assert_pg_equals_duckdb(settings.serving_db, pg_cluster)
    assert result.tables == {t: len(rows) for t, rows in expected.items()}
    docs = read_manifest_docs(MANIFEST)
    with duckdb.connect(str(settings.serving_db), read_only=True) as duck:
        columns = duck.execute(
            """select table_name, column_name, data_type, is_nullable from duckdb_columns()
               where schema_name = 'marts' order by table_name, column_index"""
        ).fetchall()
    with psycopg.connect(pg_cluster.owner_url) as con:
        pg_columns = con.execute(
            """select c.table_name, c.column_name, c.data_type, c.is_nullable = 'YES',
                      col_description(format('marts.%I', c.table_name)::regclass, c.ordinal_position)
               from information_schema.columns as c
               where c.table_schema = 'marts' and c.table_name <> '_publication'
               order by c.table_name, c.ordinal_position"""
        ).fetchall()
        keys = dict(
            con.execute(
                """select t.relname, array_agg(a.attname order by k.ord)
                   from pg_constraint as p
                   join pg_class as t on t.oid = p.conrelid
                   join pg_namespace as n on n.oid = t.relnamespace
                   cross join lateral unnest(p.conkey) with ordinality as k(attnum, ord)
                   join pg_attribute as a on a.attrelid = t.oid and a.attnum = k.attnum
                   where n.nspname = 'marts' and p.contype = 'p' and t.relname <> '_publication'
                   group by t.relname"""
            ).fetchall()
        )
        table_comments = dict(
            con.execute(
                """select c.relname, obj_description(c.oid, 'pg_class') from pg_class as c
                   join pg_namespace as n on n.oid = c.relnamespace
                   where n.nspname = 'marts' and c.relkind = 'r' and c.relname <> '_publication'"""
            ).fetchall()
        )
        published = con.execute("select build_id, tables from marts._publication").fetchone()
    assert published == (serving_build(settings), len(expected))
    # small-number protection: a protected column is nullable and its comment says when it is
    # hidden; the flag is_small_number_suppressed ends the mart
    protected = protected_columns()
    expected_columns = []
    for t, c, d, n in columns:
        hidden = c in protected.get(t, {})
        comment = docs[t].columns[c] + (" Скрыто («<5»" if hidden else "")
        expected_columns.append(
            (
                t,
                c,
                PG_NAMES[PG_TYPES[d]],
                (bool(n) or hidden) and c not in docs[t].primary_key,
                comment,
            )
        )
        last = not any(e[0] == t for e in columns[columns.index((t, c, d, n)) + 1 :])
        if last and t in protected:
            expected_columns.append(
                (t, "is_small_number_suppressed", "boolean", False, "Защита малых чисел")
            )
    assert [r[:4] for r in pg_columns] == [e[:4] for e in expected_columns]
    for row, e in zip(pg_columns, expected_columns):  # the dbt description (and the rule's note)
        note = e[4].endswith("Скрыто («<5»") or e[1] == "is_small_number_suppressed"
        assert row[4].startswith(e[4]) if note else row[4] == e[4], row
    assert keys == {t: list(d.primary_key) for t, d in docs.items() if t in expected}
    assert table_comments == {t: docs[t].description for t in expected}
    assert "Доля" in docs["rpt_risk_zone_by_municipality"].columns["risk_zone_share"]
    # the same build again: nothing to do
    assert publish(settings, pg_cluster).status == "unchanged"


DENIED = (psycopg.errors.InsufficientPrivilege, psycopg.errors.ReadOnlySqlTransaction)


def test_the_bi_role_reads_the_marts_and_nothing_else(small_region, pg_cluster) -> None:
    publish(small_region.settings, pg_cluster)
    url = pg_cluster.reader_url
    with psycopg.connect(url, autocommit=True) as con:
        listed = con.execute(
            "select count(*) from fct_shnor_list where is_shnor and list_year = 2025"
        ).fetchone()[0]
        assert listed == small_region.summary.list_size  # search_path = marts
        visible = con.execute(
            """select distinct table_schema from information_schema.columns
               where table_schema not in ('pg_catalog', 'information_schema')"""
        ).fetchall()
        assert visible == [("marts",)]
        assert not con.execute(
            """select 1 from information_schema.columns
               where column_name in ('participant_code', 'primary_score', 'test_score')"""
        ).fetchall()
        attempts = {
            "insert": "insert into marts.dim_school (school_id, year, municipality_name) values ('x', 1, 'x')",
            "update": "update marts.fct_shnor_list set is_shnor = not is_shnor",
            "delete": "delete from marts.fct_isbsh",
            "truncate": "truncate marts.rpt_shnor_by_cluster",
            "drop": "drop table marts.dim_school",
            "create in marts": "create table marts.mine (a int)",
            "create in public": "create table public.mine (a int)",
            "temporary table": "create temporary table mine (a int)",
            "new schema": "create schema mine",
            "read the loading schema": "select * from marts_next._publication",
        }
        for what, statement in attempts.items():
            with pytest.raises(
                (*DENIED, psycopg.errors.UndefinedTable, psycopg.errors.InvalidSchemaName)
            ) as denied:
                con.execute(statement)
            assert denied.type in (*DENIED, psycopg.errors.UndefinedTable), what
        # without the read-only default the privileges alone still deny every write
        con.execute("set default_transaction_read_only = off")
        for what in ("insert", "update", "delete", "truncate", "drop", "create in marts"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                con.execute(attempts[what])
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            con.execute("create temporary table mine (a int)")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            con.execute("set role eduq")
    # no other database
    other = url.rsplit("/", 1)[0] + "/postgres"
    with pytest.raises(psycopg.OperationalError, match="permission denied for database"):
        psycopg.connect(other)
    # a wrong password is refused
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(url.replace(":", "X:", 2).replace("X:", ":", 1))


def test_a_failed_audit_publishes_nothing_to_postgresql(
    small_region, region_documents, pg_configured, tmp_path_factory
) -> None:
    settings = small_region.settings
    publish(settings, pg_configured)
    tables = list(duckdb_marts(settings.serving_db))
    before = fingerprint(pg_configured.reader_url, tables)
    with psycopg.connect(pg_configured.owner_url) as con:
        published_before = con.execute("select * from marts._publication").fetchall()
    # the pipeline with EDUQ_PG_URL set
    failed = failed_run(small_region, region_documents, tmp_path_factory)
    assert "failed" in failed.message
    assert fingerprint(pg_configured.reader_url, tables) == before
    with psycopg.connect(pg_configured.owner_url) as con:
        assert con.execute("select * from marts._publication").fetchall() == published_before
        assert not con.execute(
            "select nspname from pg_namespace where nspname like 'marts_%'"
        ).fetchall()


def test_a_reader_during_a_nightly_run_never_errors_and_never_sees_a_mix(
    small_region, pg_configured, tmp_path_factory, monkeypatch
) -> None:
    from orchestration.runner import run_pipeline

    tmp = tmp_path_factory.mktemp("pg_reader")
    settings = copy_home(small_region.settings, tmp / "home", monkeypatch)
    publish(settings, pg_configured)
    old_build = serving_build(settings)
    tables = list(duckdb_marts(settings.serving_db))
    old_state = fingerprint(pg_configured.reader_url, tables)
    # a correction: one listed school's 2024 results all pass, one unlisted school's all fail
    listed = listed_schools(settings, 2025)
    eligible = informative_students_only(settings, (2023, 2024))
    passing = min(s for s in eligible if s in listed)
    failing = min(s for s in eligible if s not in listed)
    correct_results(
        small_region.landing_copy,
        settings.landing_dir / "corrections",
        2024,
        {passing: "pass", failing: "fail"},
    )
    reader = PgReader(pg_configured.reader_url, tables, tmp / "reader")
    assert reader.wait_for(lambda builds: builds == [old_build]), "the reader did not start"
    summary = run_pipeline(settings, instance=new_instance(), quiet=True)
    new_build = serving_build(settings)
    assert new_build != old_build
    assert reader.wait_for(lambda builds: new_build in builds, timeout=30)
    report = reader.stop()
    new_state = fingerprint(pg_configured.reader_url, tables)

    assert f"published build {new_build}" in summary.postgres
    assert report["errors"] == []
    states = [tuple(state) for state, _ in report["states"]]
    assert states == [old_state, new_state]  # the old marts, then the new ones, nothing between
    assert old_state[1:] != new_state[1:]  # the correction changed the marts
    assert report["queries"] > 50 and report["reconnects"] > 10
    assert_pg_equals_duckdb(settings.serving_db, pg_configured)


def test_a_reader_holding_the_marts_delays_the_swap_and_is_never_deadlocked(
    small_region, pg_cluster
) -> None:
    settings = small_region.settings
    publish(settings, pg_cluster)
    with psycopg.connect(pg_cluster.owner_url) as con:
        before = con.execute("select published_at from marts._publication").fetchone()[0]
    holder = psycopg.connect(pg_cluster.reader_url)  # one transaction, held open
    holder.execute("select count(*) from marts.dim_school").fetchone()
    outcome = {}

    def republish() -> None:
        outcome["result"] = publish(settings, pg_cluster, force=True)

    thread = threading.Thread(target=republish)
    thread.start()
    with psycopg.connect(pg_cluster.owner_url, autocommit=True) as watcher:
        deadline = time.time() + 60
        waited = False
        while time.time() < deadline and not waited:
            time.sleep(0.01)  # polling interval
            waited = bool(
                watcher.execute(
                    "select 1 from pg_stat_activity where application_name = 'eduq publish' "
                    "and wait_event_type = 'Lock'"
                ).fetchone()
            )
        assert waited, "the publisher never waited for the reader's lock"
        # the reader's transaction still reads the marts it started with, every table of them
        again = holder.execute(
            "select (select published_at from marts._publication), count(*) from marts.fct_shnor_list"
        ).fetchone()
        assert again[0] == before
        holder.commit()
        holder.close()
        thread.join(timeout=120)
        result = outcome["result"]
        assert result.status == "published" and result.swap_attempts > 1
        after = watcher.execute("select published_at from marts._publication").fetchone()[0]
        assert after > before
