"""Read-only access to the serving warehouse: `eduq sql` refuses every writing statement before it
opens the file, and the connection it opens can write neither the warehouse nor any other file."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from core.files import sha256_file
from core.settings import load_settings
from orchestration.cli import main
from orchestration.sql_query import WritingStatementRefused, check_read_only, connect_read_only


@pytest.fixture()
def serving(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("EDUQ_HOME", str(tmp_path / "home"))
    for name in ("EDUQ_WAREHOUSE_DIR", "EDUQ_LANDING_DIR", "EDUQ_PUBLICATIONS_DIR"):
        monkeypatch.delenv(name, raising=False)
    path = tmp_path / "home" / "warehouse" / "serving.duckdb"
    path.parent.mkdir(parents=True)
    with duckdb.connect(str(path)) as con:
        con.execute("create schema marts")
        con.execute("create table marts.t as select 'sch1' as school_id, 1 as n")
    return path


WRITING = [
    "insert into marts.t values ('sch2', 2)",
    "update marts.t set n = 5",
    "delete from marts.t",
    "create table marts.x as select 1",
    "drop table marts.t",
    "alter table marts.t add column y int",
    "copy marts.t to '{out}/leak.csv'",
    "export database '{out}/dump'",
    "attach '{out}/other.duckdb' as other",
    "install httpfs",
    "load httpfs",
    "checkpoint; drop table marts.t",
    "select 1; delete from marts.t",
    "set threads = 1",
]
READING = [
    "select * from marts.t",
    "with a as (select n from marts.t) select sum(n) from a",
    "from marts.t",
    "describe marts.t",
    "show tables",
    "explain select * from marts.t",
    "values (1), (2)",
]


@pytest.mark.parametrize("query", WRITING)
def test_eduq_sql_refuses_writing_statements(
    query: str, serving: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    before = sha256_file(serving)
    out = tmp_path / "out"
    assert main(["sql", query.format(out=out)]) == 2
    err = capsys.readouterr().err
    assert "eduq sql is read-only" in err and "eduq sql только читает" in err
    assert "Traceback" not in err
    assert sha256_file(serving) == before
    assert not out.exists()


@pytest.mark.parametrize("query", READING)
def test_eduq_sql_runs_reading_statements(query: str, serving: Path) -> None:
    assert check_read_only(query) >= 1
    assert main(["sql", query]) == 0


def test_a_read_only_connection_cannot_write(serving: Path, tmp_path: Path) -> None:
    """Even past the statement check (a BI tool's own SQL), the connection refuses to write."""
    before = sha256_file(serving)
    with connect_read_only(serving, load_settings()) as con:
        for statement in (
            "insert into marts.t values ('sch2', 2)",
            "create table marts.x as select 1",
            f"copy marts.t to '{tmp_path}/leak.csv'",
            f"attach '{tmp_path}/other.duckdb' as other",
            "select * from read_csv('/etc/hostname')",
        ):
            with pytest.raises(duckdb.Error):
                con.execute(statement)
        assert con.execute("select count(*) from marts.t").fetchone() == (1,)
    # what BI tools do: read_only=True alone refuses every change of the warehouse
    with duckdb.connect(str(serving), read_only=True) as con:
        with pytest.raises(duckdb.Error, match="read-only|read only|attached in read"):
            con.execute("insert into marts.t values ('sch2', 2)")
        with pytest.raises(duckdb.Error):
            con.execute("drop table marts.t")
    assert sha256_file(serving) == before
    assert not (tmp_path / "leak.csv").exists()


def test_bad_sql_is_a_message_not_a_traceback(serving: Path, capsys) -> None:
    assert main(["sql", "selec * frm"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("Query failed:") and "Traceback" not in err
    with pytest.raises(WritingStatementRefused):
        check_read_only("   ")
