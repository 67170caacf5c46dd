"""The audited build a run starts from, and what the run changed since: a night rebuilds only that.

At the start of a run, before anything writes the candidate warehouse, :func:`note_start` looks for
the passed audit of the candidate exactly as it is (the same file identity: not written since; or,
for a copy, the same SHA-256), taken
with the same code (core.code_version) and methodology profile. When there is one, that audited build
is the run's *baseline*: every table of the candidate is, byte for byte, what that audit judged. The
load then appends the new files to some raw tables; :func:`note_loaded` records which.

The dbt build of the run then builds only what those raw tables reach (``source:raw.<table>+``:
the models downstream of them and every test with one of them among its parents), and the audit
takes the verdicts of the tests it did not run from the baseline's audit (:func:`carry_over`): none
of their inputs changed since they were judged. A Great Expectations check whose query reads
(as DuckDB parses it) only tables this run neither loaded nor rebuilt keeps its verdict too
(:func:`gx_carrier`); a check that judges its table in parts, whose verdict passed, judges the
rows of the parts this run changed alone: a raw table file by file (``Check.by_file``: the files
this run loaded; the loader only appends), a year-local mart year by year (``Check.by_year``: the
years this build computed, by the mart's year record); any other check runs. Without a baseline (a
first build, another code or profile, a full refresh, a candidate written since its audit — a failed
or interrupted build —, a run that did not load through the ingestion step) everything is built and
judged.

The plan is a file in the run's audit folder (``baseline.json``), so that every step of the run
(whatever process runs it) and anyone reading the audit later sees what the build started from.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import shutil
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from core.code_version import code_fingerprint
from core.files import file_identity, pending_wal, sha256_file, write_json_atomic
from core.settings import Settings
from gate.audit import (
    AuditRecord,
    CheckOutcome,
    audit_dir,
    audit_of_unchanged_file,
    find_passed_audit,
    read_record,
    records,
)
from gate.dbt_results import DbtNodeResult

if TYPE_CHECKING:
    from gate.expectations.check import Check

log = logging.getLogger(__name__)

PLAN_FILE = "baseline.json"
# raw tables every load writes (the log of each file and its quarantined rows): a build that loaded
# anything rebuilds what reads them
BOOKKEEPING_SOURCES = ("_load_log", "_quarantine")
# what a build by its plan runs of what the loaded raw tables reach: the tests and the tables. A
# view is not created again: its SQL is the baseline's (the same code and profile) and it reads the
# new rows as it is; a Great Expectations check reading one runs again all the same (gx_carrier).
# Every model of the project is a table, an incremental table or a view
# (tests/unit/test_dbt_specs.py).
REBUILT = ("resource_type:test", "config.materialized:table", "config.materialized:incremental")


@dataclass(frozen=True)
class BuildPlan:
    """What a run's build starts from: the baseline build and the raw tables loaded since."""

    baseline_build: str
    candidate_identity: str  # of the candidate at the run's start (= the baseline's audit)
    candidate_sha256: str
    noted_at: str
    loaded_sources: tuple[str, ...] | None = None  # None until the load has finished
    # the last file id of raw._load_log before the load (the baseline's files are those up to it;
    # file ids only grow) and the marts' year records (gate.serving_export.year_records: what each
    # year of a year-local mart was computed from, and when): None until the load has finished
    last_file_id: int | None = None
    year_records: dict[str, dict[str, str]] | None = None
    # the selection the dbt step built with (None: it did not build by this plan, e.g. a Dagster
    # run of some models only); verdicts are carried only when it is exactly dbt_select()
    dbt_select_applied: tuple[str, ...] | None = None

    @property
    def applied(self) -> bool:
        return self.dbt_select_applied == tuple(self.dbt_select())

    def dbt_select(self) -> list[str]:
        """dbt's selection of what the loaded raw tables reach (and the bookkeeping tables, which
        every load writes): their tests and the tables they reach, not their views (REBUILT)."""
        return [
            f"source:raw.{s}+,{kind}"
            for s in (*(self.loaded_sources or ()), *BOOKKEEPING_SOURCES)
            for kind in REBUILT
        ]

    def describe(self) -> str:
        tables = ", ".join(f"raw.{s}" for s in self.loaded_sources or ()) or "no raw table"
        return (
            f"built from the audited build {self.baseline_build}: only what {tables} reach "
            "was rebuilt and tested (its views are that build's: they read the new rows); the "
            "other checks are that build's"
        )


