"""The marts for readers without a database, on the session's built region:

- the pipeline publishes every public mart as Parquet and CSV with a datapackage.json under
  publications/<latest list year>/marts/v1; the set validates against its datapackage (Frictionless
  Data) and, checked independently, each file holds exactly the mart's rows;
- the same marts publish nothing new; a changed mart makes v2 and leaves v1 untouched; a serving
  file without an audit record publishes nothing;
- a DuckDB 1.x process reads an export of the serving warehouse (marts, reference, audit);
- every public mart and every column is described (the dbt docs and the PostgreSQL comments come
  from these descriptions);
- without PostgreSQL the nightly run skips warehouse/postgres and says why.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import json
import shutil
import subprocess
from pathlib import Path

import dagster as dg
import duckdb
import pyarrow.parquet as pq
import pytest

from core.files import sha256_file
from orchestration.dbt_project import MANIFEST
from publishing.errors import PublicationRefused
from publishing.mart_catalog import read_manifest_docs, read_marts, undocumented
from publishing.marts_files import marts_dir, publish_marts_files, write_marts
from publishing.small_numbers import open_published, read_published_marts
from tests.integration.test_gates_support import copy_home, snapshot
from tests.small_numbers_scan import protected_columns, published_rows
from tests.unit.test_serving_export import DUCKDB1_PYTHON

pytestmark = pytest.mark.integration


def _marts(settings) -> dict[str, list[tuple]]:
    """Every table of schema marts with its rows sorted by the primary key, as a publication must
    show them: a value about 1 to 4 pupils (seeds/small_number_protection.csv) empty, a text
    «скрыто: менее 5 участников», and the flag is_small_number_suppressed last. Read and suppressed
    here, not by the code under test; the key comes from the manifest's unique_combination_of_columns
    tests."""
    manifest = json.loads(MANIFEST.read_text())
    keys = {
        n["attached_node"].split(".")[-1]: n["test_metadata"]["kwargs"]["combination_of_columns"]
        for n in manifest["nodes"].values()
        if n["resource_type"] == "test"
        and (n.get("test_metadata") or {}).get("name") == "unique_combination_of_columns"
        and n.get("attached_node")
    }
    out = {}
    with duckdb.connect(str(settings.serving_db), read_only=True) as con:
        tables = [
            r[0]
            for r in con.execute(
                "select table_name from information_schema.tables where table_schema = 'marts'"
            ).fetchall()
        ]
        for table in tables:
            order = ", ".join(f'"{k}"' for k in keys[table])
            cursor = con.execute(f"select * from marts.{table} order by {order}")
            names = [d[0] for d in cursor.description]
            out[table] = published_rows(table, names, cursor.fetchall())
    return out


def _csv_value(text: str, like: object) -> object:
    """A CSV cell read back as the type of the mart's value (empty = NULL; «<5», a suppressed value,
    = NULL too: the datapackage says so)."""
    if text in ("", "<5") and like != "":
        return None
    if isinstance(like, bool):
        return {"true": True, "false": False}[text]
    if isinstance(like, int):
        return int(text)
    if isinstance(like, float):
        return float(text)
    if isinstance(like, dt.date):
        return dt.date.fromisoformat(text)
    return text


def test_the_pipeline_publishes_every_mart_as_files_that_validate(small_region) -> None:
    import frictionless

    settings = small_region.settings
    assert "Marts files: published v1" in small_region.summary.publication.marts_files
    folder = marts_dir(settings, 2025) / "v1"
    marts = _marts(settings)
    assert len(marts) >= 17 and "fct_shnor_list" in marts
    names = sorted(p.name for p in folder.iterdir())
    assert names == sorted(
        ["datapackage.json", "manifest.json"]
        + [f"{m}.csv" for m in marts]
        + [f"{m}.parquet" for m in marts]
    )
    assert all(not (p.stat().st_mode & 0o222) for p in folder.iterdir())  # read-only

    report = frictionless.validate(str(folder / "datapackage.json"))
    assert report.valid, report.flatten(["resourceName", "rowNumber", "fieldName", "type", "note"])
    assert report.stats["tasks"] == len(marts)

    package = json.loads((folder / "datapackage.json").read_text(encoding="utf-8"))
    docs = read_manifest_docs(MANIFEST)
    for resource in package["resources"]:
        name = resource["name"]
        rows = marts[name]
        fields = resource["schema"]["fields"]
        assert resource["schema"]["primaryKey"] == list(docs[name].primary_key)
        assert resource["description"] == docs[name].description != ""
        for field in fields:  # the dbt description; a protected column's says when it is hidden
            described = docs[name].columns.get(field["name"])
            if described is None:
                assert field["name"] == "is_small_number_suppressed"
                assert field["description"].startswith("Защита малых чисел")
            elif field["name"] in protected_columns().get(name, {}):
                assert field["description"].startswith(described + " Скрыто («<5»")
            else:
                assert field["description"] == described
        # Parquet: the very rows of the mart, with their types
        assert [
            tuple(r.values()) for r in pq.read_table(folder / f"{name}.parquet").to_pylist()
        ] == rows
        # CSV: UTF-8 with BOM, ';', the header, one line per row (empty = NULL)
        raw = (folder / f"{name}.csv").read_bytes()
        assert raw.startswith("\ufeff".encode())
        lines = list(csv.reader(raw.decode("utf-8-sig").splitlines(), delimiter=";"))
        assert lines[0] == [f["name"] for f in fields]
        assert [
            [_csv_value(v, c) for v, c in zip(line, row)] for line, row in zip(lines[1:], rows)
        ] == [list(row) for row in rows]
        assert len(lines) - 1 == len(rows)

    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    # the build that published v1 (a later run with the same marts publishes nothing new)
    assert manifest["warehouse"]["build_id"] == small_region.summary.build_id
    assert manifest["checks"]["passed"]
    assert {m: v["rows"] for m, v in manifest["marts"].items()} == {
        m: len(r) for m, r in marts.items()
    }


def test_the_marts_files_are_the_same_bytes_written_one_at_a_time_or_several_at_once(
    small_region, tmp_path: Path
) -> None:
    """The marts are written several at a time (largest first); each file must be the bytes of
    writing them one after the other, and the record (rows, sizes, hashes) in the marts' order."""
    settings = small_region.settings
    written = {}
    with open_published(settings.serving_db, settings.small_number_min) as con:
        published = read_published_marts(con, MANIFEST)
        marts = [mart for mart, _ in published]
        protections = {mart.name: p for mart, p in published if p is not None}
        assert len(marts) >= 17 and protections
        for workers in (1, 3):
            folder = tmp_path / f"workers_{workers}"
            folder.mkdir()
            record = write_marts(
                con, marts, folder, protections, settings.small_number_min, workers
            )
            files = {p.name: p.read_bytes() for p in folder.iterdir()}
            written[workers] = (list(record.items()), files)
        # a mart that cannot be read stops the writing with its error, whatever the others do
        missing = dataclasses.replace(marts[0], name="no_such_mart")
        broken = tmp_path / "broken"
        broken.mkdir()
        with pytest.raises(duckdb.CatalogException, match="no_such_mart"):
            write_marts(con, [*marts, missing], broken, protections, settings.small_number_min, 3)
    one, several = written[1], written[3]
    assert [name for name, _ in one[0]] == [mart.name for mart in marts]
    assert several[0] == one[0]  # the same order, rows, sizes and hashes
    assert sorted(several[1]) == sorted(one[1]) and len(one[1]) == 2 * len(marts)
    assert all(several[1][name] == data for name, data in one[1].items())


