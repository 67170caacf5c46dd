"""`kill -9` of `eduq run` at seeded random points, and the invariants checked after each kill.

A group starts from a fresh home whose landing folder holds a generated region. `eduq run` is started
as a real process; a stage is drawn (loading, dbt, audit, promotion, publication of the marts files or
of the list) and a delay within that stage's duration in a clean run; when the run announces the
stage on its terminal, the delay passes and the process gets SIGKILL. After each kill:

- the home's lock is free (the kernel released it) and names the dead process: a stale lock;
- the candidate warehouse opens (on a copy: the WAL is replayed there, nothing is changed); every
  loaded file's rows in ``raw.<source>`` and ``raw._quarantine`` are what its load-log line says
  (no half-loaded file), no row belongs to a file without a load-log line, no content is loaded twice;
- no delivered file is lost: each is still in the landing folder or has a load-log line;
- the serving warehouse, when there is one, opens read-only and carries a passed audit record;
- every published version folder (``v<N>``) is complete: its manifest exists and every file it lists
  has the listed SHA-256.

The next `eduq run` in the group resumes (and may be killed again). When a run completes, its
published list (CSV, Parquet, XLSX) and marts files must be byte-identical to a clean run's, and the
lock file must no longer name a dead process. The report counts kills per stage and failures.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parents[2]
EDUQ = ROOT / ".venv" / "bin" / "eduq"
STAGES = {  # a stage's key, and how its first line on the terminal begins
    "load": "survey the landing folder",
    "dbt": "dbt build",
    "audit": "audit:",
    "promote": "promote the audited",
    "publish_marts": "publish the marts files",
    "publish_list": "publish the ШНОР list",
}
STAGE_LINE = re.compile(r"^\[\s*[\d.]+ (?:s|min)\] (.*)$")


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def env_for(home: Path, today: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EDUQ_") and k != "DAGSTER_HOME"}
    env.update(
        {
            "EDUQ_HOME": str(home),
            "EDUQ_TODAY": today,
            "DAGSTER_HOME": str(home / "dagster"),
            "EDUQ_LOCK_WAIT_SECONDS": "0",
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "False",
            "DO_NOT_TRACK": "1",
            "GX_ANALYTICS_ENABLED": "False",
        }
    )
    return env


@dataclass
class RunResult:
    returncode: int | None
    killed: bool
    stage: str | None  # the stage the kill targeted
    stage_started: dict[str, float] = field(default_factory=dict)  # seconds after start
    seconds: float = 0.0
    stdout: str = ""
    stderr: str = ""


def run_eduq(
    home: Path,
    today: str,
    kill_stage: str | None = None,
    kill_delay: float = 0.0,
    timeout: float = 900.0,
) -> RunResult:
    """`eduq run` as a real process; SIGKILL ``kill_delay`` seconds after it announces
    ``kill_stage`` (never, when None or when the stage does not come)."""
    started = time.monotonic()
    proc = subprocess.Popen(
        [str(EDUQ), "run"],
        cwd=ROOT,
        env=env_for(home, today),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    seen: dict[str, float] = {}
    lines: list[str] = []
    killed = threading.Event()

    def kill_later() -> None:
        time.sleep(kill_delay)
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)  # only the run itself, as a real kill -9
            killed.set()

    def read_stderr() -> None:
        for line in proc.stderr:
            lines.append(line)
            match = STAGE_LINE.match(line.strip())
            if not match:
                continue
            for key, prefix in STAGES.items():
                if match.group(1).startswith(prefix) and key not in seen:
                    seen[key] = time.monotonic() - started
                    if key == kill_stage:
                        threading.Thread(target=kill_later, daemon=True).start()

    reader = threading.Thread(target=read_stderr, daemon=True)
    reader.start()
    try:
        stdout = proc.stdout.read()
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        raise
    reader.join(timeout=30)
    return RunResult(
        proc.returncode,
        killed.is_set(),
        kill_stage,
        seen,
        time.monotonic() - started,
        stdout,
        "".join(lines),
    )


# --------------------------------------------------------------------------- invariants


def _open_copy(db: Path, scratch: Path) -> duckdb.DuckDBPyConnection:
    """A connection to a copy of ``db`` with its WAL (opening it replays the log; ``db`` untouched)."""
    scratch.mkdir(parents=True, exist_ok=True)
    target = scratch / db.name
    shutil.copyfile(db, target)
    wal = db.with_name(db.name + ".wal")
    if wal.exists():
        shutil.copyfile(wal, target.with_name(target.name + ".wal"))
    return duckdb.connect(str(target))


def check_invariants(home: Path, delivered: dict[str, str], dead_pid: int | None) -> list[str]:
    """What is wrong with ``home`` after a kill (empty: nothing). ``delivered``: sha256 -> name of
    every file delivered into its landing folder."""
    from core.run_lock import is_locked, read_holder

    problems: list[str] = []
    if is_locked(home):
        problems.append("the lock is still held after the run died")
    holder = read_holder(home)
    if dead_pid is not None and holder is not None and holder.pid not in (None, dead_pid):
        problems.append(f"the lock names PID {holder.pid}, not the killed run {dead_pid}")

    warehouse = home / "warehouse"
    candidate = warehouse / "candidate.duckdb"
    loaded_hashes: set[str] = set()
    if candidate.exists():
        with tempfile.TemporaryDirectory(prefix="eduq_kill_check_") as scratch:
            try:
                con = _open_copy(candidate, Path(scratch))
            except duckdb.Error as exc:
                return [*problems, f"the candidate warehouse does not open: {exc}"]
            with con:
                problems += _check_raw(con, loaded_hashes)
    landing = home / "landing"
    pending = {
        sha256(p)
        for p in landing.rglob("*")
        if p.is_file() and "rejected" not in p.relative_to(landing).parts
    }
    rejected = {
        sha256(p)
        for p in (landing / "rejected").glob("*")
        if p.is_file() and not p.name.endswith(".reason.txt")
    }
    for digest, name in sorted(delivered.items(), key=lambda kv: kv[1]):
        if digest not in pending | loaded_hashes | rejected:
            problems.append(f"delivered file {name} is lost (neither waiting nor loaded)")

    serving = warehouse / "serving.duckdb"
    if serving.exists():
        from gate.promote import serving_audit

        try:
            with duckdb.connect(str(serving), read_only=True) as con:
                audit = serving_audit(con)
                con.execute("select count(*) from marts.fct_shnor_list").fetchone()
        except duckdb.Error as exc:
            problems.append(f"the serving warehouse does not open read-only: {exc}")
        else:
            if audit is None or not audit.passed:
                problems.append("the serving warehouse carries no passed audit record")
    problems += check_publications(home / "publications")
    return problems


def _check_raw(con: duckdb.DuckDBPyConnection, loaded_hashes: set[str]) -> list[str]:
    problems = []
    has_log = con.execute(
        "select count(*) from duckdb_tables() where schema_name = 'raw' and table_name = '_load_log'"
    ).fetchone()[0]
    if not has_log:
        return problems
    rows = con.execute(
        "select file_id, source, file_name, file_hash, status, rows_read, rows_loaded, "
        "rows_quarantined from raw._load_log order by file_id"
    ).fetchall()
    tables = {
        r[0]
        for r in con.execute(
            "select table_name from duckdb_tables() where schema_name = 'raw' "
            "and table_name not like '\\_%' escape '\\'"
        ).fetchall()
    }
    seen_loaded: Counter = Counter()
    for file_id, source, name, digest, status, read, loaded, quarantined in rows:
        if status in ("loaded", "duplicate"):
            loaded_hashes.add(digest)
        if status != "loaded":
            continue
        seen_loaded[digest] += 1
        if read != loaded + quarantined:
            problems.append(f"{name}: read {read} != loaded {loaded} + quarantined {quarantined}")
        if source in tables:
            in_raw = con.execute(
                f'select count(*) from raw."{source}" where _file_id = ?', [file_id]
            ).fetchone()[0]
            if in_raw != loaded:
                problems.append(
                    f"{name}: {in_raw} rows in raw.{source}, the load log says {loaded}"
                )
        in_q = con.execute(
            "select count(distinct row_number) from raw._quarantine where file_id = ?", [file_id]
        ).fetchone()[0]
        if in_q != quarantined:
            problems.append(f"{name}: {in_q} quarantined rows, the load log says {quarantined}")
    for digest, n in seen_loaded.items():
        if n > 1:
            problems.append(f"content {digest[:12]} loaded {n} times")
    logged = {r[0] for r in rows if r[4] == "loaded"}
    for table in sorted(tables):
        orphans = con.execute(
            f'select count(*) from raw."{table}" where _file_id not in '
            f"(select file_id from raw._load_log where status = 'loaded')"
        ).fetchone()[0]
        if orphans:
            problems.append(f"raw.{table}: {orphans} rows of a file without a load-log line")
    del logged
    return problems


def check_publications(root: Path) -> list[str]:
    problems = []
    if not root.exists():
        return problems
    for folder in sorted(
        p for p in root.rglob("v*") if p.is_dir() and re.fullmatch(r"v\d+", p.name)
    ):
        manifests = [folder / n for n in ("manifest.json", "datapackage.json")]
        present = [m for m in manifests if m.exists()]
        if not present:
            problems.append(f"{folder.relative_to(root)}: a version folder without its manifest")
            continue
        data = json.loads(present[0].read_text(encoding="utf-8"))
        for entry in data.get("files", []) if isinstance(data.get("files"), list) else []:
            if not isinstance(entry, dict) or "name" not in entry:
                continue
            path = folder / entry["name"]
            if not path.exists():
                problems.append(f"{folder.relative_to(root)}: {entry['name']} is missing")
            elif entry.get("sha256") and sha256(path) != entry["sha256"]:
                problems.append(
                    f"{folder.relative_to(root)}: {entry['name']} differs from its hash"
                )
    return problems


def published_bytes(home: Path, list_year: int) -> dict[str, str]:
    """sha256 of the latest published list files and marts files (what must equal a clean run's)."""
    out = {}
    base = home / "publications" / str(list_year)
    for sub, pattern in (("", "shnor_list_*"), ("marts", "*.csv")):
        folder = base / sub if sub else base
        versions = sorted(
            (int(p.name[1:]), p)
            for p in folder.glob("v*")
            if re.fullmatch(r"v\d+", p.name) and p.is_dir()
        )
        if not versions:
            continue
        for path in sorted(versions[-1][1].glob(pattern)):
            out[f"{sub or 'list'}/{path.name}"] = sha256(path)
    return out


# --------------------------------------------------------------------------- the campaign


@dataclass
class KillReport:
    seed: int
    kills: Counter = field(default_factory=Counter)  # stage -> kills
    runs: int = 0
    completed_groups: int = 0
    identical_groups: int = 0
    failures: list[str] = field(default_factory=list)
    stale_locks_cleared: int = 0
    seconds: float = 0.0
    clean_seconds: float = 0.0

    def render(self) -> str:
        total = sum(self.kills.values())
        lines = [
            (
                f"kill -9 campaign, seed {self.seed}: {total} kills in {self.runs} runs, "
                f"{self.seconds / 60:.1f} min (a clean run: {self.clean_seconds:.0f} s)"
            ),
            "  kills by stage: " + ", ".join(f"{k} {v}" for k, v in sorted(self.kills.items())),
            f"  invariants checked after each kill: {total} times, {len(self.failures)} failures",
            f"  stale locks recognised and cleared by the next run: {self.stale_locks_cleared}",
            (
                f"  groups resumed to completion: {self.completed_groups}, published list and marts "
                f"files byte-identical to the clean run: {self.identical_groups}"
            ),
        ]
        lines += [f"  FAILURE {f}" for f in self.failures]
        return "\n".join(lines)


def campaign(
    work: Path,
    seed: int = 1,
    kills: int = 30,
    schools: int = 16,
    years: tuple[int, ...] = (2022, 2023, 2024),
    max_kills_per_group: int = 3,
    log=print,
    stages: tuple[str, ...] = (),
) -> KillReport:
    from synthetic import generate_region

    today = f"{max(years) + 1}-11-01"
    list_year = max(years) + 1
    rng = random.Random(seed)
    report = KillReport(seed)
    started = time.monotonic()
    delivered_dir = work / "delivered"
    generate_region(delivered_dir, seed=seed, schools=schools, years=years)
    delivered = {
        sha256(p): str(p.relative_to(delivered_dir))
        for p in delivered_dir.rglob("*")
        if p.is_file()
    }

    clean_home = work / "clean"
    shutil.copytree(delivered_dir, clean_home / "landing")
    clean = run_eduq(clean_home, today)
    if clean.returncode != 0:
        raise RuntimeError(f"the clean run failed:\n{clean.stdout}\n{clean.stderr[-3000:]}")
    report.clean_seconds = clean.seconds
    expected = published_bytes(clean_home, list_year)
    if not expected:
        raise RuntimeError("the clean run published nothing")
    windows = _stage_windows(clean)
    if stages:  # a campaign aimed at some stages (e.g. only inside the load)
        windows = {k: v for k, v in windows.items() if k in stages}
    log(
        f"clean run: {clean.seconds:.0f} s, stages "
        + ", ".join(f"{k} {v[1]:.1f} s" for k, v in windows.items())
    )

    group = 0
    while sum(report.kills.values()) < kills:
        group += 1
        home = work / f"group{group:02d}"
        shutil.copytree(delivered_dir, home / "landing")
        killed_in_group = 0
        dead_pid: int | None = None
        while True:
            stage = delay = None
            if killed_in_group < max_kills_per_group and sum(report.kills.values()) < kills:
                stage = rng.choice(sorted(windows))
                delay = rng.uniform(0, windows[stage][1])
            result = run_eduq(home, today, stage, delay or 0.0)
            report.runs += 1
            if dead_pid is not None:
                holder = _lock_holder(home)
                if holder != dead_pid:
                    report.stale_locks_cleared += 1
                elif "nothing to do" not in result.stdout:  # a no-op night takes no lock
                    report.failures.append(
                        f"group {group}: the stale lock of {dead_pid} was not cleared"
                    )
            if result.killed:
                killed_in_group += 1
                report.kills[stage] += 1
                dead_pid = _lock_holder(home)
                problems = check_invariants(home, delivered, dead_pid)
                log(
                    f"group {group} kill {sum(report.kills.values())}: {stage} +{delay:.1f} s "
                    f"({result.seconds:.0f} s into the run): "
                    + ("invariants hold" if not problems else "; ".join(problems))
                )
                report.failures += [f"group {group}, {stage} +{delay:.1f} s: {p}" for p in problems]
                continue
            dead_pid = None
            if result.returncode != 0:
                report.failures.append(
                    f"group {group}: a resumed run failed ({result.returncode}): "
                    f"{result.stderr[-1500:]}"
                )
                break
            report.completed_groups += 1
            got = published_bytes(home, list_year)
            if got == expected:
                report.identical_groups += 1
                log(f"group {group}: completed; published files identical to the clean run")
            else:
                diff = sorted(k for k in set(got) | set(expected) if got.get(k) != expected.get(k))
                report.failures.append(f"group {group}: published files differ: {diff}")
            problems = check_invariants(home, delivered, None)
            report.failures += [f"group {group}, after completion: {p}" for p in problems]
            break
        shutil.rmtree(home, ignore_errors=True)
    report.seconds = time.monotonic() - started
    return report


def _lock_holder(home: Path) -> int | None:
    from core.run_lock import read_holder

    holder = read_holder(home)
    return holder.pid if holder else None


def _stage_windows(result: RunResult) -> dict[str, tuple[float, float]]:
    """Each stage's (start, duration) in a run, from the times its lines appeared."""
    ordered = sorted(result.stage_started.items(), key=lambda kv: kv[1])
    out = {}
    for i, (key, start) in enumerate(ordered):
        end = ordered[i + 1][1] if i + 1 < len(ordered) else result.seconds
        out[key] = (start, max(end - start, 0.2))
    return out
