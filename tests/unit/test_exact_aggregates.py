"""The macros of dbt_project/macros/exact_aggregates.sql: a sum, mean and spread of doubles that
do not depend on the order of the rows (a float sum does: the same deliveries split into files
differently gave an ИСБШ differing in the last digits, and a tie could fall the other way)."""

from __future__ import annotations

import functools
import itertools
from pathlib import Path

import duckdb
import jinja2

MACROS = Path(__file__).resolve().parents[2] / "dbt_project" / "macros" / "exact_aggregates.sql"
# a sum whose float value depends on the order: 1e16 + 1 is 1e16 in doubles
VALUES = [1e16, 1.0, -1e16, 0.1, 0.2, 1.0]


def render(sql: str) -> str:
    env = jinja2.Environment()
    macros = env.from_string(MACROS.read_text(encoding="utf-8")).module
    names = ("exact_sum", "exact_mean", "exact_stddev_pop")
    return env.from_string(sql).render({n: getattr(macros, n) for n in names})


_CON = duckdb.connect()  # one in-memory database: the table is made again for every order


@functools.cache
def _rendered(sql: str) -> str:
    return render(sql)


def _over(order: tuple[float, ...], sql: str) -> float:
    _CON.execute("create or replace table t (i integer, g integer, x double)")
    _CON.execute(
        "insert into t select * from (values "
        + ", ".join(f"({i}, 1, {x!r})" for i, x in enumerate(order))
        + ")"
    )
    return _CON.execute(_rendered(sql)).fetchall()[0][0]


def test_a_plain_float_sum_depends_on_the_order_the_exact_sum_does_not() -> None:
    orders = list(itertools.permutations(VALUES))[:120]
    plain = {_over(o, "select sum(x order by i) from t") for o in orders[:10]}
    assert len(plain) > 1, "the example really is order-dependent in doubles"
    exact = {_over(o, "select {{ exact_sum('x') }} from t") for o in orders}
    assert exact == {2.3}
    window = "select {{ exact_sum('x', over='partition by g') }} from t limit 1"
    windowed = {_over(o, window) for o in orders[:10]}
    assert windowed == {2.3}
    filtered = {
        _over(o, "select {{ exact_sum('x', filter='x < 1e15') }} from t") for o in orders[:10]
    }
    assert len(filtered) == 1


def test_mean_and_spread_are_exact_and_equal_values_have_no_spread() -> None:
    sql = """with m as (select {{ exact_mean('x') }} as mean from t)
             select {{ exact_stddev_pop('x', 'm.mean') }} from t cross join m group by m.mean"""
    with duckdb.connect() as con:
        con.execute("create table t as select 0.1 * 3 as x from range(1000)")
        assert con.execute(render(sql)).fetchone()[0] == 0.0
        con.execute("create or replace table t as select i / 7.0 as x from range(1, 100) r(i)")
        exact = con.execute(render(sql)).fetchone()[0]
        assert abs(exact - con.execute("select stddev_pop(x) from t").fetchone()[0]) < 1e-11
