"""The results benchmark of issue 10: eduq against a hand-written floor and a pandas script.

    .venv/bin/python bench/run_bench.py --size region|10|country [--rounds N] [--seed 42]
    make bench BENCH_SIZE=10 [BENCH_ROUNDS=3]

1. Generates the input set (`eduq generate --scale SIZE`, CSV as regions send it), cached under
   the work folder by size, seed, years and the generator's code: a second run reuses it.
2. Runs, round after round (interleaved, so that drift of the machine hits every tool alike):
   - the floor: one hand-written DuckDB SQL script (bench/floor.sql via bench/floor.py);
   - the pandas script (bench/pandas_list.py), as a competent analyst writes it;
   - `eduq run` on a fresh EDUQ_HOME whose landing folder holds the set (hard links);
   - `eduq run` again, with nothing new.
   Each is a separate process, measured for wall time, CPU time and the peak resident memory
   of its whole process tree (bench/measure.py).
3. After the first round, before any timing counts, checks that the floor and the pandas script
   computed exactly the warehouse's `marts.fct_procedure_results` (N and F of every school,
   procedure and year) and `marts.fct_shnor_list` (the listed schools and their FIOKO clusters,
   in every list year that can be computed). A difference stops the benchmark (exit 3).
4. Prints medians over the rounds and the ratios to the floor (the median of the ratios taken
   round by round), writes them to bench/results/<size>.json and renders docs/performance.md's
   table and docs/performance.png from every size measured so far (bench/report.py).

The eduq measured is the one installed in this virtual environment (this checkout).
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import duckdb

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from measure import Measured, run  # bench/ is not a package: imported from its folder

SIZES = {"region": 1, "10": 10, "country": 85}
SCHOOLS_PER_REGION = 450
DEFAULT_ROUNDS = {"region": 5, "10": 3, "country": 1}
TOOLS = ("floor", "pandas", "eduq_fresh", "eduq_again")
LABELS = {
    "floor": "floor: DuckDB SQL",
    "pandas": "pandas script",
    "eduq_fresh": "eduq run, fresh",
    "eduq_again": "eduq run, nothing new",
}
RESULTS = HERE / "results"
TELEMETRY_OFF = {
    "DBT_SEND_ANONYMOUS_USAGE_STATS": "False",
    "DO_NOT_TRACK": "1",
    "GX_ANALYTICS_ENABLED": "False",
}


class BenchError(Exception):
    """The benchmark cannot go on (a tool failed, or the results differ)."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


# ---------------------------------------------------------------- the input set


def generator_fingerprint() -> str:
    digest = hashlib.sha256()
    for path in sorted((ROOT / "synthetic").glob("*.py")):
        digest.update(path.name.encode() + path.read_bytes())
    return digest.hexdigest()[:10]


def eduq_command() -> list[str]:
    script = Path(sys.executable).parent / "eduq"
    return [str(script)] if script.exists() else [sys.executable, "-m", "orchestration.cli"]


def ensure_set(
    work: Path, size: str, seed: int, years: str, jobs: int, schools: int
) -> tuple[Path, dict]:
    """The generated set of this size and seed (generated now, or reused), and how it was made."""
    regions = SIZES.get(size) or int(size)
    per_region = "" if schools == SCHOOLS_PER_REGION else f"-{schools}schools"
    name = f"{size}{per_region}-seed{seed}-{years.replace(',', '_')}-g{generator_fingerprint()}"
    sets = work / "sets"
    folder, record = sets / name, sets / f"{name}.generate.json"
    if (folder / "region_manifest.json").exists() and record.exists():
        print(f"input set: {folder} (cached)")
        return folder, {**json.loads(record.read_text()), "cached": True}
    for stale in sets.glob(
        f"{size}{per_region}-seed{seed}-*"
    ):  # older generator versions of this size
        print(f"removing the outdated set {stale}")
        shutil.rmtree(stale) if stale.is_dir() else stale.unlink()
    sets.mkdir(parents=True, exist_ok=True)
    partial = sets / f"{name}.part"
    shutil.rmtree(partial, ignore_errors=True)
    command = eduq_command() + [
        "generate", "--regions", str(regions), "--schools", str(schools), "--seed", str(seed),
        "--years", years, "--out", str(partial), "--jobs", str(jobs),
    ]  # fmt: skip
    free = shutil.disk_usage(sets if sets.exists() else work).free
    need = int(
        regions * schools / SCHOOLS_PER_REGION * 90e6 * 4
    )  # the set, eduq's warehouse, slack
    if free < need:
        print(
            f"warning: {free / 1e9:.0f} GB free in {work}; this size may need ~{need / 1e9:.0f} GB"
        )
    print(f"generating {regions} region(s) into {folder} ...", flush=True)
    measured = run("generate", command, env=_env(), log=work / "logs" / f"generate-{size}.log")
    if measured.exit_code != 0:
        raise BenchError(f"eduq generate failed:\n{measured.output_tail}")
    partial.rename(folder)
    manifest = json.loads((folder / "region_manifest.json").read_text(encoding="utf-8"))
    # the generator's own rate (its last line: «... in 12.3 s: 1,234,567 rows/s»), start-up excluded
    own = re.search(r"in ([\d.]+) s: ([\d,]+) rows/s", measured.output_tail)
    info = {
        "generator_seconds": float(own.group(1)) if own else None,
        "generator_rows_per_second": int(own.group(2).replace(",", "")) if own else None,
        "seconds": measured.seconds,
        "cpu_seconds": measured.cpu_seconds,
        "peak_rss_bytes": measured.peak_rss_bytes,
        "rows": manifest["rows"],
        "rows_per_second": manifest["rows"] / measured.seconds,
        "jobs": jobs,
    }
    record.write_text(json.dumps(info, indent=2))
    print(
        f"generated {manifest['rows']:,} rows in {measured.seconds:.1f} s with start-up "
        f"({info['rows_per_second']:,.0f} rows/s; the generator's own rate "
        f"{info['generator_rows_per_second'] or 0:,} rows/s; {jobs} job(s)), "
        f"peak {measured.peak_rss_bytes / 1e6:.0f} MB"
    )
    return folder, {**info, "cached": False}


