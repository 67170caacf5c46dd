"""ingestion.warehouse.insert_rows: rows inserted as VALUES (a few) or as unnested lists (more) give
the table that inserting them one by one gives; a refusal's words stay short."""

from __future__ import annotations

import datetime as dt

import duckdb
import pytest

from ingestion.warehouse import insert_rows

TABLE = "create table t (n bigint, x double, s varchar, d timestamp, j json, f boolean)"
INSERT = "insert into t (n, x, s, d, j, f)"


def _row(i: int) -> list:
    return [
        i if i % 3 else None,
        i / 7 if i % 2 else i,  # ints and floats in one column
        None if i % 5 == 0 else f"Школа №{i}; «кавычки», запятая",
        dt.datetime(2024, 1, 1, 12, 0, i % 60) if i % 4 else None,
        '{"a": [1, 2]}' if i % 2 else None,
        bool(i % 2),
    ]


@pytest.mark.parametrize("count", [1, 4, 5, 64, 1000])
def test_rows_land_as_inserted_one_by_one(count: int) -> None:
    rows = [_row(i) for i in range(count)]
    one_by_one = duckdb.connect()
    one_by_one.execute(TABLE)
    for row in rows:
        one_by_one.execute(f"{INSERT} values (?, ?, ?, ?, ?, ?)", row)
    together = duckdb.connect()
    together.execute(TABLE)
    insert_rows(together, INSERT, rows)
    query = "select *, rowid from t order by rowid"
    assert together.execute(query).fetchall() == one_by_one.execute(query).fetchall()


def test_a_column_of_nothing_and_no_rows() -> None:
    con = duckdb.connect()
    con.execute(TABLE)
    insert_rows(con, INSERT, [])
    insert_rows(con, INSERT, [[None] * 6] * 10)
    assert con.execute("select count(*), count(n), count(d) from t").fetchone() == (10, 0, 0)


def test_a_refused_value_is_refused_in_a_few_words() -> None:
    con = duckdb.connect()
    con.execute(TABLE)
    rows = [[i, 0.0, "x" * 80, None, "{not json" if i == 7 else None, True] for i in range(500)]
    with pytest.raises(duckdb.ConversionException) as refused:
        insert_rows(con, INSERT, rows)
    assert "not json" in str(refused.value) and len(str(refused.value)) < 700
    assert con.execute("select count(*) from t").fetchone() == (0,)
