"""Issue 10's nights after the first, measured: one region's new results year and a one-school
correction delivered on top of a fully built warehouse, and the build under a DuckDB memory limit.

    .venv/bin/python bench/increment.py --size region|10|country [--memory-limit 2GB]
    make bench-increment BENCH_SIZE=10 [BENCH_MEMORY_LIMIT=2GB]

On one fresh EDUQ_HOME whose landing folder holds the benchmark's set (bench/run_bench.py's cache
under $EDUQ_HOME/bench/sets/, generated there when missing), four nights of `eduq run`, one after
the other, each a separate process measured for wall time, CPU time and the peak resident memory
of its whole process tree (bench/measure.py), with its ratios to the full build of the same run:

1. **full build**: every file loaded, built, audited, promoted and published. The published
   list's SHA-256 is compared with the one `make bench` recorded for this size
   (bench/results/<size>.json, a build at the default memory limit).
2. **nothing new**: the same landing folder again.
3. **one region's new results year**: `eduq generate --regions 1 --years <last + 1>` with the
   set's seed writes region_01's next year. Checked first: the same code crosswalk byte for byte
   and the same schools as the set's latest registry. A one-year set has no reorganisation, so
   the generator still writes the schools the set closed (its school_successors.csv); their rows
   are left out, as a closed school sends nothing. The files of that year go into
   landing/region_01/ as the region sends them. Checked after the run: every file loaded whole,
   the serving warehouse's ВПР N and F of every school × procedure of that year equal those
   counted here from the delivered file, and the counts of the earlier years are unchanged.
4. **one-school correction**: one school's ВПР results of one subject and grade of that year are
   delivered again with one mark 3 changed to 2 (the latest delivery per year, school, subject
   and grade replaces the earlier rows: docs/ingestion.md). Checked: that school × procedure has
   the same N and F one higher in the serving warehouse, and every other count is unchanged.

Where the time goes: the stage lines `eduq run` prints are timed from outside (measure.run with
``stamp_lines``), and dbt's slowest nodes are read from the build's run_results.json
(dbt_project/target/builds/). With ``--memory-limit`` every night runs with
EDUQ_DUCKDB_MEMORY_LIMIT, and the largest size of DuckDB's spill folder is sampled.

The results go to bench/results/increment-<size>.json, written after every night (a run stopped
half-way keeps what finished), and to the section of docs/performance.md between the
`bench:increment` markers (``--render`` redraws it from the results files alone).
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import hashlib
import io
import json
import os
import re
import shutil
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Self

import duckdb

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

import run_bench as rb  # bench/ is not a package: imported from its folder
from measure import run

from core.settings import Settings, load_settings
from ingestion.contract import Contract, load_contracts, normalise_label
from synthetic.country import CSV_DIALECT

STEPS = ("full", "nothing_new", "increment", "correction")
LABELS = {
    "full": "full build",
    "nothing_new": "nothing new",
    "increment": "one region's new results year",
    "correction": "one-school correction",
}
TARGET_SHARE = 0.10  # issue 10: an increment or a correction costs at most 10% of the full build
REGION_CODE = "01"  # the region that delivers its new year (every size has it)
CORRECTED_SUBJECT, CORRECTED_GRADE = "Русский язык", 5  # ВПР_RU_5, a procedure the list counts
MIN_PARTICIPANTS = 5
DOC = ROOT / "docs" / "performance.md"
START, END = "<!-- bench:increment:start -->", "<!-- bench:increment:end -->"
STAGE_LINE = re.compile(r"^\s*([\d.]+) \| \[\s*[\d.]+ (?:s|min)\] (.+)$")
AUDIT_LINE = re.compile(r"Audit of build (\S+): (\w+)")
DONE_LINE = re.compile(r"Done in ([\d.]+) s")
STAGE_NAMES = (  # the stage lines of `eduq run` (core/progress.py) by their first words
    ("survey the landing folder", "load"),
    ("dbt build", "dbt build"),
    ("audit", "audit"),
    ("promote", "promote"),
    ("publish the marts", "publish marts"),
    ("publish the ШНОР list", "publish list"),
)
STAGE_COLUMNS = (
    "start-up",
    "load",
    "dbt build",
    "audit",
    "promote",
    "publish marts",
    "publish list",
    "exit",
)


class BenchError(rb.BenchError):
    """The increment benchmark cannot go on, or a night did not do what it should."""


# ---------------------------------------------------------------- files as a region sends them


@dataclass
class CsvTable:
    """A CSV file of the generator's dialect for its source, as text cells."""

    source: str
    header: list[str]
    rows: list[list[str]]

    def index(self, contract: Contract, column: str) -> int:
        """Where the contract's column is, by its header (any accepted spelling)."""
        keys = contract.column(column).header_keys()
        for i, cell in enumerate(self.header):
            if normalise_label(cell) in keys:
                return i
        raise BenchError(f"{self.source}: no column {column!r} in the header {self.header}")


def read_table(path: Path, source: str) -> CsvTable:
    encoding, delimiter, _end, bom = CSV_DIALECT[source]
    text = path.read_bytes().decode("utf-8-sig" if bom else encoding)
    rows = [r for r in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter) if r]
    if not rows:
        raise BenchError(f"{path}: empty")
    return CsvTable(source, rows[0], rows[1:])