def _env(**extra: str) -> dict[str, str]:
    env = {**os.environ, **TELEMETRY_OFF, **extra}
    for name in ("EDUQ_LANDING_DIR", "EDUQ_WAREHOUSE_DIR", "EDUQ_PUBLICATIONS_DIR"):
        env.pop(name, None)
    return env


# ---------------------------------------------------------------- the tools


def fresh_home(home: Path, set_dir: Path, manifest: dict) -> None:
    """An empty EDUQ_HOME whose landing folder holds the set (hard links: nothing is copied)."""
    shutil.rmtree(home, ignore_errors=True)
    for f in manifest["files"]:
        target = home / "landing" / f["path"]
        target.parent.mkdir(parents=True, exist_ok=True)
        os.link(set_dir / f["path"], target)


def run_tool(tool: str, set_dir: Path, work: Path, years: list[int], round_: int) -> Measured:
    logs = work / "logs"
    python = sys.executable
    if tool == "floor":
        command = [
            python,
            str(HERE / "floor.py"),
            "--input",
            str(set_dir),
            "--out",
            str(work / "out" / "floor"),
        ]
        return run(tool, command, env=_env(), log=logs / f"floor-{round_}.log")
    if tool == "pandas":
        command = [
            python,
            str(HERE / "pandas_list.py"),
            "--input",
            str(set_dir),
            "--out",
            str(work / "out" / "pandas"),
        ]
        return run(tool, command, env=_env(), log=logs / f"pandas-{round_}.log")
    env = eduq_env(work / "eduq_home", years)
    return run(tool, eduq_command() + ["run"], env=env, cwd=ROOT, log=logs / f"{tool}-{round_}.log")


def eduq_env(home: Path, years: list[int], **extra: str) -> dict[str, str]:
    """The environment of `eduq run` on ``home``: telemetry off, today after the set's last
    results year (its list is due), ``extra`` on top (e.g. EDUQ_DUCKDB_MEMORY_LIMIT)."""
    return _env(
        EDUQ_HOME=str(home),
        DAGSTER_HOME=str(home / "dagster"),
        EDUQ_TODAY=f"{max(years) + 1}-11-01",
        **extra,
    )


# ---------------------------------------------------------------- the check


