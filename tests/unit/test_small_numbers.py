"""Small-number protection (publishing/small_numbers.py): the rule on a small hand-made warehouse, the
guard of the ШНОР list, the refusals, and the declaration (seed small_number_protection) against the
marts' .yml files. Expected values are written out by hand."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import duckdb
import pyarrow.csv as pacsv
import pytest
import yaml

from core.settings import SettingsError, load_settings
from publishing.errors import PublicationRefused
from publishing.small_numbers import (
    FLAG_COLUMN,
    Protection,
    csv_schema,
    mark_csv,
    open_published,
    small_number_min,
)

ROOT = Path(__file__).resolve().parents[2]
SEED = ROOT / "seeds" / "small_number_protection.csv"
MARTS = ROOT / "dbt_project" / "models" / "marts"

# school, N, F, share, type (a text), flagged (a boolean), N of the year before
ROWS = [
    ("s0", 0, 0, None, "none", False, None),
    ("s1", 1, 1, 1.0, "negative", True, 10),
    ("s4", 4, 2, 0.5, "positive", False, 4),
    ("s5", 5, 2, 0.4, "neutral", True, 0),
    ("sN", None, None, None, None, None, 5),
]


def serving(path: Path, min_participants: int = 5, protected: bool = True) -> Path:
    with duckdb.connect(str(path)) as con:
        con.execute("create schema marts; create schema reference; create schema meta")
        con.execute(
            "create table marts.results (school_id varchar, participants bigint, failing bigint, "
            "fail_share double, dynamics_ru varchar, is_positive boolean, prior_participants bigint)"
        )
        con.executemany("insert into marts.results values (?, ?, ?, ?, ?, ?, ?)", ROWS)
        con.execute("create table marts.schools as select 's1' as school_id, 3 as enrolment")
        con.execute("create table meta.load_log as select 1 as file_id")
        con.execute("create table marts.fct_shnor_list as select 's1' as school_id, 0.5 as measure")
        con.execute(
            f"create table marts.dim_methodology_profile as select {min_participants} "
            "as min_participants"
        )
        if protected:
            con.execute(
                "create table reference.small_number_protection "
                "(mart_name varchar, column_name varchar, count_column varchar)"
            )
            con.execute(
                """insert into reference.small_number_protection values
                ('results', 'failing', 'participants'), ('results', 'fail_share', 'participants'),
                ('results', 'dynamics_ru', 'participants'),
                ('results', 'dynamics_ru', 'prior_participants'),
                ('results', 'is_positive', 'participants'),
                ('results', 'is_positive', 'prior_participants')"""
            )
    return path


def test_the_rule_suppresses_groups_of_one_to_four_and_keeps_the_counts(tmp_path: Path) -> None:
    with open_published(serving(tmp_path / "s.duckdb"), 5) as con:
        got = con.execute("select * from marts.results order by school_id").fetchall()
        assert small_number_min(con) == 5
        untouched = con.execute("select * from marts.schools").fetchall()
        meta = con.execute("select * from meta.load_log").fetchall()
    hidden = "скрыто: менее 5 участников"
    assert got == [
        ("s0", 0, 0, None, "none", False, None, False),  # 0 pupils: nothing to reveal
        ("s1", 1, None, None, hidden, None, 10, True),
        ("s4", 4, None, None, hidden, None, 4, True),
        ("s5", 5, 2, 0.4, "neutral", True, 0, False),  # exactly 5: published
        ("sN", None, None, None, None, None, 5, False),  # no count: nothing to reveal
    ]
    assert untouched == [("s1", 3)]  # a mart without a declaration is published as it is
    assert meta == [(1,)]


def test_a_column_is_suppressed_when_any_of_its_counts_is_small(tmp_path: Path) -> None:
    path = serving(tmp_path / "s.duckdb")
    with duckdb.connect(str(path)) as con:
        con.execute("insert into marts.results values ('t', 30, 3, 0.1, 'positive', true, 2)")
    with open_published(path, 5) as con:
        got = con.execute(
            f"select failing, fail_share, dynamics_ru, is_positive, {FLAG_COLUMN} "
            "from marts.results where school_id = 't'"
        ).fetchone()
    # 30 participants this year: their figures stay; the change against 2 last year does not
    assert got == (3, 0.1, "скрыто: менее 5 участников", None, True)


def test_the_minimum_comes_from_the_setting(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("EDUQ_SMALL_NUMBER_MIN", "10")
    assert load_settings().small_number_min == 10
    with open_published(serving(tmp_path / "s.duckdb", min_participants=10), 10) as con:
        shares = con.execute(
            "select school_id, fail_share, dynamics_ru from marts.results order by 1"
        ).fetchall()
    assert shares[3] == ("s5", None, "скрыто: менее 10 участников")
    for bad in ("0", "-1", "пять", "4.5"):
        monkeypatch.setenv("EDUQ_SMALL_NUMBER_MIN", bad)
        with pytest.raises(SettingsError, match="EDUQ_SMALL_NUMBER_MIN"):
            load_settings()
    monkeypatch.delenv("EDUQ_SMALL_NUMBER_MIN")
    assert load_settings().small_number_min == 5


def test_csv_cells_say_lt5_and_keep_other_values(tmp_path: Path) -> None:
    protection = Protection(
        "results",
        {
            "failing": ("participants",),
            "fail_share": ("participants",),
            "dynamics_ru": ("participants", "prior_participants"),
            "is_positive": ("participants", "prior_participants"),
        },
    )
    with open_published(serving(tmp_path / "s.duckdb"), 5) as con:
        reader = con.sql("select * from marts.results order by school_id").to_arrow_reader()
        schema = csv_schema(reader.schema, protection)
        buffer = io.BytesIO()
        with pacsv.CSVWriter(buffer, schema) as writer:
            for batch in reader:
                writer.write_batch(mark_csv(batch, protection, 5))
    rows = list(csv.reader(io.StringIO(buffer.getvalue().decode())))
    assert rows[1:] == [
        ["s0", "0", "0", "", "none", "false", "", "false"],
        ["s1", "1", "<5", "<5", "скрыто: менее 5 участников", "<5", "10", "true"],
        ["s4", "4", "<5", "<5", "скрыто: менее 5 участников", "<5", "4", "true"],
        ["s5", "5", "2", "0.4", "neutral", "true", "0", "false"],
        ["sN", "", "", "", "", "", "5", "false"],
    ]


def test_a_profile_counting_smaller_procedures_refuses_every_publication(tmp_path: Path) -> None:
    with (
        pytest.raises(PublicationRefused, match=r"3 or more participants.*minimum 5"),
        open_published(serving(tmp_path / "s.duckdb", min_participants=3), 5),
    ):
        pass
    with open_published(serving(tmp_path / "t.duckdb", min_participants=3), 3) as con:
        assert con.execute("select count(*) from marts.fct_shnor_list").fetchone() == (1,)


def test_a_warehouse_without_the_declaration_or_with_a_wrong_one_is_refused(
    tmp_path: Path,
) -> None:
    with (
        pytest.raises(PublicationRefused, match="no reference.small_number_protection"),
        open_published(serving(tmp_path / "old.duckdb", protected=False), 5),
    ):
        pass
    path = serving(tmp_path / "s.duckdb")
    with duckdb.connect(str(path)) as con:
        con.execute(
            "insert into reference.small_number_protection values "
            "('results', 'no_such_column', 'participants'), ('gone', 'x', 'n')"
        )
    with pytest.raises(PublicationRefused) as refused, open_published(path, 5):
        pass
    assert "marts.results has no column no_such_column" in str(refused.value)
    assert "marts.gone does not exist" in str(refused.value)


def test_a_damaged_file_is_refused(tmp_path: Path) -> None:
    damaged = tmp_path / "serving.duckdb"
    damaged.write_bytes(b"not a database" * 100)
    with pytest.raises(PublicationRefused, match="cannot be opened"), open_published(damaged, 5):
        pass


def _mart_columns() -> dict[str, dict[str, str]]:
    out = {}
    for path in MARTS.glob("*.yml"):
        for model in yaml.safe_load(path.read_text(encoding="utf-8")).get("models", []):
            out[model["name"]] = {c["name"]: c.get("data_type", "") for c in model["columns"]}
    return out


def test_the_declaration_names_real_columns_and_integer_counts() -> None:
    marts = _mart_columns()
    with open(SEED, encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) > 40
    for row in rows:
        columns = marts[row["mart_name"]]
        assert row["column_name"] in columns, row
        assert columns[row["count_column"]] in ("bigint", "integer"), row
        assert row["column_name"] != row["count_column"]
    declared = {(r["mart_name"], r["column_name"]) for r in rows}
    # the figures about pupils of the marts at school grain are declared (the audit, docs/reliability.md)
    for mart, column in [
        ("fct_procedure_results", "fail_share"),
        ("fct_procedure_results", "prior_fail_share"),
        ("fct_procedure_dynamics", "dynamics_type"),
        ("fct_academic_debt", "debt_closed_share"),
        ("fct_programme_targets", "actual_value"),
        ("fct_isbsh", "disabilities_share"),
    ]:
        assert (mart, column) in declared