def write_table(path: Path, table: CsvTable) -> str:
    """Write the table in its source's dialect (encoding, delimiter, line ends, byte-order mark),
    atomically; returns the file's SHA-256."""
    encoding, delimiter, end, bom = CSV_DIALECT[table.source]
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator=end)
    writer.writerow(table.header)
    writer.writerows(table.rows)
    data = (("\ufeff" if bom else "") + buffer.getvalue()).encode(encoding)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".part")  # the landing scan ignores *.part
    partial.write_bytes(data)
    os.replace(partial, path)
    return hashlib.sha256(data).hexdigest()


def _present(contract: Contract, cell: str) -> bool:
    """The participant sat the work: «явка» in any accepted spelling, or the default (empty)."""
    status = contract.column("status")
    if not cell.strip():
        return status.default == "present"
    return normalise_label(cell) in {normalise_label(v) for v in status.values["present"]}


def closed_codes(region_dir: Path) -> tuple[set[str], set[str]]:
    """The schools a set's region closed (its school_successors.csv) and every code they go by
    (their FIS OKO logins and their codes in other systems, from school_codes.csv)."""
    successors = region_dir / "school_successors.csv"
    if not successors.exists():
        return set(), set()
    contracts = load_contracts()
    table = read_table(successors, "school_successors")
    closed = {r[table.index(contracts["school_successors"], "old_school_id")] for r in table.rows}
    crosswalk = read_table(region_dir / "school_codes.csv", "school_codes")
    external = crosswalk.index(contracts["school_codes"], "external_code")
    school = crosswalk.index(contracts["school_codes"], "school_id")
    codes = closed | {r[external] for r in crosswalk.rows if r[school] in closed}
    return closed, codes


REGISTRY_IDENTITY = (
    "school_id",
    "school_name",
    "municipality_code",
    "municipality_name",
    "locality",
)


def registry_schools(table: CsvTable) -> set[tuple[str, ...]]:
    """The schools of a registry file by what does not change from year to year: code, name,
    municipality, locality (a different seed gives the same codes but other schools)."""
    contract = load_contracts()["schools"]
    columns = [table.index(contract, c) for c in REGISTRY_IDENTITY]
    return {tuple(r[i] for i in columns) for r in table.rows}


def deliver_region_year(
    set_dir: Path, generated: Path, year: int, staging: Path, landing: Path
) -> dict:
    """Deliver the generated region's files of ``year`` into ``landing`` as the region sends them:
    checked to be the set's region (crosswalk, schools), without the schools the set closed.
    The delivered files are kept in ``staging`` (the landing copies are archived by the load)."""
    contracts = load_contracts()
    region = f"region_{REGION_CODE}"
    set_region = set_dir / region
    if (generated / region / "school_codes.csv").read_bytes() != (
        set_region / "school_codes.csv"
    ).read_bytes():
        raise BenchError(
            f"{generated / region}: the code crosswalk differs from the set's {set_region}: "
            "not the same region (seed, schools per region?)"
        )
    closed, closed_any_code = closed_codes(set_region)
    manifest = json.loads((generated / "region_manifest.json").read_text(encoding="utf-8"))
    files = [
        f for f in manifest["files"] if f.get("year") == year and f["path"].startswith(region + "/")
    ]
    tables: list[tuple[str, CsvTable, int]] = []
    registry: set[tuple[str, ...]] | None = None
    for f in files:
        table = read_table(generated / f["path"], f["source"])
        contract = contracts[f["source"]]
        column = table.index(contract, contract.school_column or "school_id")
        kept = [r for r in table.rows if r[column] not in closed_any_code]
        tables.append((f["path"], CsvTable(table.source, table.header, kept), len(table.rows)))
        if f["source"] == "schools":
            registry = registry_schools(CsvTable(table.source, table.header, kept))
    latest = max((set_region / "schools").glob("schools_*.csv"))
    expected = registry_schools(read_table(latest, "schools"))
    if registry != expected:
        differ = sorted((registry or set()) ^ expected)
        raise BenchError(
            f"the generated registry of {year} and the set's {latest.name} name different schools "
            f"({len(differ)} differ, e.g. {differ[:3]}): not the same region"
        )
    delivered = []
    shutil.rmtree(staging, ignore_errors=True)
    for path, table, generated_rows in tables:
        digest = write_table(staging / path, table)
        delivered.append(
            {
                "path": path,
                "source": table.source,
                "rows": len(table.rows),
                "rows_left_out": generated_rows - len(table.rows),
                "sha256": digest,
            }
        )
    for f in delivered:  # a hard link appears whole: the landing scan never sees half a file
        target = landing / f["path"]
        target.parent.mkdir(parents=True, exist_ok=True)
        os.link(staging / f["path"], target)
    return {
        "region": region,
        "year": year,
        "files": delivered,
        "rows": sum(f["rows"] for f in delivered),
        "closed_schools_left_out": sorted(closed),
        "schools": len(expected),
    }


def vpr_mark_counts(path: Path) -> Counter:
    """(school, subject, grade, mark) -> participants who sat the work, from a ВПР results file."""
    contract = load_contracts()["vpr_results"]
    table = read_table(path, "vpr_results")
    school, subject, grade = (table.index(contract, c) for c in ("school_id", "subject", "grade"))
    mark, status = table.index(contract, "mark"), table.index(contract, "status")
    counts: Counter = Counter()
    for r in table.rows:
        if r[mark].strip() and _present(contract, r[status]):
            counts[(r[school], r[subject], int(r[grade]), int(r[mark]))] += 1
    return counts