def check(work: Path) -> dict:
    """The floor and the pandas script against the warehouse eduq built (serving, else candidate)."""
    warehouse = work / "eduq_home" / "warehouse"
    db = warehouse / "serving.duckdb"
    if not db.exists():
        db = warehouse / "candidate.duckdb"
    if not db.exists():
        raise BenchError("eduq run left no warehouse to check the baselines against")
    con = duckdb.connect()
    con.execute(f"attach '{db}' as wh (read_only)")
    queries = {
        "procedure_results": (
            "select school_id, procedure_code, cast(year as integer), cast(participants as bigint), "
            "cast(failing as bigint) from {source}"
        ),
        "list": "select school_id, cast(list_year as integer), fioko_cluster from {source}",
    }
    tables = {
        "procedure_results": ("wh.marts.fct_procedure_results", "fct_procedure_results.parquet"),
        "list": ("(select * from wh.marts.fct_shnor_list where is_shnor)", "shnor_list.parquet"),
    }
    result: dict = {"warehouse": db.name}
    problems = []
    for what, query in queries.items():
        ours, file = tables[what]
        reference = query.format(source=ours)
        result[what] = con.execute(f"select count(*) from ({reference})").fetchone()[0]
        for tool in ("floor", "pandas"):
            theirs = query.format(source=f"read_parquet('{work / 'out' / tool / file}')")
            missing = con.execute(
                f"select * from ({reference} except all {theirs}) limit 5"
            ).fetchall()
            extra = con.execute(
                f"select * from ({theirs} except all {reference}) limit 5"
            ).fetchall()
            if missing or extra:
                problems.append(
                    f"{tool} {what}: missing from {tool} (first 5): {missing}; not in eduq (first 5): {extra}"
                )
    # the published list as a fingerprint of the result (compare before and after a change)
    result["published_csv_sha256"] = {
        path.relative_to(work / "eduq_home" / "publications").as_posix(): hashlib.sha256(
            path.read_bytes()
        ).hexdigest()
        for path in sorted((work / "eduq_home" / "publications").glob("*/v*/shnor_list_*.csv"))
    }
    result["list_years"] = [
        r[0]
        for r in con.execute(
            "select distinct list_year from wh.marts.fct_shnor_list order by 1"
        ).fetchall()
    ]
    con.close()
    if problems:
        raise BenchError("the baselines differ from the warehouse:\n  " + "\n  ".join(problems), 3)
    if result["list"] == 0:
        raise BenchError("the warehouse lists no school: nothing to compare", 3)
    return result


# ---------------------------------------------------------------- the summary


def machine() -> dict:
    cpu = "unknown"
    try:
        cpu = next(
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        )
    except (OSError, StopIteration):
        pass
    memory = 0
    try:
        memory = int(Path("/proc/meminfo").read_text().split()[1]) * 1024
    except (OSError, IndexError, ValueError):
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_bytes": memory,
        "system": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "duckdb": duckdb.__version__,
    }


def git_commit() -> dict:
    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False)
        return done.stdout.strip()

    # what the benchmark itself rewrites does not make the measured code differ
    written = ("docs/performance.md", "docs/performance.png", "bench/results/")
    changed = [f for f in git("diff", "--name-only", "HEAD").split() if not f.startswith(written)]
    return {
        "commit": git("rev-parse", "--short", "HEAD"),
        "branch": git("rev-parse", "--abbrev-ref", "HEAD"),
        "dirty": bool(changed),
        "changed_files": changed,
    }


def summarise(runs: dict[str, list[Measured]]) -> dict:
    floor = runs["floor"]
    summary = {}
    for tool, measured in runs.items():
        if not measured:
            continue
        summary[tool] = {
            "label": LABELS[tool],
            "runs": [m.to_json() for m in measured],
            "median_seconds": statistics.median(m.seconds for m in measured),
            "median_cpu_seconds": statistics.median(m.cpu_seconds for m in measured),
            "median_peak_rss_bytes": statistics.median(m.peak_rss_bytes for m in measured),
            "time_ratio": statistics.median(m.seconds / f.seconds for m, f in zip(measured, floor)),
            "memory_ratio": statistics.median(
                m.peak_rss_bytes / f.peak_rss_bytes for m, f in zip(measured, floor)
            ),
            "failed_runs": sum(1 for m in measured if m.exit_code != 0),
        }
    return summary


def render_table(result: dict) -> str:
    lines = [
        f"{'':24s} {'wall (median)':>14s} {'x floor':>8s} {'CPU':>9s} {'peak memory':>12s} {'x floor':>8s}"
    ]
    for tool in TOOLS:
        s = result["tools"].get(tool)
        if s is None:
            continue
        failed = f"  ({s['failed_runs']} run(s) failed)" if s["failed_runs"] else ""
        lines.append(
            f"{s['label']:24s} {s['median_seconds']:>12.1f} s {s['time_ratio']:>7.1f}x "
            f"{s['median_cpu_seconds']:>7.1f} s {s['median_peak_rss_bytes'] / 1e9:>9.2f} GB "
            f"{s['memory_ratio']:>7.1f}x{failed}"
        )
    return "\n".join(lines)