def test_same_marts_publish_nothing_a_change_makes_v2_no_audit_publishes_nothing(
    small_region, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import frictionless

    settings = copy_home(small_region.settings, tmp_path / "home", monkeypatch)
    folder = marts_dir(settings, 2025)
    v1 = snapshot(folder / "v1")
    again = publish_marts_files(settings, 2025, MANIFEST)
    assert (again.status, again.version) == ("unchanged", 1)
    older = publish_marts_files(settings, 2024, MANIFEST)
    assert older.status == "skipped" and "latest list year (2025)" in older.message
    assert not (settings.publications_dir / "2024" / "marts").exists()

    with duckdb.connect(str(settings.serving_db)) as con:
        con.execute("update marts.rpt_shnor_by_cluster set n_supported = n_supported + 1")
    # the edit stands for a new audited build: promotion would record the file's new hash (a file
    # changed after promotion is refused as damaged: docs/reliability.md)
    state_path = settings.warehouse_dir / "serving.json"
    state = json.loads(state_path.read_text(encoding="utf-8"))
    state["serving_sha256"] = sha256_file(settings.serving_db)
    state_path.write_text(json.dumps(state), encoding="utf-8")
    changed = publish_marts_files(settings, 2025, MANIFEST)
    assert (changed.status, changed.version, changed.changed) == (
        "published",
        2,
        ["rpt_shnor_by_cluster"],
    )
    assert snapshot(folder / "v1") == v1
    manifest = json.loads((folder / "v2" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["previous_version"] == 1
    assert manifest["changed_since_previous"] == ["rpt_shnor_by_cluster"]

    # the validator does catch a broken set: a duplicated key
    broken = tmp_path / "broken"
    shutil.copytree(folder / "v2", broken)
    path = broken / "fct_shnor_list.csv"
    path.chmod(0o644)
    lines = path.read_text(encoding="utf-8-sig").splitlines()
    path.write_text("\ufeff" + "\n".join([*lines, lines[1]]) + "\n", encoding="utf-8")
    package = json.loads((broken / "datapackage.json").read_text(encoding="utf-8"))
    for resource in package["resources"]:
        resource.pop("hash"), resource.pop("bytes")
    (broken / "datapackage.json").chmod(0o644)
    (broken / "datapackage.json").write_text(json.dumps(package), encoding="utf-8")
    report = frictionless.validate(str(broken / "datapackage.json"))
    assert not report.valid
    assert {row[0] for row in report.flatten(["type"])} == {"primary-key"}

    with duckdb.connect(str(settings.serving_db)) as con:
        con.execute("drop schema audit cascade")  # a serving file copied by hand
    before = snapshot(folder)
    with pytest.raises(PublicationRefused, match="no audit record"):
        publish_marts_files(settings, 2025, MANIFEST)
    assert snapshot(folder) == before


def test_a_duckdb_1x_process_reads_an_export_of_the_serving_warehouse(
    small_region, tmp_path: Path
) -> None:
    from gate.serving_export import export_warehouse

    settings = small_region.settings
    target = tmp_path / "serving_v1.duckdb"
    result = export_warehouse(settings.serving_db, target, ["marts", "reference", "audit"])
    with duckdb.connect(str(settings.serving_db), read_only=True) as con:
        expected = {
            f"{s}.{t}": con.execute(f'select count(*) from "{s}"."{t}"').fetchone()[0]
            for s, t in con.execute(
                "select schema_name, table_name from duckdb_tables() "
                "where schema_name in ('marts', 'reference', 'audit')"
            ).fetchall()
        }
        comment = con.execute(
            "select comment from duckdb_columns() where schema_name = 'marts' "
            "and table_name = 'fct_shnor_list' and column_name = 'school_id'"
        ).fetchone()[0]
    assert result.tables == expected
    assert comment == read_manifest_docs(MANIFEST)["fct_shnor_list"].columns["school_id"]
    script = r"""
import json, sys
import duckdb
con = duckdb.connect(sys.argv[1], read_only=True)
tables = con.execute("select schema_name, table_name from duckdb_tables()").fetchall()
print(json.dumps({
    "version": duckdb.__version__,
    "rows": {f"{s}.{t}": con.execute(f'select count(*) from "{s}"."{t}"').fetchone()[0] for s, t in tables},
    "schemas": sorted({s for s, _ in tables}),
    "comment": con.execute("select comment from duckdb_columns() where table_name = 'fct_shnor_list' "
                           "and column_name = 'school_id'").fetchone()[0],
    "listed": con.execute("select count(*) from marts.fct_shnor_list where is_shnor and list_year = 2025").fetchone()[0],
}))
"""
    done = subprocess.run(
        [str(DUCKDB1_PYTHON), "-c", script, str(target)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
    assert seen["version"].startswith("1.4.")
    assert seen["rows"] == expected
    assert seen["schemas"] == ["audit", "marts", "reference"]
    assert seen["comment"] == comment
    assert seen["listed"] == small_region.summary.list_size

    # the promoted serving file itself is written in that storage version: DuckDB 1.x opens it
    with duckdb.connect(str(settings.serving_db), read_only=True) as con:
        served = {
            f"{s}.{t}": con.execute(f'select count(*) from "{s}"."{t}"').fetchone()[0]
            for s, t in con.execute(
                "select schema_name, table_name from duckdb_tables()"
            ).fetchall()
        }
    done = subprocess.run(
        [str(DUCKDB1_PYTHON), "-c", script, str(settings.serving_db)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
    assert seen["rows"] == served and seen["schemas"] == ["audit", "marts", "meta", "reference"]
    assert seen["listed"] == small_region.summary.list_size


def test_every_public_mart_and_column_is_described(small_region, tmp_path: Path) -> None:
    with duckdb.connect(str(small_region.settings.serving_db), read_only=True) as con:
        marts = read_marts(con, MANIFEST)
        assert undocumented(marts) == []
        assert all(m.primary_key for m in marts)
        # the check does find a gap: one description removed from a copy of the manifest
        manifest = json.loads(MANIFEST.read_text())
        manifest["nodes"]["model.eduq.fct_isbsh"]["columns"]["isbsh"]["description"] = " "
        manifest["nodes"]["model.eduq.rpt_shnor_by_cluster"]["description"] = ""
        gap = tmp_path / "manifest.json"
        gap.write_text(json.dumps(manifest))
        assert undocumented(read_marts(con, gap)) == [
            "fct_isbsh.isbsh: no description",
            "rpt_shnor_by_cluster: no description",
        ]


def test_without_postgresql_the_run_skips_the_postgres_marts_and_says_why(small_region) -> None:
    summary = small_region.summary
    assert summary.postgres.startswith("PostgreSQL marts: not published (no PostgreSQL configured")
    assert "make postgres" in summary.postgres
    key = dg.AssetKey(["warehouse", "postgres"])
    assert small_region.build_events, "run in the unit of work that builds the region"
    assert small_region.instance.get_latest_materialization_event(key) is None
    from orchestration.definitions import get_definitions

    assert (
        key
        in get_definitions()
        .resolve_job_def("nightly_load")
        .asset_layer.asset_graph.get_all_asset_keys()
    )