def plan_path(settings: Settings, build_id: str) -> Path:
    return audit_dir(settings, build_id) / PLAN_FILE


def note_start(settings: Settings, build_id: str) -> BuildPlan | None:
    """Call before the run writes the candidate: its baseline, if it has one (written down for the
    run's later steps); else None, and the run builds everything."""
    path = plan_path(settings, build_id)
    path.unlink(missing_ok=True)
    candidate = settings.candidate_db
    if settings.full_refresh or not candidate.exists() or pending_wal(candidate):
        return None
    identity = file_identity(candidate)
    known = records(settings)  # every audit.json read once (a home of many nights has many)
    record = audit_of_unchanged_file(settings, identity, known)
    if record is None and any(r.passed for r in known):
        # a copy or a restored backup of an audited candidate: the same bytes (hashing costs about a
        # second for a whole country's warehouse)
        record = find_passed_audit(settings, sha256_file(candidate), known)
    if record is None or file_identity(candidate) != identity:
        return None
    if (
        record.code_fingerprint != code_fingerprint()
        or record.methodology_profile != settings.methodology_profile
    ):
        return None
    plan = BuildPlan(
        baseline_build=record.build_id,
        candidate_identity=identity,
        candidate_sha256=record.candidate_sha256,
        noted_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    )
    write_json_atomic(path, asdict(plan))
    return plan


def note_loaded(
    settings: Settings,
    build_id: str,
    sources: Iterable[str],
    last_file_id: int,
    year_records: Mapping[str, Mapping[int, str]],
) -> BuildPlan | None:
    """Call when the load has finished: the raw tables it wrote rows to, and as they were before it
    loaded anything, the last file id of the load log and the marts' year records (None: no
    baseline)."""
    return _amend(
        settings,
        build_id,
        False,
        loaded_sources=tuple(sorted(set(sources))),
        last_file_id=int(last_file_id),
        year_records={
            t: {str(y): r for y, r in years.items()} for t, years in year_records.items()
        },
    )


def note_applied(settings: Settings, build_id: str, select: Sequence[str]) -> None:
    """Call before the dbt step builds with the plan's selection ``select``."""
    _amend(settings, build_id, True, dbt_select_applied=tuple(select))


def _amend(settings: Settings, build_id: str, loaded: bool, **changes: Any) -> BuildPlan | None:
    """The run's plan (see :func:`read_plan`) with ``changes``, written back (None: no plan)."""
    plan = read_plan(settings, build_id, loaded=loaded)
    if plan is not None:
        plan = replace(plan, **changes)
        write_json_atomic(plan_path(settings, build_id), asdict(plan))
    return plan


def read_plan(settings: Settings, build_id: str, loaded: bool = True) -> BuildPlan | None:
    """The run's plan (``loaded``: only once the load has recorded what it wrote), or None."""
    path = plan_path(settings, build_id)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        plan = BuildPlan(
            **{
                **data,
                **{
                    name: None if data.get(name) is None else tuple(data[name])
                    for name in ("loaded_sources", "dbt_select_applied")
                },
            }
        )
    except (OSError, ValueError, TypeError) as exc:
        if path.exists():
            log.warning("ignoring the build plan %s (%s): everything is rebuilt", path, exc)
        return None
    if loaded and plan.loaded_sources is None:
        return None
    return plan


def applied_baseline(settings: Settings, build_id: str) -> tuple[BuildPlan, AuditRecord] | None:
    """The plan of a build its dbt step built by, and the baseline's passed audit record; None when
    the build was not made by a plan (nothing of an earlier audit may be carried then)."""
    plan = read_plan(settings, build_id)
    if plan is None or not plan.applied:
        return None
    baseline = read_record(settings, plan.baseline_build)
    if baseline is None or not baseline.passed:
        return None
    return plan, baseline


