"""gate/serving_export.py: the public schemas of a DuckDB 2.0 warehouse, written in storage version
v1.4.0, are read by a separate DuckDB 1.4 process (the virtual environment scripts/duckdb1_venv.sh
makes): tables with their rows, types, constraints and comments, the views over exported schemas;
nothing of the schemas left out, and a view over them is left out too."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import duckdb
import pytest

from core.files import sha256_file
from gate.serving_export import ExportFailed, export_warehouse

ROOT = Path(__file__).resolve().parents[2]
DUCKDB1_PYTHON = (
    Path(os.environ.get("EDUQ_DUCKDB1_VENV", ROOT / ".venv-duckdb1")) / "bin" / "python"
)

# run by DuckDB 1.x: prints what it reads as JSON
READER = r"""
import json, sys
import duckdb
con = duckdb.connect(sys.argv[1], read_only=True)
out = {"version": duckdb.__version__}
out["schemas"] = sorted(r[0] for r in con.execute(
    "select schema_name from duckdb_schemas() where database_name = current_database() "
    "and schema_name not in ('main', 'information_schema', 'pg_catalog')").fetchall())
out["tables"] = {f"{s}.{t}": sql for s, t, sql in con.execute(
    "select schema_name, table_name, sql from duckdb_tables() where database_name = current_database()").fetchall()}
out["views"] = sorted(f"{s}.{v}" for s, v in con.execute(
    "select schema_name, view_name from duckdb_views() where database_name = current_database() "
    "and not internal").fetchall())
out["rows"] = con.execute("select * from marts.fct order by school_id").fetchall()
out["view_rows"] = con.execute("select * from marts.listed order by 1").fetchall()
out["table_comment"] = con.execute(
    "select comment from duckdb_tables() where table_name = 'fct'").fetchone()[0]
out["column_comments"] = dict(con.execute(
    "select column_name, comment from duckdb_columns() where table_name = 'fct' and comment is not null").fetchall())
out["audit"] = con.execute("select build_id, record->>'$.passed' from audit.build").fetchall()
try:
    con.execute("insert into marts.fct values ('x', 2024, 0.1, true, 'x', date '2024-01-01')")
    out["write"] = "allowed"
except duckdb.Error as exc:
    out["write"] = type(exc).__name__
