"""Run the floor (bench/floor.sql) on a generated set and save what it computed.

    .venv/bin/python bench/floor.py --input DIR [--out DIR]

Runs the one hand-written DuckDB script over the set's CSV files in an in-memory database and
writes `fct_procedure_results.parquet` and `shnor_list.parquet` into --out (default: a
`floor` folder beside the input). Prints the time and the row counts. A baseline for the
benchmark (bench/run_bench.py), not part of eduq.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import duckdb

HERE = Path(__file__).resolve().parent
SEEDS = HERE.parent / "seeds"


def run_floor(input_dir: Path, out_dir: Path, threads: int | None = None) -> dict[str, int]:
    out_dir.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    if threads:
        con.execute(f"set threads = {int(threads)}")
    con.execute("set variable input_dir = ?", [str(input_dir)])
    con.execute("set variable seeds_dir = ?", [str(SEEDS)])
    con.execute("set variable results_latin1 = true")
    # a set whose regions had no reorganisation has no successors file: read an empty one
    successors = str(input_dir / "*" / "school_successors.csv")
    if not any(input_dir.glob("*/school_successors.csv")):
        empty = out_dir / "no_successors.csv"
        empty.write_text("old;new;date\n", encoding="utf-8")
        successors = str(empty)
    con.execute("set variable successors_files = ?", [successors])
    con.execute((HERE / "floor.sql").read_text(encoding="utf-8"))
    counts = {}
    for table in ("fct_procedure_results", "shnor_list"):
        target = out_dir / f"{table}.parquet"
        con.execute(f"copy {table} to '{target}' (format parquet)")
        counts[table] = con.execute(f"select count(*) from {table}").fetchone()[0]
    con.close()
    return counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--input", required=True, type=Path, help="a set written by eduq generate --scale (CSV)"
    )
    parser.add_argument(
        "--out", type=Path, help="where to write the results (default: <input>/../floor)"
    )
    parser.add_argument("--threads", type=int, help="DuckDB threads (default: DuckDB's, all cores)")
    args = parser.parse_args(argv)
    out = args.out or args.input.parent / "floor"
    started = time.perf_counter()
    counts = run_floor(args.input.resolve(), out, args.threads)
    print(
        f"floor: {counts['fct_procedure_results']} school-procedure-years, "
        f"{counts['shnor_list']} listed school-years in {time.perf_counter() - started:.1f} s -> {out}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