def carry_over(
    settings: Settings, build_id: str, results: Sequence[DbtNodeResult]
) -> list[DbtNodeResult]:
    """The dbt results of a build, where the nodes it did not run (not selected: none of their
    inputs changed) take their baseline build's verdict. Without a plan, or for a node the
    baseline's audit has no verdict on, the results stay as they are (``not_run`` blocks)."""
    applied = applied_baseline(settings, build_id)
    if applied is None:  # not built by a plan: nothing is carried
        return list(results)
    plan, baseline = applied
    verdicts = {c.key: c for c in baseline.checks if c.source == "dbt"}
    source_dir = audit_dir(settings, plan.baseline_build)
    target_dir = audit_dir(settings, build_id)
    out = []
    for result in results:
        if result.reported or result.resource_type == "unit_test":
            out.append(result)
            continue
        if not result.is_check:  # a model or seed not rebuilt: the baseline's table, unchanged
            # (a view: the baseline's query, over the rows as they are now)
            out.append(
                replace(
                    result,
                    status="passed",
                    message=f"not built again: as in build {plan.baseline_build}",
                    carried_from=plan.baseline_build,
                )
            )
            continue
        verdict = verdicts.get(f"dbt__{result.name}")
        if verdict is None:
            out.append(result)
            continue
        if verdict.failing_rows_file:
            _copy_evidence(source_dir / verdict.failing_rows_file, target_dir)
        out.append(
            replace(
                result,
                status=verdict.status,
                failures=verdict.failing_rows,
                message=verdict.message,
                compiled_code=None,
                carried_from=verdict.carried_from or plan.baseline_build,
                failing_rows_file=verdict.failing_rows_file,
            )
        )
    return out


def _copy_evidence(source: Path, folder: Path) -> None:
    if source.exists():
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, folder / source.name)


def tables_read(con: duckdb.DuckDBPyConnection, sql: str) -> set[str] | None:
    """The tables and views ``sql`` reads ("schema.name"), as DuckDB's parser sees them; None when
    it reads anything else or cannot be parsed (a table function, a name without a schema that is
    not one of its CTEs): then nobody can say it is unchanged."""
    try:
        # fetchall: DuckDB 2 keeps a result fetched with fetchone open, and the connection busy
        tree = json.loads(con.execute("select json_serialize_sql(?)", [sql]).fetchall()[0][0])
    except (duckdb.Error, ValueError):
        return None
    if tree.get("error"):
        return None
    tables: set[str] = set()
    ctes: set[str] = set()
    unnamed: set[str] = set()
    todo: list[Any] = [tree]
    while todo:
        item = todo.pop()
        if isinstance(item, list):
            todo.extend(item)
            continue
        if not isinstance(item, dict):
            continue
        kind = item.get("type")
        if kind == "TABLE_FUNCTION":
            return None
        if kind == "BASE_TABLE":
            schema, name = item.get("schema_name") or "", str(item.get("table_name") or "").lower()
            if schema:
                tables.add(f"{schema.lower()}.{name}")
            else:
                unnamed.add(name)
        for entry in (item.get("cte_map") or {}).get("map", []) if kind else ():
            ctes.add(str(entry.get("key", "")).lower())
        todo.extend(item.values())
    if unnamed - ctes:
        return None
    return tables


