"""A soak: consecutive nightly `eduq run`s with growing data — a new year each of the first nights,
then duplicates under new names, files that cannot be read, corrections, nights with nothing new —
while two reader processes query the serving warehouse continuously (one reconnecting for every
query, one holding its connection and reconnecting every 20 queries). Reports run times, reader
queries and errors (must be 0), and compares the final state with a single clean build of every file
delivered. `make reliability`; EDUQ_SOAK_NIGHTS (default 30) sets the number of nights."""

from __future__ import annotations

import hashlib
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from tests.reliability.kill import ROOT, run_eduq

pytestmark = pytest.mark.reliability
YEARS = (2021, 2022, 2023, 2024)
TODAY = "2025-11-01"

READER = """
import sys, time, duckdb
path, hold, stop = sys.argv[1], sys.argv[2] == "hold", sys.argv[3]
from pathlib import Path
queries = errors = 0
con = None
while not Path(stop).exists():
    try:
        if con is None or not hold or queries % 20 == 0:
            if con is not None:
                con.close()
            con = duckdb.connect(path, read_only=True)
        con.execute("select count(*), sum(n_flagged_procedures) from marts.fct_shnor_list").fetchall()
        con.execute("select build_id, passed from audit.build").fetchall()
        queries += 1
        time.sleep(0.02)  # continuous, without taking a whole core from the nightly run
    except Exception as exc:
        errors += 1
        print("ERROR", type(exc).__name__, str(exc)[:200], file=sys.stderr, flush=True)
        con = None
        time.sleep(0.05)
print(queries, errors)
"""


def _tables(db: Path) -> dict[str, str]:
    out = {}
    with duckdb.connect(str(db), read_only=True) as con:
        for schema, table in con.execute(
            "select schema_name, table_name from duckdb_tables() "
            "where schema_name in ('marts', 'reference') order by all"
        ).fetchall():
            rows = con.execute(f'select * from "{schema}"."{table}"').fetchall()
            out[f"{schema}.{table}"] = hashlib.sha256(
                "\n".join(sorted(repr(r) for r in rows)).encode()
            ).hexdigest()
    return out


def _nights(source: Path, count: int) -> list[list[tuple[Path, bytes]]]:
    """What arrives each night: (path in the landing folder, bytes)."""
    files = sorted(p for p in source.rglob("*") if p.is_file() and p.suffix in (".csv", ".xlsx"))

    def year_of(path: Path) -> int | None:
        for year in YEARS:
            if str(year) in path.name:
                return year
        return None

    nights: list[list[tuple[Path, bytes]]] = []
    undated = [p for p in files if year_of(p) is None]
    for i, year in enumerate(YEARS):
        batch = [p for p in files if year_of(p) == year] + (undated if i == 0 else [])
        nights.append([(p.relative_to(source), p.read_bytes()) for p in batch])
    csvs = [p for p in files if p.suffix == ".csv" and "resource_survey" in p.name]
    n = 0
    while len(nights) < count:
        kind = n % 4
        if kind == 0:  # the same content again, under another name
            original = files[n % len(files)]
            nights.append(
                [
                    (
                        original.relative_to(source).with_name(f"копия_{n}_{original.name}"),
                        original.read_bytes(),
                    )
                ]
            )
        elif kind == 1:  # a file that cannot be read
            nights.append([(Path(f"письмо_{n}.csv"), b"\x00\x01 not a table " * 10)])
        elif kind == 2:  # a correction: one school's survey with a changed answer
            original = csvs[n % len(csvs)]
            data = original.read_bytes()
            lines = data.splitlines(keepends=True)
            changed = lines[1].replace(b";0;", b";1;", 1) if b";0;" in lines[1] else lines[1]
            nights.append(
                [
                    (
                        original.relative_to(source).with_name(f"исправление_{n}_{original.name}"),
                        b"".join([lines[0], changed]),
                    )
                ]
            )
        else:  # nothing new
            nights.append([])
        n += 1
    return nights[:count]


def test_nightly_runs_with_growing_data_and_readers(tmp_path: Path) -> None:
    from synthetic import generate_region

    count = int(os.environ.get("EDUQ_SOAK_NIGHTS", "30"))
    source = tmp_path / "region"
    generate_region(source, seed=6, schools=14, years=YEARS)
    nights = _nights(source, count)
    home = tmp_path / "home"
    (home / "landing").mkdir(parents=True)
    stop = tmp_path / "stop"
    readers: list[subprocess.Popen] = []
    seconds, delivered, outcomes = [], [], []
    clock = time.time() - 86400 * (count + 1)
    try:
        for night, batch in enumerate(nights, start=1):
            for relative, data in batch:
                target = home / "landing" / relative
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data)
                stamp = clock + night * 86400
                os.utime(target, (stamp, stamp))  # deliveries keep their order in the clean build
                delivered.append((relative, data, stamp))
            result = run_eduq(home, TODAY)
            seconds.append(result.seconds)
            outcomes.append(result.returncode)
            assert result.returncode in (0, 2), result.stderr[-3000:]  # 2: an incomplete list year
            if not readers and (home / "warehouse" / "serving.duckdb").exists():
                for mode in ("fresh", "hold"):
                    readers.append(
                        subprocess.Popen(
                            [
                                sys.executable,
                                "-c",
                                READER,
                                str(home / "warehouse" / "serving.duckdb"),
                                mode,
                                str(stop),
                            ],
                            cwd=ROOT,
                            stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE,
                            text=True,
                        )
                    )
    finally:
        stop.touch()
        counts = [r.communicate(timeout=120) for r in readers]
    queries = sum(int(out.split()[0]) for out, _ in counts)
    errors = sum(int(out.split()[1]) for out, _ in counts)

    clean = tmp_path / "clean"
    for relative, data, stamp in delivered:
        target = clean / "landing" / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        os.utime(target, (stamp, stamp))
    single = run_eduq(clean, TODAY)
    assert single.returncode in (0, 2), single.stderr[-3000:]
    same_tables = _tables(home / "warehouse" / "serving.duckdb") == _tables(
        clean / "warehouse" / "serving.duckdb"
    )
    lists = [sorted((h / "publications" / "2025").glob("v*")) for h in (home, clean)]
    same_list = (lists[0][-1] / "shnor_list_2025.csv").read_bytes() == (
        lists[1][-1] / "shnor_list_2025.csv"
    ).read_bytes()
    print(
        f"soak: {count} nights, {sum(len(b) for b in nights)} files delivered; run times "
        f"min {min(seconds):.0f} s, median {statistics.median(seconds):.0f} s, max {max(seconds):.0f} s, "
        f"total {sum(seconds) / 60:.1f} min; readers: {queries} queries, {errors} errors; "
        f"list versions published {len(lists[0])}; final marts and reference equal to a single clean "
        f"build: {same_tables}; latest list CSV identical: {same_list}"
    )
    shutil.rmtree(source, ignore_errors=True)
    assert errors == 0, [e for _, e in counts]
    assert same_tables and same_list