print(json.dumps(out, default=str))
"""


def read_with_duckdb1(path: Path) -> dict:
    if not DUCKDB1_PYTHON.exists():
        pytest.fail(f"no DuckDB 1.x environment at {DUCKDB1_PYTHON}: run `make setup`")
    done = subprocess.run(
        [str(DUCKDB1_PYTHON), "-c", READER, str(path)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.fixture()
def warehouse(tmp_path: Path) -> Path:
    """A small DuckDB 2.0 warehouse shaped like serving: raw (participant codes), marts with a
    key, NOT NULL, a CHECK, comments and two views (one over raw), reference, audit with JSON."""
    path = tmp_path / "serving.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute(
            "create schema raw; create schema marts; create schema reference; create schema audit"
        )
        con.execute(
            "create table raw.vpr_results (participant_code varchar, school_id varchar, mark integer)"
        )
        con.execute(
            "insert into raw.vpr_results values ('P-0001', 'sch1', 2), ('P-0002', 'sch2', 5)"
        )
        con.execute(
            """create table marts.fct (
                   school_id varchar not null, year integer not null,
                   fail_share double check (fail_share between 0 and 1), is_shnor boolean not null,
                   name varchar, as_of date, primary key (school_id, year))"""
        )
        con.execute(
            """insert into marts.fct values
                   ('sch1', 2024, 0.3, true, 'Школа № 1', date '2024-09-01'),
                   ('sch2', 2024, 1.0 / 3, false, '', null),
                   ('sch3', 2024, null, false, null, null)"""
        )
        con.execute("comment on table marts.fct is 'Результаты школ (ШНОР)'")
        con.execute("comment on column marts.fct.fail_share is 'Доля не преодолевших порог'")
        con.execute("create view marts.listed as select school_id from marts.fct where is_shnor")
        con.execute("create view marts.leaky as select participant_code from raw.vpr_results")
        con.execute("create table reference.procedures as select 'VPR_RU_5' as procedure_code")
        con.execute("create table audit.build (build_id varchar, record json)")
        con.execute("""insert into audit.build values ('b1', '{"passed": true}')""")
    return path


def test_a_duckdb_1x_process_reads_the_exported_public_schemas(
    warehouse: Path, tmp_path: Path
) -> None:
    target = tmp_path / "export.duckdb"
    result = export_warehouse(warehouse, target, ["marts", "reference", "audit"])
    assert result.storage_version == "v1.4.0"
    assert result.tables == {"audit.build": 1, "marts.fct": 3, "reference.procedures": 1}
    assert result.views == ["marts.listed"]
    assert list(result.skipped_views) == ["marts.leaky"]

    seen = read_with_duckdb1(target)
    assert seen["version"].startswith("1.4.")
    assert seen["schemas"] == ["audit", "marts", "reference"]  # no raw
    assert sorted(seen["tables"]) == ["audit.build", "marts.fct", "reference.procedures"]
    assert seen["views"] == ["marts.listed"]
    assert seen["rows"] == [
        ["sch1", 2024, 0.3, True, "Школа № 1", "2024-09-01"],
        ["sch2", 2024, 1.0 / 3, False, "", None],
        ["sch3", 2024, None, False, None, None],
    ]
    assert seen["view_rows"] == [["sch1"]]
    ddl = seen["tables"]["marts.fct"]
    assert 'PRIMARY KEY(school_id, "year")' in ddl
    assert "is_shnor BOOLEAN NOT NULL" in ddl and "CHECK((fail_share BETWEEN 0 AND 1))" in ddl
    assert seen["table_comment"] == "Результаты школ (ШНОР)"
    assert seen["column_comments"] == {"fail_share": "Доля не преодолевших порог"}
    assert seen["audit"] == [["b1", "true"]]
    assert seen["write"] != "allowed"  # opened read-only
    # the source is untouched
    with duckdb.connect(str(warehouse), read_only=True) as con:
        assert con.execute("select count(*) from raw.vpr_results").fetchone()[0] == 2


def test_the_export_writes_a_new_file_only(warehouse: Path, tmp_path: Path) -> None:
    target = tmp_path / "export.duckdb"
    target.write_bytes(b"already here")
    with pytest.raises(ExportFailed, match="already exists"):
        export_warehouse(warehouse, target, ["marts"])
    assert target.read_bytes() == b"already here"
    with pytest.raises(ExportFailed, match="not a plain identifier"):
        export_warehouse(warehouse, tmp_path / "b.duckdb", ["marts; drop table x"])
    with pytest.raises(ExportFailed, match="of the form v1.4.0"):
        export_warehouse(warehouse, tmp_path / "c.duckdb", ["marts"], storage_version="latest")
    with pytest.raises(ExportFailed, match="no warehouse"):
        export_warehouse(tmp_path / "missing.duckdb", tmp_path / "d.duckdb", ["marts"])
    assert not (tmp_path / "b.duckdb").exists() and not (tmp_path / "c.duckdb").exists()


def _source(path: Path, years: dict[int, list[tuple]], records: dict[int, str], other: str) -> None:
    """A warehouse with a year-local mart (marts.fct_y and its record
    intermediate.fct_y__built_from), another mart, a reference table and a view."""
    with duckdb.connect(str(path)) as con:
        for schema in ("marts", "intermediate", "reference"):
            con.execute(f"create schema if not exists {schema}")
        con.execute(
            """create or replace table marts.fct_y (
                   school_id varchar not null, year integer, share double, primary key (school_id, year))"""
        )
        for year, rows in years.items():
            for school, share in rows:
                con.execute("insert into marts.fct_y values (?, ?, ?)", [school, year, share])
        con.execute("comment on table marts.fct_y is 'Доли по годам'")
        con.execute("comment on column marts.fct_y.share is 'Доля'")
        con.execute(
            """create or replace table intermediate.fct_y__built_from (
                   year integer, input_fingerprint varchar, computed_at timestamp)"""
        )
        for year, at in records.items():
            con.execute(
                "insert into intermediate.fct_y__built_from values (?, ?, ?)",
                [year, f"fp{year}-{at}", f"2026-12-0{at} 01:02:03.456789"],
            )
        con.execute(f"create or replace table marts.other as select '{other}' as note")
        con.execute(
            "create or replace table reference.profiles as select 'fioko_2025' as profile_name"
        )
        con.execute(
            "create or replace view marts.high as select * from marts.fct_y where share > 0.5"
        )


def _contents(path: Path) -> dict:
    """Everything a reader sees of an exported file: tables (DDL, comments, rows), views, schemas."""
    with duckdb.connect(str(path), read_only=True) as con:
        db = "current_database()"
        tables = con.execute(
            f"select schema_name, table_name, sql, comment from duckdb_tables() where database_name = {db} "
            "order by 1, 2"
        ).fetchall()
        return {
            "schemas": con.execute(
                f"select schema_name from duckdb_schemas() where database_name = {db} and not internal order by 1"
            ).fetchall(),
            "tables": [
                (
                    s,
                    t,
                    ddl,
                    comment,
                    sorted(con.execute(f'select * from "{s}"."{t}"').fetchall(), key=repr),
                    con.execute(
                        "select column_name, comment from duckdb_columns() where database_name = "
                        f"{db} and schema_name = ? and table_name = ? order by column_index",
                        [s, t],
                    ).fetchall(),
                )
                for s, t, ddl, comment in tables
            ],
            "views": con.execute(
                f"select schema_name, view_name, sql from duckdb_views() where database_name = {db} "
                "and not internal order by 1, 2"
            ).fetchall(),
        }


def test_an_export_from_the_earlier_one_equals_an_export_from_scratch(tmp_path: Path) -> None:
    """Starting from the earlier export, the rows of the years a year-local mart recorded as before
    are kept and everything else is written again: the file holds exactly what an export from
    scratch of the same warehouse holds (tables, DDL, comments, rows, views; nothing the earlier
    file had besides: promotion's audit schema, a table gone from the source), and DuckDB 1.x reads
    it. A year recomputed (its record's time changed), a year gone, a new year, another mart
    changed: only the unchanged year's rows are kept."""
    from gate.serving_export import PreviousExport

    source = tmp_path / "candidate.duckdb"
    _source(
        source,
        {2022: [("a", 0.1), ("b", 0.2)], 2023: [("a", 0.3)], 2024: [("a", 0.6), ("b", 0.7)]},
        {2022: 1, 2023: 1, 2024: 1},
        "first",
    )
    with duckdb.connect(str(source)) as con:
        con.execute("create table marts.gone as select 1 as x")
    first = export_warehouse(source, tmp_path / "first.duckdb", ["marts", "reference"])
    assert first.year_records == {
        "marts.fct_y": {y: f"fp{y}-1@2026-12-01 01:02:03.456789" for y in (2022, 2023, 2024)}
    }
    with duckdb.connect(str(tmp_path / "first.duckdb")) as con:  # what promotion adds
        con.execute("create schema audit; create table audit.build as select 'b1' as build_id")
        con.execute("create table main.stray as select 1 as x")

    # the night: 2024 recomputed (new record), 2023 gone, 2025 new, 2022 as before; other mart changed
    _source(
        source,
        {2022: [("a", 0.1), ("b", 0.2)], 2024: [("a", 0.9)], 2025: [("c", 0.55)]},
        {2022: 1, 2024: 2, 2025: 2},
        "second",
    )
    with duckdb.connect(str(source)) as con:
        con.execute("drop table marts.gone")
        con.execute("create table marts.new as select 2 as y")
    scratch = export_warehouse(source, tmp_path / "scratch.duckdb", ["marts", "reference"])
    assert scratch.kept_rows == {}
    incremental = export_warehouse(
        source,
        tmp_path / "incremental.duckdb",
        ["marts", "reference"],
        previous=PreviousExport(
            tmp_path / "first.duckdb", first.year_records, sha256_file(tmp_path / "first.duckdb")
        ),
    )
    assert incremental.kept_rows == {"marts.fct_y": 2}  # 2022's two rows
    assert incremental.tables == scratch.tables
    assert incremental.year_records == scratch.year_records
    assert _contents(tmp_path / "incremental.duckdb") == _contents(tmp_path / "scratch.duckdb")
    assert (tmp_path / "first.duckdb").exists()  # the earlier export is left as it was
    first_seen = _contents(tmp_path / "first.duckdb")
    assert first_seen["schemas"] == [("audit",), ("marts",), ("reference",)]
    assert ("main", "stray") in {(t[0], t[1]) for t in first_seen["tables"]}

    # DuckDB 1.x reads the file written from the earlier one
    if not DUCKDB1_PYTHON.exists():
        pytest.fail(f"no DuckDB 1.x environment at {DUCKDB1_PYTHON}: run `make setup`")
    done = subprocess.run(
        [
            str(DUCKDB1_PYTHON),
            "-c",
            (
                "import duckdb, sys; c = duckdb.connect(sys.argv[1], read_only=True); "
                "print(c.execute('select count(*), round(sum(share), 6) from marts.fct_y').fetchone())"
            ),
            str(tmp_path / "incremental.duckdb"),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "(4, 1.75)"


def test_an_earlier_export_that_cannot_be_used_means_an_export_from_scratch(tmp_path: Path) -> None:
    """A starting point that is not a DuckDB file (damaged, say), or not the file expected (another
    SHA-256 than promotion recorded), is left aside: the export is written from scratch, whole."""
    from gate.serving_export import PreviousExport

    source = tmp_path / "candidate.duckdb"
    _source(source, {2024: [("a", 0.6)]}, {2024: 1}, "x")
    records = {"marts.fct_y": {2024: "fp2024-1@2026-12-01 01:02:03.456789"}}
    scratch = export_warehouse(source, tmp_path / "scratch.duckdb", ["marts", "reference"])
    broken = tmp_path / "broken.duckdb"
    broken.write_bytes(b"not a database")
    good = tmp_path / "good.duckdb"
    export_warehouse(source, good, ["marts", "reference"])
    for name, previous in [
        ("damaged", PreviousExport(broken, records, sha256_file(broken))),
        # a good export, but not the file expected (promotion recorded another SHA-256)
        ("other", PreviousExport(good, records, "0" * 64)),
    ]:
        result = export_warehouse(
            source, tmp_path / f"{name}.duckdb", ["marts", "reference"], previous=previous
        )
        assert result.kept_rows == {}, name
        assert _contents(tmp_path / f"{name}.duckdb") == _contents(tmp_path / "scratch.duckdb")
        assert scratch.tables == result.tables
