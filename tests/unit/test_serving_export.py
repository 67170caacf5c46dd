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