def write_correction(
    vpr_file: Path,
    out_dir: Path,
    year: int,
    subject: str = CORRECTED_SUBJECT,
    grade: int = CORRECTED_GRADE,
    school_id: str | None = None,
) -> dict:
    """A school's corrected ВПР results of one subject and grade: every row it delivered for that
    year, subject and grade (the latest-delivery partition) again, with the first participant who
    sat the work with mark 3 given mark 2. The school is ``school_id``, else the first school (by
    code) with at least MIN_PARTICIPANTS who sat it and a mark 3. The file lands in ``out_dir``."""
    contract = load_contracts()["vpr_results"]
    table = read_table(vpr_file, "vpr_results")
    i = {
        c: table.index(contract, c)
        for c in ("year", "school_id", "subject", "grade", "participant_code", "mark", "status")
    }
    wanted = normalise_label(subject)
    by_school: dict[str, list[list[str]]] = {}
    for r in table.rows:
        if (
            r[i["year"]].strip() == str(year)
            and normalise_label(r[i["subject"]]) == wanted
            and r[i["grade"]].strip() == str(grade)
        ):
            by_school.setdefault(r[i["school_id"]], []).append(r)

    def changeable(rows: list[list[str]]) -> int | None:
        """The row whose mark the correction changes (None: not a school to correct)."""
        sat = [
            n
            for n, r in enumerate(rows)
            if r[i["mark"]].strip() and _present(contract, r[i["status"]])
        ]
        threes = [n for n in sat if int(rows[n][i["mark"]]) == 3]
        return threes[0] if len(sat) >= MIN_PARTICIPANTS and threes else None

    candidates = [school_id] if school_id else sorted(by_school)
    for school in candidates:
        rows = by_school.get(school, [])
        row = changeable(rows)
        if row is None:
            continue
        corrected = [list(r) for r in rows]
        corrected[row][i["mark"]] = "2"
        name = f"vpr_results_{year}_{school}_исправление.csv"
        digest = write_table(out_dir / name, CsvTable("vpr_results", table.header, corrected))
        return {
            "file": name,
            "sha256": digest,
            "rows": len(corrected),
            "school_id": school,
            "subject": subject,
            "grade": grade,
            "year": year,
            "participant_code": corrected[row][i["participant_code"]],
            "mark_from": 3,
            "mark_to": 2,
        }
    raise BenchError(
        f"{vpr_file.name}: no school{' ' + school_id if school_id else ''} with {MIN_PARTICIPANTS}+ "
        f"participants and a mark 3 in ВПР {subject}, grade {grade}, {year}"
    )


# ---------------------------------------------------------------- the warehouse, read-only


def _query(db: Path, sql: str, params: list | None = None) -> list[tuple]:
    # a new connection each time: the serving file is replaced by every promotion
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql, params or []).fetchall()


def counts_digest(db: Path, where: str, params: list) -> tuple[int, str]:
    """Rows and an MD5 of (school, procedure, year, N, F) of marts.fct_procedure_results."""
    row = _query(
        db,
        "select count(*), md5(coalesce(string_agg(concat_ws('|', school_id, procedure_code, year, "
        "participants, failing), ';' order by school_id, procedure_code, year), '')) "
        f"from marts.fct_procedure_results where {where}",
        params,
    )[0]
    return int(row[0]), str(row[1])


def vpr_procedures(db: Path, year: int) -> dict[tuple[str, int], tuple[str, int]]:
    """(subject as delivered, lower case; grade) -> (procedure code, fail below) of a year's ВПР,
    from the reference seeds (the names and thresholds, not the rules under test)."""
    rows = _query(
        db,
        """select a.subject_alias, p.grade, p.procedure_code, t.fail_below
           from reference.procedures as p
           join reference.subject_aliases as a on a.subject_code = p.subject_code
           join reference.procedure_thresholds as t
             on t.procedure_code = p.procedure_code and t.year = ?
           where p.exam = 'VPR' and t.result_measure = 'mark'""",
        [year],
    )
    return {(alias, int(grade)): (code, int(below)) for alias, grade, code, below in rows}


def expected_vpr_counts(
    db: Path, year: int, marks: Counter
) -> dict[tuple[str, str], tuple[int, int]]:
    procedures = vpr_procedures(db, year)
    counts: dict[tuple[str, str], list[int]] = {}
    for (school, subject, grade, mark), n in marks.items():
        if (subject.strip().lower(), grade) not in procedures:
            raise BenchError(f"ВПР {subject}, grade {grade}: no such procedure in the seeds")
        code, below = procedures[(subject.strip().lower(), grade)]
        nf = counts.setdefault((school, code), [0, 0])
        nf[0] += n
        nf[1] += n if mark < below else 0
    return {k: (v[0], v[1]) for k, v in counts.items()}


def warehouse_vpr_counts(
    db: Path, year: int, schools: set[str]
) -> dict[tuple[str, str], tuple[int, int]]:
    rows = _query(
        db,
        """select r.school_id, r.procedure_code, r.participants, r.failing
           from marts.fct_procedure_results as r
           join reference.procedures as p on p.procedure_code = r.procedure_code
           where p.exam = 'VPR' and r.year = ? and r.participants > 0""",
        [year],
    )
    return {(s, c): (int(n), int(f)) for s, c, n, f in rows if s in schools}


