"""`kill -9` of a Dagster-launched run of eduq's jobs at seeded random points, the invariants of
tests/reliability/kill.py checked after each kill.

A night is what the schedule and the sensors start: a run of the job ``nightly_load`` (the schedule,
or the landing sensor), then, when it succeeded, a run of ``publish_list`` for the latest list year
(the run-status sensor ``publish_after_load``: the list, the regional report, the school cards and
the marts files). Each run is a real ``dagster job execute`` process on the project's definitions and
the home's own Dagster instance (DAGSTER_HOME), executing the job in process as a run worker does
(the jobs use the in-process executor). Its stages are read from Dagster's own STEP_START events;
a stage is drawn at random (seeded) and a delay within that stage's duration in a clean night, and the
run process gets SIGKILL that long after its step starts. The next night resumes (and may be killed
again); the next run must say it cleared the stale lock of the killed one. When a night completes,
the published list and marts files must be byte-identical to a clean `eduq run`'s.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from tests.reliability.kill import (
    ROOT,
    RunResult,
    check_invariants,
    env_for,
    published_bytes,
    run_eduq,
    sha256,
)

DAGSTER = Path(sys.executable).with_name("dagster")
STEP_START = re.compile(r" - (\d+) - (\S+) - STEP_START - ")
# the job each stage belongs to, and its step
STEPS = {
    "load": ("nightly_load", "ingestion"),
    "dbt": ("nightly_load", "eduq_dbt_models"),
    "audit": ("nightly_load", "warehouse__audit"),
    "promote": ("nightly_load", "warehouse__serving"),
    "publish_marts": ("publish_list", "publications__marts"),
    "publish_report": ("publish_list", "publications__regional_report"),
    "publish_cards": ("publish_list", "publications__school_cards"),
    "publish_list": ("publish_list", "publications__shnor_list"),
}
DAGSTER_YAML = "telemetry:\n  enabled: false\n"


def job_args(job: str, list_year: int) -> list[str]:
    args = [str(DAGSTER), "job", "execute", "-m", "orchestration.definitions", "-j", job]
    if job == "publish_list":  # the partition the run-status sensor asks for
        args += ["--tags", json.dumps({"dagster/partition": str(list_year)})]
    return args


def run_job(
    home: Path,
    today: str,
    job: str,
    list_year: int,
    kill_stage: str | None = None,
    kill_delay: float = 0.0,
    timeout: float = 900.0,
) -> RunResult:
    """One Dagster run of ``job`` as a real process; SIGKILL ``kill_delay`` seconds after the step of
    ``kill_stage`` starts (never, when None or when the step does not come)."""
    started = time.monotonic()
    proc = subprocess.Popen(
        job_args(job, list_year),
        cwd=ROOT,
        env=env_for(home, today),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    seen: dict[str, float] = {}
    lines: list[str] = []
    killed = threading.Event()
    steps = {step: stage for stage, (j, step) in STEPS.items() if j == job}

    def kill_later() -> None:
        time.sleep(kill_delay)
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)  # the run worker itself, as a real kill -9
            killed.set()

    try:
        for line in proc.stdout:
            lines.append(line)
            match = STEP_START.search(line)
            if not match or match.group(2) not in steps:
                continue
            if int(match.group(1)) != proc.pid:  # the run executes in the launched process
                lines.append(f"UNEXPECTED: the step ran in PID {match.group(1)}\n")
            stage = steps[match.group(2)]
            if stage not in seen:
                seen[stage] = time.monotonic() - started
                if stage == kill_stage:
                    threading.Thread(target=kill_later, daemon=True).start()
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        raise
    return RunResult(
        proc.returncode,
        killed.is_set(),
        kill_stage,
        seen,
        time.monotonic() - started,
        "",
        "".join(lines),
    )


def night(
    home: Path, today: str, list_year: int, kill_stage: str | None = None, delay: float = 0.0
) -> list[RunResult]:
    """A night as the schedule and the sensors run it: nightly_load, then publish_list when it
    succeeded. Stops at the run that was killed or failed."""
    runs = []
    for job in ("nightly_load", "publish_list"):
        stage = kill_stage if kill_stage and STEPS[kill_stage][0] == job else None
        result = run_job(home, today, job, list_year, stage, delay)
        runs.append(result)
        if result.killed or result.returncode != 0:
            break
    return runs


@dataclass
class DagsterKillReport:
    seed: int
    kills: Counter = field(default_factory=Counter)
    runs: int = 0
    completed_groups: int = 0
    identical_groups: int = 0
    stale_locks_cleared: int = 0
    killed_after_release: int = 0  # the run had finished its steps and released the lock
    failures: list[str] = field(default_factory=list)
    seconds: float = 0.0
    clean_seconds: float = 0.0

    def render(self) -> str:
        total = sum(self.kills.values())
        lines = [
            (
                f"kill -9 of Dagster runs, seed {self.seed}: {total} kills in {self.runs} runs "
                f"(dagster job execute), {self.seconds / 60:.1f} min (a clean night: "
                f"{self.clean_seconds:.0f} s)"
            ),
            "  kills by stage: " + ", ".join(f"{k} {v}" for k, v in sorted(self.kills.items())),
            f"  invariants checked after each kill: {total} times, {len(self.failures)} failures",
            (
                f"  stale locks cleared by the next run (said so in its log): "
                f"{self.stale_locks_cleared}; killed after releasing the lock (winding down): "
                f"{self.killed_after_release}"
            ),
            (
                f"  groups resumed to completion: {self.completed_groups}, published list and marts "
                f"files byte-identical to a clean eduq run: {self.identical_groups}"
            ),
        ]
        lines += [f"  FAILURE {f}" for f in self.failures]
        return "\n".join(lines)


def _prepare(home: Path, delivered: Path) -> None:
    shutil.copytree(delivered, home / "landing")
    (home / "dagster").mkdir(parents=True)
    (home / "dagster" / "dagster.yaml").write_text(DAGSTER_YAML, encoding="utf-8")


def _lock_holder(home: Path) -> int | None:
    from core.run_lock import read_holder

    holder = read_holder(home)
    return holder.pid if holder else None


def dagster_campaign(
    work: Path,
    seed: int = 1,
    kills: int = 12,
    schools: int = 16,
    years: tuple[int, ...] = (2022, 2023, 2024),
    max_kills_per_group: int = 3,
    log=print,
) -> DagsterKillReport:
    from synthetic import generate_region

    today = f"{max(years) + 1}-11-01"
    list_year = max(years) + 1
    rng = random.Random(seed)
    report = DagsterKillReport(seed)
    started = time.monotonic()
    delivered_dir = work / "delivered"
    generate_region(delivered_dir, seed=seed, schools=schools, years=years)
    delivered = {
        sha256(p): str(p.relative_to(delivered_dir))
        for p in delivered_dir.rglob("*")
        if p.is_file()
    }

    clean_home = work / "clean_eduq"
    shutil.copytree(delivered_dir, clean_home / "landing")
    clean = run_eduq(clean_home, today)
    if clean.returncode != 0:
        raise RuntimeError(f"the clean eduq run failed:\n{clean.stderr[-3000:]}")
    expected = published_bytes(clean_home, list_year)

    clean_dagster = work / "clean_dagster"
    _prepare(clean_dagster, delivered_dir)
    clean_night = night(clean_dagster, today, list_year)
    report.clean_seconds = sum(r.seconds for r in clean_night)
    if any(r.returncode != 0 for r in clean_night) or len(clean_night) != 2:
        raise RuntimeError(f"the clean Dagster night failed:\n{clean_night[-1].stderr[-4000:]}")
    if published_bytes(clean_dagster, list_year) != expected:
        raise RuntimeError("a clean Dagster night publishes other bytes than a clean eduq run")
    windows = {}
    for result in clean_night:
        ordered = sorted(result.stage_started.items(), key=lambda kv: kv[1])
        for i, (stage, start) in enumerate(ordered):
            end = ordered[i + 1][1] if i + 1 < len(ordered) else result.seconds
            windows[stage] = max(end - start, 0.2)
    log(
        f"clean night (dagster job execute): {report.clean_seconds:.0f} s, stages "
        + ", ".join(f"{k} {v:.1f} s" for k, v in windows.items())
    )

    group = 0
    while sum(report.kills.values()) < kills:
        group += 1
        home = work / f"group{group:02d}"
        _prepare(home, delivered_dir)
        killed_in_group = 0
        dead_pid: int | None = None
        while True:
            stage = delay = None
            if killed_in_group < max_kills_per_group and sum(report.kills.values()) < kills:
                stage = rng.choice(sorted(windows))
                delay = rng.uniform(0, windows[stage])
            runs = night(home, today, list_year, stage, delay or 0.0)
            report.runs += len(runs)
            if (
                dead_pid is not None
            ):  # the first run after a kill clears the stale lock, and says so
                said = f"stale lock of a process that no longer runs (PID {dead_pid}"
                if said in runs[0].stderr:
                    report.stale_locks_cleared += 1
                else:
                    report.failures.append(
                        f"group {group}: the run after the kill of {dead_pid} did not clear its lock"
                    )
            last = runs[-1]
            if "UNEXPECTED" in "".join(r.stderr for r in runs):
                report.failures.append(f"group {group}: a step ran outside the launched process")
            if last.killed:
                killed_in_group += 1
                report.kills[stage] += 1
                dead_pid = _lock_holder(home)
                if dead_pid is None:  # killed after its steps, while it wound down: lock released
                    report.killed_after_release += 1
                problems = check_invariants(home, delivered, dead_pid)
                log(
                    f"group {group} kill {sum(report.kills.values())}: {stage} +{delay:.1f} s "
                    f"({last.seconds:.0f} s into the {STEPS[stage][0]} run): "
                    + ("invariants hold" if not problems else "; ".join(problems))
                )
                report.failures += [f"group {group}, {stage} +{delay:.1f} s: {p}" for p in problems]
                continue
            dead_pid = None
            if last.returncode != 0:
                report.failures.append(
                    f"group {group}: a resumed run failed ({last.returncode}): {last.stderr[-2000:]}"
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