@dataclass(frozen=True)
class GxCarrier:
    """What an audit of a build made by its plan may keep of its baseline's Great Expectations
    verdicts (:func:`gx_carrier`)."""

    baseline_build: str
    changed: frozenset[str]  # "schema.table" this run loaded or rebuilt
    verdicts: dict[str, CheckOutcome]
    last_file_id: int | None  # the baseline's last file id (BuildPlan.last_file_id)
    year_records: Mapping[str, Mapping[str, str]] | None  # the baseline's (BuildPlan.year_records)
    # "schema.table" -> its year column, of the models this code builds year by year (their meta)
    year_local: Mapping[str, str]
    source_dir: Path
    target_dir: Path

    def __call__(self, key: str, reads: set[str] | None, definition: str) -> CheckOutcome | None:
        """The baseline's verdict of the check ``key`` when the tables it reads are none this run
        loaded or rebuilt and the check is defined as it was (its query and expectations: a setting
        such as the school code pattern changes them); None to run it."""
        verdict = self.verdicts.get(key)
        if verdict is None or reads is None or reads & self.changed:
            return None
        if not definition or verdict.definition != definition:  # the check itself changed
            return None
        if verdict.failing_rows_file:
            _copy_evidence(self.source_dir / verdict.failing_rows_file, self.target_dir)
        return replace(verdict, carried_from=verdict.carried_from or self.baseline_build)

    def narrowing(
        self,
        key: str,
        reads: set[str] | None,
        definition: str,
        check: Check,
        year_records: Mapping[str, Mapping[int, str]],
    ) -> Narrowing | None:
        """For a check judged in parts (``Check.by_file`` / ``by_year``) that reads nothing but its
        table, whose baseline verdict passed with the same definition: which rows are left to judge
        (the parts this run changed); None to judge them all. ``year_records``: the candidate's year
        records now (gate.serving_export.year_records)."""
        verdict = self.verdicts.get(key)
        table = check.in_parts
        if verdict is None or verdict.status != "passed" or not definition:
            return None
        if verdict.definition != definition or reads != {table}:
            return None
        if check.by_file:
            if self.last_file_id is None or not table.startswith("raw."):
                return None
            return Narrowing(
                f"_file_id > {int(self.last_file_id)}",
                f"the rows of the files delivered since build {self.baseline_build} (file ids above "
                f"{self.last_file_id}); the earlier files passed in its audit",
            )
        if self.year_local.get(table) != "year":
            # not built year by year by this code (a record may be left from code that did), or by
            # another column than the one the condition reads: every row
            return None
        before = (self.year_records or {}).get(table)
        now = year_records.get(table)
        if before is None or now is None:  # no record then, or now: every row
            return None
        before = {int(year): record for year, record in before.items()}
        years = sorted(y for y, record in now.items() if before.get(y) != record)
        # rows without a year (none where the contract says not null) are judged every time
        if not years:
            return Narrowing(
                "year is null",
                f"no year: this build computed none; every year's rows are those build "
                f"{self.baseline_build} judged",
            )
        listed = ", ".join(str(y) for y in years)
        return Narrowing(
            f"(year in ({listed}) or year is null)",
            f"the years this build computed ({listed}); the other years' rows are those build "
            f"{self.baseline_build} judged",
        )


@dataclass(frozen=True)
class Narrowing:
    """The rows of a check's table left to judge: a condition on them, and the same in words."""

    condition: str
    words: str


def reached_models(
    dbt_results: Sequence[DbtNodeResult], raw_tables: Iterable[str]
) -> list[DbtNodeResult]:
    """The models and seeds the build ran and those that read, at any remove, one of ``raw_tables``
    ("raw.<table>") or one of them: what changed, rebuilt or not (a view the build did not create
    again reads the new rows)."""
    nodes = [r for r in dbt_results if not r.is_check]
    changed = {r.unique_id for r in nodes if r.reported}
    wanted = {t.lower() for t in raw_tables}
    grown = True
    while grown:
        grown = False
        for r in nodes:
            if r.unique_id in changed:
                continue
            if any(p in changed or _source_relation(p) in wanted for p in r.parents):
                changed.add(r.unique_id)
                grown = True
    return [r for r in nodes if r.unique_id in changed]


def _source_relation(unique_id: str) -> str | None:
    """The relation (``raw.<table>``) of a dbt source's unique id (``source.<project>.raw.<table>``),
    else None."""
    parts = unique_id.split(".")
    if len(parts) == 4 and parts[0] == "source":
        return f"{parts[2]}.{parts[3]}".lower()
    return None


def gx_carrier(
    settings: Settings, build_id: str, dbt_results: Sequence[DbtNodeResult]
) -> GxCarrier | None:
    """For the audit of a build made by its plan: what it may keep of the baseline's Great
    Expectations verdicts (None: it keeps nothing)."""
    applied = applied_baseline(settings, build_id)
    if applied is None:
        return None
    plan, baseline = applied
    changed = {f"raw.{s}" for s in (*(plan.loaded_sources or ()), *BOOKKEEPING_SOURCES)}
    changed |= {
        r.asset.replace("/", ".").lower() for r in reached_models(dbt_results, changed) if r.asset
    }
    return GxCarrier(
        baseline_build=plan.baseline_build,
        changed=frozenset(changed),
        verdicts={c.key: c for c in baseline.checks if c.source == "gx"},
        last_file_id=plan.last_file_id,
        year_records=plan.year_records,
        year_local={
            r.asset.replace("/", ".").lower(): r.year_local
            for r in dbt_results
            if r.year_local and r.asset and not r.is_check
        },
        source_dir=audit_dir(settings, plan.baseline_build),
        target_dir=audit_dir(settings, build_id),
    )