def procedure_counts(db: Path, school: str, procedure: str, year: int) -> tuple[int, int] | None:
    rows = _query(
        db,
        "select participants, failing from marts.fct_procedure_results "
        "where school_id = ? and procedure_code = ? and year = ?",
        [school, procedure, year],
    )
    return (int(rows[0][0]), int(rows[0][1])) if rows else None


def load_outcomes(db: Path, hashes: list[str]) -> dict[str, tuple]:
    rows = _query(
        db,
        "select file_hash, status, rows_read, rows_loaded, rows_quarantined from meta.load_log "
        "where file_hash in (select unnest(?::varchar[]))",
        [hashes],
    )
    return {r[0]: r[1:] for r in rows}


def check_loaded_whole(db: Path, files: list[dict]) -> None:
    outcomes = load_outcomes(db, [f["sha256"] for f in files])
    for f in files:
        got = outcomes.get(f["sha256"])
        if got != ("loaded", f["rows"], f["rows"], 0):
            raise BenchError(
                f"{f['path']}: expected loaded whole ({f['rows']} rows, none quarantined), "
                f"the load log says {got}"
            )


def published_lists(home: Path) -> dict[str, str]:
    folder = home / "publications"
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.glob("*/v*/shnor_list_*.csv"))
    }


# ---------------------------------------------------------------- one night, measured


class FolderPeak:
    """The largest disk use of a folder (DuckDB's spill folder) while the block runs."""

    def __init__(self, folder: Path, every: float = 0.5) -> None:
        self.folder, self.every, self.peak = folder, every, 0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _size(self) -> int:
        total = 0
        for dirpath, _dirs, files in os.walk(self.folder):
            for name in files:
                try:
                    total += os.stat(os.path.join(dirpath, name)).st_blocks * 512
                except OSError:
                    continue
        return total

    def _sample(self) -> None:
        while not self._done.is_set():
            self.peak = max(self.peak, self._size())
            self._done.wait(self.every)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._thread.join()


def stages(log: Path, wall: float) -> list[dict]:
    """Seconds per stage of one `eduq run`, from its stamped stage lines: start-up until the first
    stage line, each stage until the next, the last one until «Done in …» (its summary included),
    then the process's exit."""
    marks = []
    done_at: float | None = None
    for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
        m = STAGE_LINE.match(line)
        if m:
            name = m.group(2).strip()
            short = next((s for prefix, s in STAGE_NAMES if name.startswith(prefix)), name)
            marks.append((float(m.group(1)), short, name))
        elif DONE_LINE.search(line) and " | " in line:
            done_at = float(line.split(" | ", 1)[0])
    if not marks:
        return []
    end = done_at if done_at is not None else wall
    out = [{"stage": "start-up", "name": "until the first stage", "seconds": marks[0][0]}]
    ends = [t for t, _, _ in marks[1:]] + [end]
    for (t, short, name), until in zip(marks, ends):
        out.append({"stage": short, "name": name, "seconds": until - t})
    if done_at is not None:
        out.append({"stage": "exit", "name": "after «Done in …»", "seconds": wall - done_at})
    return out


def _node_name(unique_id: str) -> str:
    """``model.eduq.fct_isbsh`` -> ``model fct_isbsh``; a test without its hash suffix."""
    parts = unique_id.split(".")
    return f"{parts[0]} {parts[2] if len(parts) > 2 else parts[-1]}"


def dbt_summary(build_id: str, slowest: int = 8) -> dict | None:
    """What dbt did in the build ``build_id`` (``<time>-<first 8 of the run id>``, as the audit
    names it): nodes by status, seconds by node type (summed over dbt's threads), the slowest
    nodes, from run_results.json in the build's target folder (orchestration/dbt_build.py names
    it ``build-<run id[:7]>-<run id[8:16]>``)."""
    from orchestration.dbt_build import BUILDS_DIR

    run_prefix = build_id.rsplit("-", 1)[-1]
    found = sorted(
        BUILDS_DIR.glob(f"build-{run_prefix[:7]}-*/run_results.json"),
        key=lambda p: p.stat().st_mtime,
    )
    if not found:
        return None
    path = found[-1]
    data = json.loads(path.read_text(encoding="utf-8"))
    # the nodes; not the project's on-run-end hook (an operation: macros/year_local.sql)
    results = [r for r in data.get("results", []) if not r["unique_id"].startswith("operation.")]
    by_type: Counter = Counter()
    for r in results:
        by_type[r["unique_id"].split(".", 1)[0]] += float(r.get("execution_time") or 0.0)
    ranked = sorted(results, key=lambda r: -float(r.get("execution_time") or 0.0))[:slowest]
    return {
        "run_results": path.relative_to(ROOT).as_posix(),
        "elapsed_seconds": data.get("elapsed_time"),
        "nodes": len(results),
        "by_status": dict(Counter(str(r["status"]) for r in results)),
        "seconds_by_type": {k: round(v, 2) for k, v in sorted(by_type.items())},
        "slowest": [
            {
                "node": _node_name(r["unique_id"]),
                "status": r["status"],
                "seconds": round(float(r.get("execution_time") or 0.0), 2),
            }
            for r in ranked
        ],
    }


