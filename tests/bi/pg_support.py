"""Helpers of the PostgreSQL tests (no tests here): the marts as rows on both sides, a fingerprint
of the whole published state in one statement, and a reader process that queries PostgreSQL in a
loop."""

from __future__ import annotations

from pathlib import Path

import duckdb
import psycopg

from orchestration.dbt_project import MANIFEST
from publishing.mart_catalog import read_manifest_docs
from tests.looping_process import LoopingScript
from tests.small_numbers_scan import published_rows


def mart_keys() -> dict[str, list[str]]:
    return {name: list(docs.primary_key) for name, docs in read_manifest_docs(MANIFEST).items()}


def _order(keys: list[str]) -> str:
    return ", ".join(f'"{k}"' for k in keys)


def duckdb_marts(serving: Path) -> dict[str, list[tuple]]:
    """The marts of the serving warehouse as a publication must show them (figures about 1 to 4
    pupils suppressed, applied independently: tests/small_numbers_scan.py)."""
    keys = mart_keys()
    out = {}
    with duckdb.connect(str(serving), read_only=True) as con:
        tables = [
            r[0]
            for r in con.execute(
                "select table_name from duckdb_tables() where schema_name = 'marts' order by 1"
            ).fetchall()
        ]
        for t in tables:
            cursor = con.execute(f'select * from marts."{t}" order by {_order(keys[t])}')
            names = [d[0] for d in cursor.description]
            out[t] = published_rows(t, names, cursor.fetchall())
    return out


def pg_marts(url: str, tables: list[str]) -> dict[str, list[tuple]]:
    keys = mart_keys()
    with psycopg.connect(url) as con:
        return {
            t: con.execute(f'select * from marts."{t}" order by {_order(keys[t])}').fetchall()
            for t in tables
        }


def fingerprint_sql(tables: list[str]) -> str:
    """One statement: the published build and, for every mart, its row count and a hash of its
    rows — what one query of a BI tool sees."""
    parts = ["(select build_id from marts._publication) as build_id"]
    for t in tables:
        parts.append(
            f"(select count(*) || ':' || md5(coalesce(string_agg(x::text, '|' order by x::text), '')) "
            f'from marts."{t}" as x) as "{t}"'
        )
    return "select " + ", ".join(parts)


def fingerprint(url: str, tables: list[str]) -> tuple:
    with psycopg.connect(url) as con:
        return tuple(con.execute(fingerprint_sql(tables)).fetchone())


READER = r"""
import json, os, sys, time
import psycopg

url, sql, stop_file, status_file, report_file = sys.argv[1:6]
queries, reconnects, errors, states = 0, 0, [], []
con = None
deadline = time.time() + 900
while time.time() < deadline and not os.path.exists(stop_file):
    try:
        if con is None or queries % 5 == 0:
            if con is not None:
                con.close()
            con = psycopg.connect(url, autocommit=True, application_name="bi reader")
            reconnects += 1
        state = list(con.execute(sql).fetchone())
        if not states or states[-1][0] != state:
            states.append([state, 1])
            with open(status_file + ".tmp", "w") as fh:
                json.dump([s[0][0] for s in states], fh)
            os.replace(status_file + ".tmp", status_file)
        else:
            states[-1][1] += 1
    except Exception as exc:  # the test asserts there is none
        errors.append(f"{type(exc).__name__}: {exc}")
        try:
            con.close()
        except Exception:
            pass
        con = None
    queries += 1
    time.sleep(0.05)  # an eager dashboard; leaves the CPU to the pipeline
with open(report_file, "w") as fh:
    json.dump({"queries": queries, "reconnects": reconnects, "errors": errors, "states": states}, fh)
"""


class PgReader(LoopingScript):
    """A separate process that runs :func:`fingerprint_sql` as the BI role in a loop, reconnecting
    every five queries, and records every distinct state it saw."""

    def __init__(self, url: str, tables: list[str], folder: Path) -> None:
        super().__init__(READER, folder, [url, fingerprint_sql(tables)])

    def builds(self) -> list[str]:
        return self.status() or []