# ---------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", default=os.environ.get("BENCH_SIZE") or "region",
                        help="region (1 region), 10, country (85) or a number of regions")  # fmt: skip
    parser.add_argument(
        "--rounds", type=int, default=int(os.environ.get("BENCH_ROUNDS") or 0) or None
    )
    parser.add_argument("--seed", type=int, default=int(os.environ.get("BENCH_SEED") or 42))
    parser.add_argument(
        "--years",
        default=os.environ.get("BENCH_YEARS") or "2023-2024",
        help="results years (default 2023-2024: the sizes of issue 10, ~26 million result rows a "
        "year for the country; the list of 2025 is the one compared)",
    )
    parser.add_argument("--jobs", type=int, default=2, help="generation worker processes")
    parser.add_argument(
        "--schools",
        type=int,
        default=int(os.environ.get("BENCH_SCHOOLS") or SCHOOLS_PER_REGION),
        help="schools per region (default 450; smaller for a quick try of the benchmark itself)",
    )
    parser.add_argument(
        "--work",
        type=Path,
        default=Path(
            os.environ.get("BENCH_DIR")
            or Path(os.environ.get("EDUQ_HOME") or ROOT / ".eduq") / "bench"
        ),
        help="cache of input sets, eduq's home and logs (default $EDUQ_HOME/bench)",
    )
    parser.add_argument("--no-docs", action="store_true", help="do not rewrite docs/performance.*")
    parser.add_argument("--keep-home", action="store_true", help="keep eduq's warehouse afterwards")
    args = parser.parse_args(argv)
    if args.size not in SIZES and not (args.size.isdigit() and 1 <= int(args.size) <= 99):
        parser.error(f"--size: region, 10, country or a number of regions 1..99, not {args.size!r}")
    rounds = args.rounds or DEFAULT_ROUNDS.get(args.size, 1)
    try:
        return _bench(args, rounds)
    except BenchError as exc:
        print(f"\nbench: {exc}", file=sys.stderr)
        return exc.code


def _bench(args: argparse.Namespace, rounds: int) -> int:
    from synthetic.spec import parse_years

    years = list(parse_years(args.years))
    work = args.work.resolve()
    work.mkdir(parents=True, exist_ok=True)
    set_dir, generated = ensure_set(work, args.size, args.seed, args.years, args.jobs, args.schools)
    manifest = json.loads((set_dir / "region_manifest.json").read_text(encoding="utf-8"))
    by_source = manifest["rows_by_source"]
    result_rows = by_source.get("vpr_results", 0) + by_source.get("gia_results", 0)
    csv_bytes = sum((set_dir / f["path"]).stat().st_size for f in manifest["files"])
    print(
        f"size {args.size}: {manifest['schools']:,} schools, {result_rows:,} result rows "
        f"({manifest['rows']:,} rows in all, {csv_bytes / 1e9:.2f} GB of CSV), {rounds} round(s)"
    )
    runs: dict[str, list[Measured]] = {tool: [] for tool in TOOLS}
    checked: dict = {}
    load: list[float] = []
    for round_ in range(1, rounds + 1):
        for tool in TOOLS:
            if tool == "eduq_fresh":
                fresh_home(work / "eduq_home", set_dir, manifest)
            load.append(os.getloadavg()[0])
            m = run_tool(tool, set_dir, work, years, round_)
            runs[tool].append(m)
            status = "" if m.exit_code == 0 else f"  EXIT {m.exit_code}"
            print(
                f"  round {round_}: {LABELS[tool]:24s} {m.seconds:8.1f} s  CPU {m.cpu_seconds:7.1f} s  "
                f"peak {m.peak_rss_bytes / 1e9:6.2f} GB{status}",
                flush=True,
            )
            if m.exit_code != 0:
                print("    " + m.output_tail.replace("\n", "\n    "))
                if tool in ("floor", "pandas"):
                    raise BenchError(f"{LABELS[tool]} failed (exit {m.exit_code})")
            if round_ == 1 and tool == "eduq_fresh":
                checked = check(work)
                print(
                    f"  checked: floor and pandas = eduq ({checked['warehouse']}): "
                    f"{checked['procedure_results']:,} school-procedure-years, "
                    f"{checked['list']:,} listed in list years {checked['list_years']}"
                )
    if not args.keep_home:
        shutil.rmtree(work / "eduq_home", ignore_errors=True)
    result = {
        "size": args.size,
        "regions": manifest["parameters"]["regions"],
        "schools": manifest["schools"],
        "rows": manifest["rows"],
        "result_rows": result_rows,
        "csv_bytes": csv_bytes,
        "years": years,
        "seed": args.seed,
        "rounds": rounds,
        "date": dt.date.today().isoformat(),
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": machine(),
        "load_average_median": statistics.median(load) if load else None,
        "code": git_commit(),
        "generate": generated,
        "check": checked,
        "tools": summarise(runs),
    }
    print()
    print(render_table(result))
    RESULTS.mkdir(exist_ok=True)
    if args.schools != SCHOOLS_PER_REGION:  # a try of the benchmark, not a size of the plot
        print("\n(--schools differs from 450: results not saved, docs not rendered)")
        return 1 if any(s["failed_runs"] for s in result["tools"].values()) else 0
    path = RESULTS / f"{args.size}.json"
    path.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"\nresults: {path}")
    if not args.no_docs:
        import report

        written = report.render()
        print("docs: " + ", ".join(str(p) for p in written))
    failed = any(s["failed_runs"] for s in result["tools"].values())
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