@dataclass
class Night:
    work: Path
    size: str
    env: dict[str, str]
    spill_dir: Path

    def run(self, step: str) -> dict:
        log = self.work / "logs" / f"increment-{self.size}-{step}.log"
        load = os.getloadavg()[0]
        with FolderPeak(self.spill_dir) as spill:
            m = run(
                step, rb.eduq_command() + ["run"], env=self.env, cwd=ROOT, log=log, stamp_lines=True
            )
        entry: dict = {
            **m.to_json(),
            "label": LABELS[step],
            "log": str(log),
            "load_average": load,
            "spill_peak_bytes": spill.peak,
            "stages": stages(log, m.seconds),
        }
        text = "\n".join(
            line.split(" | ", 1)[-1]
            for line in log.read_text(encoding="utf-8", errors="replace").splitlines()
        )
        done = DONE_LINE.search(text)
        entry["eduq_seconds"] = float(done.group(1)) if done else None
        audit = AUDIT_LINE.search(text)
        if audit:
            entry["build_id"], entry["audit"] = audit.group(1), audit.group(2)
            entry["dbt"] = dbt_summary(audit.group(1))
        status = "" if m.exit_code == 0 else f"  EXIT {m.exit_code}"
        print(
            f"  {LABELS[step]:32s} {m.seconds:8.1f} s  CPU {m.cpu_seconds:7.1f} s  "
            f"peak {m.peak_rss_bytes / 1e9:5.2f} GB  spill {spill.peak / 1e9:5.2f} GB{status}",
            flush=True,
        )
        for s in entry["stages"]:
            print(f"      {s['stage']:14s} {s['seconds']:7.1f} s")
        return entry


# ---------------------------------------------------------------- the run


def _ratios(result: dict) -> None:
    full = result["steps"].get("full")
    if not full:
        return
    for entry in result["steps"].values():
        entry["time_ratio"] = entry["seconds"] / full["seconds"]
        entry["cpu_ratio"] = entry["cpu_seconds"] / full["cpu_seconds"]
        entry["memory_ratio"] = entry["peak_rss_bytes"] / full["peak_rss_bytes"]


def _save(result: dict, path: Path) -> None:
    _ratios(result)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def _default_lists(size: str) -> dict[str, str]:
    """The lists `make bench` published for this size (a build at the default memory limit)."""
    path = rb.RESULTS / f"{size}.json"
    if not path.exists():
        return {}
    return (
        json.loads(path.read_text(encoding="utf-8"))
        .get("check", {})
        .get("published_csv_sha256", {})
    )


@dataclass
class Nights:
    """The four nights of one run on one home, in order; each checks what it did and saves the
    results (a run stopped half-way keeps the nights that finished)."""

    args: argparse.Namespace
    work: Path
    set_dir: Path
    settings: Settings
    night: Night
    result: dict
    path: Path

    @property
    def db(self) -> Path:
        return self.settings.serving_db

    @property
    def new_year(self) -> int:
        return max(self.result["years"]) + 1

    @property
    def delivery_dir(self) -> Path:
        return self.work / "increment_delivery"

    def done(self, step: str, entry: dict, checks: dict | None = None) -> None:
        self.result["steps"][step] = entry
        if checks is not None:
            self.result["checks"][step] = checks
        _save(self.result, self.path)

    def fail(self, step: str, entry: dict, message: str) -> BenchError:
        entry["failed"] = message
        self.done(step, entry)
        return BenchError(f"{LABELS[step]}: {message}")

    def full(self) -> None:
        entry = self.night.run("full")
        if entry["exit_code"] != 0 or entry.get("audit") != "passed":
            raise self.fail(
                "full", entry, f"eduq run failed or its audit did not pass:\n{entry['output_tail']}"
            )
        lists = published_lists(self.settings.home)
        default = _default_lists(self.args.size)
        same = {name: default.get(name) == digest for name, digest in lists.items()}
        checks = {
            "published": lists,
            "default_lists": default,
            "equals_default": same if default else None,
            "procedure_results": counts_digest(self.db, "true", [])[0],
        }
        self.done("full", entry, checks)
        for name, digest in lists.items():
            verdict = (
                "no default-limit run to compare"
                if not default
                else "= the default-limit build's"
                if same[name]
                else f"≠ the default-limit build's {default.get(name)}"
            )
            print(f"    published {name}: SHA-256 {digest} ({verdict})")

    def nothing_new(self) -> None:
        entry = self.night.run("nothing_new")
        if entry["exit_code"] != 0 or "nothing to do" not in entry["output_tail"]:
            raise self.fail(
                "nothing_new",
                entry,
                f"expected a night with nothing to do:\n{entry['output_tail']}",
            )
        self.done("nothing_new", entry)

    def increment(self) -> dict:
        """One region's new results year; returns the delivery."""
        year, args = self.new_year, self.args
        generated = self.delivery_dir / "generated"
        shutil.rmtree(generated, ignore_errors=True)
        command = rb.eduq_command() + [
            "generate", "--regions", "1", "--schools", str(args.schools), "--seed", str(args.seed),
            "--years", str(year), "--out", str(generated),
        ]  # fmt: skip
        log = self.work / "logs" / f"increment-{args.size}-generate.log"
        g = run("generate", command, env=rb._env(), log=log)
        if g.exit_code != 0:
            raise BenchError(
                f"eduq generate of region {REGION_CODE}, {year} failed:\n{g.output_tail}"
            )
        earlier = counts_digest(self.db, "year < ?", [year])
        delivery = deliver_region_year(
            self.set_dir,
            generated,
            year,
            self.delivery_dir / "delivered",
            self.settings.landing_dir,
        )
        print(
            f"  delivered {delivery['region']} {year}: {len(delivery['files'])} files, "
            f"{delivery['rows']:,} rows (the rows of {len(delivery['closed_schools_left_out'])} "
            "schools the set closed left out)",
            flush=True,
        )
        entry = self.night.run("increment")
        if entry["exit_code"] != 0:
            raise self.fail("increment", entry, f"eduq run failed:\n{entry['output_tail']}")
        try:
            check_loaded_whole(self.db, delivery["files"])
        except BenchError as exc:
            raise self.fail("increment", entry, str(exc)) from exc
        marks = vpr_mark_counts(self.delivery_dir / "delivered" / _vpr_file(delivery)["path"])
        expected = expected_vpr_counts(self.db, year, marks)
        got = warehouse_vpr_counts(self.db, year, {school for school, _ in expected})
        if got != expected:
            wrong = sorted(set(got.items()) ^ set(expected.items()))[:5]
            raise self.fail(
                "increment", entry, f"ВПР counts of {year} differ from the delivered file: {wrong}"
            )
        if counts_digest(self.db, "year < ?", [year]) != earlier:
            raise self.fail("increment", entry, f"the counts of the years before {year} changed")
        checks = {
            "delivery": delivery,
            "vpr_school_procedures_checked": len(expected),
            "vpr_participants_checked": sum(n for n, _ in expected.values()),
            "earlier_years_unchanged": earlier[0],
            "published": published_lists(self.settings.home),
        }
        self.done("increment", entry, checks)
        print(
            f"    checked: every file loaded whole; ВПР N and F of {len(expected):,} school × "
            f"procedures of {year} = the delivered file's; {earlier[0]:,} counts of earlier "
            "years unchanged"
        )
        return delivery

    def correction(self, delivery: dict) -> None:
        year = self.new_year
        folder = self.delivery_dir / "correction"
        shutil.rmtree(folder, ignore_errors=True)
        delivered = self.delivery_dir / "delivered" / _vpr_file(delivery)["path"]
        correction = write_correction(delivered, folder, year)
        subject = (CORRECTED_SUBJECT.lower(), CORRECTED_GRADE)
        procedure = vpr_procedures(self.db, year)[subject][0]
        correction["procedure_code"] = procedure
        key = [correction["school_id"], procedure, year]
        before = procedure_counts(self.db, *key)
        rest = "not (school_id = ? and procedure_code = ? and year = ?)"
        rest_before = counts_digest(self.db, rest, key)
        landing = self.settings.landing_dir / delivery["region"] / "vpr" / correction["file"]
        os.link(folder / correction["file"], landing)
        print(
            f"  delivered a correction: {correction['school_id']} {procedure} {year}, "
            f"{correction['rows']} rows, participant {correction['participant_code']} mark 3 → 2",
            flush=True,
        )
        entry = self.night.run("correction")
        if entry["exit_code"] != 0:
            raise self.fail("correction", entry, f"eduq run failed:\n{entry['output_tail']}")
        delivered_file = {k: correction[k] for k in ("rows", "sha256")} | {"path": landing.name}
        try:
            check_loaded_whole(self.db, [delivered_file])
        except BenchError as exc:
            raise self.fail("correction", entry, str(exc)) from exc
        after = procedure_counts(self.db, *key)
        wanted = None if before is None else (before[0], before[1] + 1)
        if before is None or after != wanted:
            raise self.fail(
                "correction",
                entry,
                f"{correction['school_id']} {procedure} {year}: N, F were {before}, expected "
                f"{wanted}, got {after}",
            )
        if counts_digest(self.db, rest, key) != rest_before:
            raise self.fail("correction", entry, "counts other than the corrected school's changed")
        self.result["complete"] = True
        checks = {
            **correction,
            "before": before,
            "after": after,
            "other_counts_unchanged": rest_before[0],
            "published": published_lists(self.settings.home),
        }
        self.done("correction", entry, checks)
        print(
            f"    checked: {correction['school_id']} {procedure} {year} N, F {before} → {after}; "
            f"{rest_before[0]:,} other counts unchanged"
        )


def _vpr_file(delivery: dict) -> dict:
    return next(f for f in delivery["files"] if f["source"] == "vpr_results")


def _bench(args: argparse.Namespace) -> int:
    from synthetic.spec import parse_years

    years = list(parse_years(args.years))
    work = args.work.resolve()
    work.mkdir(parents=True, exist_ok=True)
    set_dir, _ = rb.ensure_set(work, args.size, args.seed, args.years, args.jobs, args.schools)
    manifest = json.loads((set_dir / "region_manifest.json").read_text(encoding="utf-8"))
    by_source = manifest["rows_by_source"]
    home = work / "increment_home"
    rb.fresh_home(home, set_dir, manifest)
    extra = {"EDUQ_DUCKDB_MEMORY_LIMIT": args.memory_limit} if args.memory_limit else {}
    env = rb.eduq_env(home, years, **extra)
    settings = load_settings(env)
    saving = args.schools == rb.SCHOOLS_PER_REGION
    result: dict = {
        "size": args.size,
        "regions": manifest["parameters"]["regions"],
        "schools": manifest["schools"],
        "rows": manifest["rows"],
        "result_rows": by_source.get("vpr_results", 0) + by_source.get("gia_results", 0),
        "years": years,
        "seed": args.seed,
        "date": dt.date.today().isoformat(),
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": rb.machine(),
        "code": rb.git_commit(),
        "memory_limit": {
            "requested": args.memory_limit,
            "effective": settings.duckdb_memory_limit,
            "threads": settings.duckdb_threads,
            "spill_dir": str(settings.spill_dir),
        },
        "complete": False,
        "steps": {},
        "checks": {},
    }
    print(
        f"size {args.size}: {manifest['schools']:,} schools, {result['result_rows']:,} result rows; "
        f"DuckDB memory limit {settings.duckdb_memory_limit}"
        f"{'' if args.memory_limit else ' (default)'}, spilling to {settings.spill_dir}",
        flush=True,
    )
    nights = Nights(
        args,
        work,
        set_dir,
        settings,
        Night(work, args.size, env, settings.spill_dir),
        result,
        (rb.RESULTS if saving else work) / f"increment-{args.size}.json",
    )
    nights.full()
    nights.nothing_new()
    nights.correction(nights.increment())
    print()
    print(render_table(result))
    print(f"\nresults: {nights.path}")
    if not args.keep_home:
        shutil.rmtree(home, ignore_errors=True)
    if saving and not args.no_docs:
        print(f"docs: {render()}")
    return 0


# ---------------------------------------------------------------- the report


def _gb(value: float) -> str:
    return f"{value / 1e9:.2f} GB" if value >= 1e8 else f"{value / 1e6:.0f} MB"


def _seconds(value: float) -> str:
    return f"{value:.1f} s" if value < 100 else f"{value:.0f} s"


def render_table(result: dict) -> str:
    lines = [
        f"{'':34s} {'wall':>9s} {'x full':>7s} {'CPU':>9s} {'peak memory':>12s} {'x full':>7s}"
    ]
    for step in STEPS:
        s = result["steps"].get(step)
        if s is None:
            continue
        lines.append(
            f"{LABELS[step]:34s} {s['seconds']:>7.1f} s {s.get('time_ratio', 0):>6.2f}x "
            f"{s['cpu_seconds']:>7.1f} s {s['peak_rss_bytes'] / 1e9:>9.2f} GB "
            f"{s.get('memory_ratio', 0):>6.2f}x"
        )
    return "\n".join(lines)


def _step_label(step: str, result: dict) -> str:
    checks = result.get("checks", {})
    if step == "increment" and "increment" in checks:
        d = checks["increment"]["delivery"]
        return (
            f"{LABELS[step]} ({d['region']}, {d['year']}: {len(d['files'])} files, "
            f"{d['rows'] / 1e6:.2f} million rows)"
        )
    if step == "correction" and "correction" in checks:
        c = checks["correction"]
        return f"{LABELS[step]} ({c['school_id']}, {c['procedure_code']} {c['year']}: {c['rows']} rows, one mark 3 → 2)"
    return LABELS[step]


def _short(name: str, width: int = 64) -> str:
    return name if len(name) <= width else name[: width - 1] + "…"


def _section(result: dict) -> str:
    m, code, limit = result["machine"], result["code"], result["memory_limit"]
    regions = result["regions"]
    steps = result["steps"]
    out = [
        (
            f"### {regions} region{'s' if regions > 1 else ''}: {result['schools']:,} schools, "
            f"{result['result_rows'] / 1e6:.1f} million result rows; DuckDB memory limit "
            f"{limit['effective']}{'' if limit['requested'] else ' (default)'}\n"
        ),
        f"Measured {result['date']} on {m['cpu']}, {m['cores']} cores, "
        f"{m['memory_bytes'] / 2**30:.0f} GiB (Python {m['python']}, DuckDB {m['duckdb']}); code "
        f"{code['commit']} on `{code['branch']}`"
        + (" with uncommitted changes" if code.get("dirty") else "")
        + "; load average "
        + ", ".join(f"{steps[s]['load_average']:.1f}" for s in STEPS if s in steps)
        + " at the start of each night."
        + ("" if result.get("complete") else " **Not complete**: the nights missing did not run.")
        + "\n",
        "| night | wall time | × full build | CPU time | peak memory | × full build | DuckDB spill (peak) |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for step in STEPS:
        s = steps.get(step)
        if s is None:
            continue
        out.append(
            f"| {_step_label(step, result)}{' — FAILED' if s.get('failed') else ''} | "
            f"{_seconds(s['seconds'])} | {s.get('time_ratio', 1):.2f}× | {_seconds(s['cpu_seconds'])} | "
            f"{_gb(s['peak_rss_bytes'])} | {s.get('memory_ratio', 1):.2f}× | "
            f"{_gb(s.get('spill_peak_bytes', 0)) if s.get('spill_peak_bytes') else '–'} |"
        )
    out.append("\nSeconds per stage (timed from the stage lines `eduq run` prints):\n")
    out.append("| night | " + " | ".join(STAGE_COLUMNS) + " |")
    out.append("|---|" + "---:|" * len(STAGE_COLUMNS))
    for step in STEPS:
        s = steps.get(step)
        if s is None or not s.get("stages"):
            continue
        seconds = {st["stage"]: st["seconds"] for st in s["stages"]}
        out.append(
            f"| {LABELS[step]} | "
            + " | ".join(_seconds(seconds[c]) if c in seconds else "–" for c in STAGE_COLUMNS)
            + " |"
        )
    for step in STEPS:
        dbt = (steps.get(step) or {}).get("dbt")
        if not dbt:
            continue
        statuses = ", ".join(f"{n} {k}" for k, n in sorted(dbt["by_status"].items()))
        by_type = ", ".join(f"{k}s {v:.0f} s" for k, v in dbt["seconds_by_type"].items())
        slow = ", ".join(f"`{_short(n['node'])}` {n['seconds']:.1f} s" for n in dbt["slowest"][:5])
        out.append(
            f"\ndbt, {LABELS[step]}: {dbt['nodes']} nodes ({statuses}); node time summed over "
            f"dbt's threads: {by_type}; slowest: {slow}."
        )
    checks = result.get("checks", {})
    notes = []
    if "full" in checks:
        c = checks["full"]
        for name, digest in c["published"].items():
            same = (c.get("equals_default") or {}).get(name)
            notes.append(
                f"published `{name}` SHA-256 `{digest}`"
                + (
                    ""
                    if same is None
                    else " — the same as the default-limit build's (bench/results/"
                    f"{result['size']}.json)"
                    if same
                    else " — **different** from the default-limit build's"
                )
            )
    previous = (checks.get("full") or {}).get("published", {})
    for step in ("increment", "correction"):
        if step not in checks:
            continue
        new = sorted(set(checks[step]["published"]) - set(previous))
        previous = checks[step]["published"]
        notes.append(
            f"the night «{LABELS[step]}» published "
            + (", ".join(f"`{n}`" for n in new) if new else "no new list version")
        )
    if "increment" in checks:
        c = checks["increment"]
        notes.append(
            f"the new year's files loaded whole; the ВПР N and F of {c['vpr_school_procedures_checked']:,} "
            f"school × procedures ({c['vpr_participants_checked']:,} participants) equal those counted "
            f"from the delivered file; the {c['earlier_years_unchanged']:,} counts of earlier years are unchanged"
        )
    if "correction" in checks:
        c = checks["correction"]
        notes.append(
            f"after the correction {c['school_id']} × {c['procedure_code']} {c['year']} has N, F = "
            f"{tuple(c['after'])} (before {tuple(c['before'])}); the other "
            f"{c['other_counts_unchanged']:,} counts are unchanged"
        )
    if notes:
        out.append("\nChecked: " + "; ".join(notes) + ".")
    for note in result.get("workarounds", []):  # recorded by earlier versions of this benchmark
        out.append(f"\nWorkaround in this run: {note}.")
    out.append("")
    return "\n".join(out)


def render(doc: Path = DOC) -> Path:
    """Replace the part of ``doc`` between the bench:increment markers with every
    bench/results/increment-*.json, smallest size first."""
    results = sorted(
        (json.loads(p.read_text(encoding="utf-8")) for p in rb.RESULTS.glob("increment-*.json")),
        key=lambda r: (r["regions"], r["memory_limit"]["requested"] or ""),
    )
    text = doc.read_text(encoding="utf-8")
    if START not in text or END not in text:
        raise BenchError(f"{doc}: the markers {START} and {END} are missing")
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    body = "\n".join(_section(r) for r in results)
    doc.write_text(f"{head}{START}\n{body}\n{END}{tail}", encoding="utf-8")
    return doc


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", default=os.environ.get("BENCH_SIZE") or "region",
                        help="region (1 region), 10, country (85) or a number of regions")  # fmt: skip
    parser.add_argument("--seed", type=int, default=int(os.environ.get("BENCH_SEED") or 42))
    parser.add_argument(
        "--years",
        default=os.environ.get("BENCH_YEARS") or "2023-2024",
        help="results years of the set (default 2023-2024, as make bench); the new year is the next",
    )
    parser.add_argument(
        "--memory-limit",
        default=os.environ.get("BENCH_MEMORY_LIMIT") or None,
        help="EDUQ_DUCKDB_MEMORY_LIMIT for every night (e.g. 2GB; default: eduq's default)",
    )
    parser.add_argument("--jobs", type=int, default=2, help="generation worker processes")
    parser.add_argument(
        "--schools",
        type=int,
        default=int(os.environ.get("BENCH_SCHOOLS") or rb.SCHOOLS_PER_REGION),
        help="schools per region (default 450; another number is a try: results stay in the "
        "work folder, docs are not rendered)",
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
    parser.add_argument("--no-docs", action="store_true", help="do not rewrite docs/performance.md")
    parser.add_argument("--keep-home", action="store_true", help="keep eduq's warehouse afterwards")
    parser.add_argument(
        "--render", action="store_true", help="only redraw the docs section from the results files"
    )
    args = parser.parse_args(argv)
    if args.render:
        print(f"docs: {render()}")
        return 0
    if args.size not in rb.SIZES and not (args.size.isdigit() and 1 <= int(args.size) <= 99):
        parser.error(f"--size: region, 10, country or a number of regions 1..99, not {args.size!r}")
    try:
        return _bench(args)
    except rb.BenchError as exc:
        print(f"\nbench: {exc}", file=sys.stderr)
        return exc.code


if __name__ == "__main__":
    sys.exit(main())
