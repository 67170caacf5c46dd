"""Run checks with Great Expectations 1.x against a DuckDB warehouse.

GX's SQL datasource does not work against DuckDB here (results are read after the connection
closes), so each check's query is run by DuckDB and the resulting pandas frame (rows, or an
aggregate with the file and row numbers that locate a problem) is validated by GX through an
ephemeral context (no ``gx/`` folder is written).
"""

from __future__ import annotations

import atexit
import contextlib
import importlib.abc
import importlib.util
import logging
import os
import re
import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import duckdb
import pandas as pd

from core.duck import quote_identifier, quote_literal
from gate.expectations.check import (
    Catalog,
    Check,
    CheckResult,
    Expect,
    ExpectationOutcome,
    SkipCheck,
    rows_in_words,
)

log = logging.getLogger(__name__)

MAX_FAILING_ROWS = 10_000  # failing rows kept per check (the count is always exact)


def read_catalog(con: duckdb.DuckDBPyConnection) -> dict[str, tuple[str, ...]]:
    rows = con.execute(
        """select table_schema, table_name, list(column_name order by ordinal_position)
           from information_schema.columns
           where table_catalog = current_database()
           group by table_schema, table_name"""
    ).fetchall()
    return {f"{schema}.{table}": tuple(columns) for schema, table, columns in rows}


@dataclass(frozen=True)
class Evaluation:
    """What Great Expectations said about one frame (picklable: it crosses to the worker and back)."""

    outcomes: tuple[ExpectationOutcome, ...]
    failing_index: tuple[Any, ...]
    whole_frame_fails: bool


class _Validator:
    """One ephemeral GX context and pandas datasource reused for every check of a run."""

    def __init__(self) -> None:
        os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
        started = time.perf_counter()
        import great_expectations as gx
        import great_expectations.expectations as gxe
        from great_expectations.data_context.types.base import ProgressBarsConfig

        self.gx = gx
        self.gxe = gxe
        self.context = gx.get_context(mode="ephemeral")
        self.context.variables.progress_bars = ProgressBarsConfig(
            globally=False, metric_calculations=False
        )
        source = self.context.data_sources.add_pandas("eduq_warehouse")
        self.batch_definition = source.add_dataframe_asset(
            "check_frame"
        ).add_batch_definition_whole_dataframe("whole_frame")
        log.debug("great_expectations ready in %.1f s", time.perf_counter() - started)

    def evaluate(
        self,
        key: str,
        severity: str,
        expectations: tuple[tuple[str, dict], ...],
        frame: pd.DataFrame,
    ) -> Evaluation:
        suite = self.gx.ExpectationSuite(name=key)
        for kind, kwargs in expectations:
            cls = getattr(self.gxe, kind)
            suite.add_expectation(cls(**kwargs, severity=severity, meta={"check": key}))
        batch = self.batch_definition.get_batch(batch_parameters={"dataframe": frame})
        validation = batch.validate(suite, result_format={"result_format": "COMPLETE"})
        outcomes: list[ExpectationOutcome] = []
        failing_index: set[Any] = set()
        whole_frame_fails = False
        for result in validation.results:
            config = result.expectation_config
            info = result.result or {}
            raised = bool(result.exception_info and result.exception_info.get("raised_exception"))
            error = result.exception_info.get("exception_message") if raised else None
            outcomes.append(
                ExpectationOutcome(
                    expectation=_describe(config),
                    success=bool(result.success),
                    unexpected_count=info.get("unexpected_count"),
                    observed_value=_plain_value(info.get("observed_value")),
                    error=error,
                )
            )
            if result.success:
                continue
            if "unexpected_index_list" in info:
                failing_index.update(info["unexpected_index_list"] or [])
            else:
                whole_frame_fails = (
                    True  # a table-level expectation: the whole frame is the evidence
                )
        return Evaluation(tuple(outcomes), tuple(sorted(failing_index)), whole_frame_fails)


def _plain_value(value: Any) -> Any:
    """An observed value as plain data (GX may return numpy scalars or its own objects)."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (list, tuple)):
        return [_plain_value(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain_value(v) for k, v in value.items()}
    item = getattr(value, "item", None)
    return item() if callable(item) else str(value)


def check_result(
    check: Check, frame: pd.DataFrame, evaluation: Evaluation, rows_checked: int | None = None
) -> CheckResult:
    """The check's verdict, message and failing rows from what GX said about its frame
    (``rows_checked``: the rows of the check's whole query when ``frame`` holds only its suspect
    rows, see :func:`suspect_query`)."""
    total = len(frame) if rows_checked is None else rows_checked
    outcomes = list(evaluation.outcomes)
    if evaluation.whole_frame_fails:
        failing = frame
    elif evaluation.failing_index:
        failing = frame.loc[list(evaluation.failing_index)]
    else:
        failing = frame.iloc[0:0]
    errors = [o for o in outcomes if o.error]
    failed = [o for o in outcomes if not o.success]
    if len(outcomes) == len(check.expectations):  # the failed expectations, for their words
        failed_expectations = [e for e, o in zip(check.expectations, outcomes) if not o.success]
    else:
        failed_expectations = []
    if errors:
        status = "error"
        message = "; ".join(f"{o.expectation}: {o.error}" for o in errors)
    elif failed:
        status = "failed"
        message = failure_message(check, frame, failing, failed, failed_expectations, total)
    else:
        status = "passed"
        message = f"{total} rows meet {len(outcomes)} expectation(s)"
    return CheckResult(check, status, message, total, failing.head(MAX_FAILING_ROWS), outcomes)


def _request(check: Check) -> tuple[str, str, tuple[tuple[str, dict], ...]]:
    return (
        check.key,
        check.level.gx_severity,
        tuple((e.kind, dict(e.kwargs)) for e in check.expectations),
    )


def failure_message(
    check: Check,
    frame: pd.DataFrame,
    failing: pd.DataFrame,
    failed: list[ExpectationOutcome],
    failed_expectations: list[Expect] | None = None,
    rows_checked: int | None = None,
) -> str:
    """What a failed check found, in words: the check's own explanation of its failing rows, or what
    is wrong in them (each failed expectation in words), examples and what to do."""
    if check.explain is not None:
        try:
            return check.explain(failing)
        except Exception as exc:  # noqa: BLE001 — an explanation must never hide the failure itself
            log.warning("%s: could not explain the failure: %s", check.key, exc)
    wrong = (
        ", ".join(e.in_words() for e in failed_expectations)
        if failed_expectations
        else "; ".join(o.expectation for o in failed)
    )
    examples = rows_in_words(failing, check.example_columns)
    total = len(frame) if rows_checked is None else rows_checked
    text = f"{len(failing)} of {total} row(s) wrong: {wrong}"
    if examples:
        text += f". For example: {examples}"
    if "source_file" in failing.columns:
        todo = "Correct the file(s) named and deliver them again"
    else:
        todo = "The failing rows are saved in the audit folder"
    return f"{text}. {todo}."


# Libraries Great Expectations imports when it is imported but that the expectations eduq runs
# never call (scipy.stats: distribution expectations; altair: charts of Data Docs): the worker is
# ready in 1.6-1.7 s instead of 2.3 s, on a core the night's load and dbt build also need. (The
# `scipy` package itself still loads at once: `from scipy import stats` reads its `__path__`.)
DEFERRED_IMPORTS = frozenset({"scipy", "altair"})


class _DeferredImports(importlib.abc.MetaPathFinder):
    """Imports the modules of the packages of :data:`DEFERRED_IMPORTS` lazily
    (importlib.util.LazyLoader): the module object is made at once, its code runs when an attribute
    is first read. What is read is the same module; only its cost moves to the first use (if any).
    An error while such a module loads is raised at that first use instead of at the import (and
    the half-loaded module stays in ``sys.modules``): in a working installation they load as they
    would eagerly (the worker's test uses both). For the worker process alone, where only the main
    thread imports (LazyLoader is not thread-safe before Python 3.12; see :func:`start_validator`)."""

    def find_spec(self, name: str, path: Any, target: Any = None) -> Any:
        if name.partition(".")[0] not in DEFERRED_IMPORTS:
            return None
        for finder in sys.meta_path:  # the spec as the other finders give it
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(name, path, target)
            if spec is not None:
                if spec.loader is not None and hasattr(spec.loader, "exec_module"):
                    spec.loader = importlib.util.LazyLoader(spec.loader)
                return spec
        return None


def defer_unused_imports() -> None:
    """In the worker process, before Great Expectations is imported (idempotent)."""
    if not any(isinstance(finder, _DeferredImports) for finder in sys.meta_path):
        sys.meta_path.insert(0, _DeferredImports())


def start_validator() -> _Validator:
    """The worker's Great Expectations, imported with :func:`defer_unused_imports`."""
    defer_unused_imports()
    # Great Expectations draws tqdm progress bars, whose default lock is a multiprocessing
    # semaphore; left behind by the worker's exit without the interpreter's shutdown, it made
    # Python warn of a «leaked semaphore» at the end of every run (core.worker.leave now releases
    # such locks): a thread lock serves this process as well. And no
    # monitor thread (tqdm starts one with its first bar, even a disabled one): only the main
    # thread runs here, which the lazy imports above need.
    from tqdm import tqdm

    tqdm.set_lock(threading.RLock())
    tqdm.monitor_interval = 0
    return _Validator()


def _worker_main(connection: Any) -> None:
    """The worker process: import Great Expectations once, then evaluate frames as they come."""
    from core.worker import serve

    serve(connection, start_validator, _evaluate)


def _evaluate(validator: _Validator, request: tuple) -> tuple:
    key, severity, expectations, frame = request
    try:
        return ("ok", validator.evaluate(key, severity, expectations, frame))
    except BaseException as exc:  # noqa: BLE001 — one check's failure is that check's error
        return ("error", f"{type(exc).__name__}: {exc}")


class GxWorker:
    """Great Expectations in a process of its own: its 3–4 s of imports run on the other core while
    this process loads files and builds dbt, and it is ready when the audit needs it."""

    def __init__(self) -> None:
        import multiprocessing

        context = multiprocessing.get_context("spawn")
        self.connection, child = context.Pipe()
        self.process = context.Process(
            target=_worker_main, args=(child,), name="eduq-gx-worker", daemon=True
        )
        self.process.start()
        child.close()
        self._ready: bool | None = None
        self._lock = threading.Lock()

    def ready(self) -> bool:
        if self._ready is None:
            try:
                status, detail = self.connection.recv()
            except (EOFError, OSError):
                status, detail = "failed", "the worker process ended"
            self._ready = status == "ready"
            if not self._ready:
                log.warning("Great Expectations worker not available (%s): validating here", detail)
        return self._ready

    def start(self, check: Check, frame: pd.DataFrame) -> Callable[[], Evaluation]:
        """Send ``frame`` to be judged and return the function that waits for the verdict. The
        worker serves one request at a time: until that function is called, other callers wait
        (and a caller must not start another request before it: the pipe is not a queue)."""
        self._lock.acquire()
        try:
            self.connection.send((*_request(check), frame))
        except BaseException:
            self._lock.release()
            raise

        def verdict() -> Evaluation:
            try:
                status, payload = self.connection.recv()
            finally:
                self._lock.release()
            if status != "ok":
                raise RuntimeError(payload)
            return payload

        return verdict

    def evaluate(self, check: Check, frame: pd.DataFrame) -> Evaluation:
        return self.start(check, frame)()

    def close(self) -> None:
        from core.worker import close

        close(self.connection, self.process)


_shared: dict[str, Any] = {}
_shared_lock = threading.Lock()


def preload() -> None:
    """Start the Great Expectations worker process (idempotent), so that its imports overlap with the
    load and the dbt build."""
    with _shared_lock:
        if "worker" not in _shared and "local" not in _shared:
            try:
                _shared["worker"] = GxWorker()
                atexit.register(_shared["worker"].close)
            except (OSError, RuntimeError) as exc:
                log.warning("could not start the Great Expectations worker (%s)", exc)


class _Evaluator:
    """Evaluates checks in the worker when it is there, else in this process."""

    def start(self, check: Check, frame: pd.DataFrame) -> Callable[[], Evaluation]:
        """Begin judging ``frame`` and return the function that gives the verdict: in the worker,
        this process is free meanwhile (to query the next check's rows); here, judged at once."""
        worker = _shared.get("worker")
        if worker is not None and worker.ready():
            try:
                verdict = worker.start(check, frame)
            except (EOFError, OSError, BrokenPipeError):
                self._worker_stopped()
            else:

                def from_worker() -> Evaluation:
                    try:
                        return verdict()
                    except (EOFError, OSError, BrokenPipeError):
                        self._worker_stopped()
                        return self._here(check, frame)

                return from_worker
        evaluation = self._here(check, frame)
        return lambda: evaluation

    def evaluate(self, check: Check, frame: pd.DataFrame) -> Evaluation:
        return self.start(check, frame)()

    @staticmethod
    def _worker_stopped() -> None:
        log.warning("the Great Expectations worker stopped; validating here")
        _shared.pop("worker", None)

    @staticmethod
    def _here(check: Check, frame: pd.DataFrame) -> Evaluation:
        with _shared_lock:
            if "local" not in _shared:
                _shared["local"] = _Validator()
        return _shared["local"].evaluate(*_request(check), frame)

    def validate(
        self, check: Check, frame: pd.DataFrame, rows_checked: int | None = None
    ) -> CheckResult:
        return check_result(check, frame, self.evaluate(check, frame), rows_checked)


def shared_validator() -> _Evaluator:
    preload()
    return _Evaluator()


def _describe(config: Any) -> str:
    kwargs = {k: v for k, v in config.kwargs.items() if k not in ("batch_id", "result_format")}
    return f"{config.type}({', '.join(f'{k}={v!r}' for k, v in kwargs.items())})"


def run_checks(
    con: duckdb.DuckDBPyConnection, checks: Iterable[Check], catalog: Catalog | None = None
) -> list[CheckResult]:
    """Evaluate ``checks`` on the warehouse behind ``con`` (a read-only connection is enough).

    Where every expectation of a check judges rows one by one or keys for uniqueness, DuckDB first
    keeps the rows that could fail (:func:`suspect_query`) and Great Expectations judges those:
    the same verdict and the same failing rows as on the whole result, without copying a whole
    mart into pandas (a million rows at a country's size)."""
    checks = list(checks)
    if not checks:
        return []
    catalog = catalog if catalog is not None else read_catalog(con)
    validator = shared_validator()
    results: list[CheckResult] = []
    # one check is judged (in the worker) while DuckDB queries the rows of the next: its verdict is
    # received before the next frame is sent, so at most one request is ever in the pipe
    judging: tuple[Check, pd.DataFrame, int | None, Callable[[], Evaluation], float] | None = None
    at = 0  # where the check being judged goes in ``results``
    try:
        for check in checks:
            started = time.perf_counter()
            try:
                sql = check.resolve_query(catalog)
            except SkipCheck as exc:
                results.append(CheckResult(check, "skipped", f"skipped: {exc}"))
                continue
            try:
                relation = con.sql(sql)
                types = dict(zip(relation.columns, relation.types))
                if suspect_query(check, sql, types) is None:
                    frame, rows_checked = relation.df(), None
                else:
                    frame, rows_checked = _suspects(con, check, sql, types)
            except duckdb.Error as exc:
                results.append(CheckResult(check, "error", f"query failed: {exc}"))
                continue
            if rows_checked is not None and frame.empty:
                # no row could fail an expectation that judges rows one by one (or keys): every row
                # meets them all, as Great Expectations says of them (the property test in
                # tests/unit/test_expectations.py); the frame is not sent to be judged
                results.append(_no_suspects(check, frame, rows_checked))
                continue
            frame = frame.reset_index(drop=True)
            if judging is not None:
                pending, judging = judging, None  # its verdict is read once, even if it fails
                results.insert(at, _settle(pending))
            at = len(results)
            judging = (check, frame, rows_checked, validator.start(check, frame), started)
        if judging is not None:
            pending, judging = judging, None
            results.insert(at, _settle(pending))
    finally:
        if judging is not None:  # left by an error: read its verdict, so the worker stays usable
            with contextlib.suppress(Exception):
                judging[3]()
    return results


CHECKED = "__eduq_checked"
# the values that fail a regex expectation (see _note_regex_misses), by the expectation's index
REGEX_MISSES = "__eduq_regex_misses"


def _no_suspects(check: Check, frame: pd.DataFrame, rows_checked: int) -> CheckResult:
    outcomes = tuple(
        ExpectationOutcome(expectation=e.describe(), success=True, unexpected_count=0)
        for e in check.expectations
    )
    return check_result(check, frame, Evaluation(outcomes, (), False), rows_checked)


def _suspects(
    con: duckdb.DuckDBPyConnection, check: Check, sql: str, types: dict[str, Any]
) -> tuple[pd.DataFrame, int]:
    """The suspect rows of the check's query and how many rows it has, the query run once: its
    result is kept in a temporary table (in its order) that both read. Counting and then keeping
    the suspects ran an aggregating query twice (a country's raw results: 0.57 s → 0.31 s)."""
    con.execute(f"create or replace temp table {CHECKED} as {sql}")
    try:
        rows_checked = con.execute(f"select count(*) from {CHECKED}").fetchall()[0][0]
        _note_regex_misses(con, check)
        suspects = suspect_query(check, f"select * from {CHECKED}", types)
        return con.sql(suspects).df(), rows_checked
    finally:
        con.execute(f"drop table if exists {CHECKED}")
        con.execute(f"drop table if exists {REGEX_MISSES}")


def _note_regex_misses(con: duckdb.DuckDBPyConnection, check: Check) -> None:
    """Write to the temporary table :data:`REGEX_MISSES` the distinct values of the checked rows
    that fail each regex expectation of ``check`` (by its index), judged as Great Expectations
    judges them on pandas (``column.astype(str).str.contains(regex)``: Python's ``re.search``).
    DuckDB's own regex functions (RE2) do not say the same of every text: for them ``\\S`` and
    ``[^…]`` take a Unicode space for a character, and ``$`` does not match before a final
    newline."""
    regexes = [
        (index, e) for index, e in enumerate(check.expectations)
        if e.kind == "ExpectColumnValuesToMatchRegex"
    ]  # fmt: skip
    if not regexes:  # (most checks: no table to write)
        return
    con.execute(f"create or replace temp table {REGEX_MISSES} (expectation integer, value varchar)")
    for index, expectation in regexes:
        pattern = re.compile(expectation.kwargs["regex"])
        column = quote_identifier(expectation.kwargs["column"])
        values = con.execute(
            f"select distinct {column} from {CHECKED} where {column} is not null"
        ).fetchall()
        misses = [value for (value,) in values if pattern.search(value) is None]
        if misses:
            con.execute(
                f"insert into {REGEX_MISSES} select ?, unnest(?::varchar[])", [index, misses]
            )


def _settle(
    judging: tuple[Check, pd.DataFrame, int | None, Callable[[], Evaluation], float],
) -> CheckResult:
    check, frame, rows_checked, verdict, started = judging
    result = check_result(check, frame, verdict(), rows_checked)
    log.debug("%s: %s in %.2f s", check.key, result.status, time.perf_counter() - started)
    return result


_FLOATS = ("DOUBLE", "FLOAT", "REAL")
_KNOWN_KWARGS = {
    "column", "column_list", "column_A", "column_B", "min_value", "max_value", "strict_min",
    "strict_max", "or_equal", "value_set", "ignore_row_if", "regex",
}  # fmt: skip
# a pair's rows that Great Expectations ignores: ones with a missing value, which are kept anyway
_IGNORE_ROW_IF = {"neither", "both_values_are_missing", "either_value_is_missing"}


def suspect_query(check: Check, sql: str, types: dict[str, Any]) -> str | None:
    """SQL keeping the rows of ``sql`` that could fail ``check`` (None: judge the whole result).

    Only expectations that judge each row alone (not null, between, in a set, a pair of columns)
    or keys for uniqueness qualify, without ``mostly`` (a share of failures needs every row).
    A row is kept when it might fail: a missing value (NULL, or NaN for floating-point columns,
    which pandas counts as missing), a value outside the bounds, a key held more than once, a text
    that does not match a regex (its values are judged in Python first: :func:`_note_regex_misses`
    writes them to :data:`REGEX_MISSES` before this query runs). Great Expectations then judges the
    kept rows as it would the whole result."""

    def col(name: Any) -> str | None:
        return quote_identifier(name) if isinstance(name, str) and name in types else None

    def is_float(name: str) -> bool:
        return str(types[name]).upper() in _FLOATS

    def missing(name: str) -> str:
        quoted = col(name)
        return f"({quoted} is null or isnan({quoted}))" if is_float(name) else f"{quoted} is null"

    def literal(value: Any) -> str | None:
        if isinstance(value, bool):
            return None
        if isinstance(value, int | float):
            return repr(value)
        if isinstance(value, str):
            return quote_literal(value)
        return None

    conditions: list[str] = []
    keys: list[str] = []
    for index, expectation in enumerate(check.expectations):
        a = dict(expectation.kwargs)
        if set(a) - _KNOWN_KWARGS:
            return None  # mostly, row conditions, anything else: the whole result
        kind = expectation.kind
        if "ignore_row_if" in a and (
            kind
            not in ("ExpectColumnPairValuesAToBeGreaterThanB", "ExpectColumnPairValuesToBeEqual")
            or a["ignore_row_if"] not in _IGNORE_ROW_IF
        ):
            return None
        if kind == "ExpectColumnValuesToNotBeNull" and col(a.get("column")):
            conditions.append(missing(a["column"]))
        elif kind == "ExpectColumnValuesToBeBetween" and col(a.get("column")):
            quoted, parts = col(a["column"]), []
            for bound, strict, op, strict_op in (
                ("min_value", "strict_min", "<", "<="),
                ("max_value", "strict_max", ">", ">="),
            ):
                if a.get(bound) is None:
                    continue
                value = literal(a[bound])
                if value is None:
                    return None
                parts.append(f"{quoted} {strict_op if a.get(strict) else op} {value}")
            if is_float(a["column"]):
                parts.append(f"isnan({quoted})")
            conditions.append("(" + " or ".join(parts or ["false"]) + ")")
        elif kind == "ExpectColumnValuesToBeInSet" and col(a.get("column")):
            # (booleans only in a set: «in (true)» keeps the false rows; NULL rows stay out, as
            # Great Expectations leaves missing values out of a set)
            values = [
                ("true" if v else "false") if isinstance(v, bool) else literal(v)
                for v in a.get("value_set") or ()
            ]
            if not values or None in values:
                return None
            conditions.append(f"{col(a['column'])} not in ({', '.join(values)})")
        elif (
            kind == "ExpectColumnValuesToMatchRegex"
            and col(a.get("column"))
            and str(types[a["column"]]).upper() == "VARCHAR"  # (astype(str) of a text: the text)
            and _compiles(a.get("regex"))
        ):
            conditions.append(
                f"{col(a['column'])} in "
                f"(select value from {REGEX_MISSES} where expectation = {index})"
            )
        elif (
            kind
            in (
                "ExpectColumnPairValuesAToBeGreaterThanB",
                "ExpectColumnPairValuesToBeEqual",
            )
            and col(a.get("column_A"))
            and col(a.get("column_B"))
        ):
            first, second = col(a["column_A"]), col(a["column_B"])
            if kind == "ExpectColumnPairValuesToBeEqual":
                wrong = f"{first} is distinct from {second}"
            else:
                wrong = f"{first} {'<' if a.get('or_equal') else '<='} {second}"
            conditions.append(f"({missing(a['column_A'])} or {missing(a['column_B'])} or {wrong})")
        elif kind in ("ExpectColumnValuesToBeUnique", "ExpectCompoundColumnsToBeUnique"):
            names = (
                a.get("column_list")
                if kind == "ExpectCompoundColumnsToBeUnique"
                else [a.get("column")]
            )
            if keys or not names or not all(col(n) for n in names):
                return None  # (two keys would need two windows: the whole result)
            keys = list(names)
            conditions.append("__eduq_key_rows > 1")
            conditions += [missing(n) for n in names]
        else:
            return None
    if not conditions:
        return None
    window = (
        f", count(*) over (partition by {', '.join(col(k) for k in keys)}) as __eduq_key_rows"
        if keys
        else ""
    )
    return (
        f"select * exclude (__eduq_row{', __eduq_key_rows' if keys else ''}) from ("
        f"select *, row_number() over () as __eduq_row{window} from ({sql}) as q"
        f") as s where {' or '.join(conditions)} order by __eduq_row"
    )


def _compiles(regex: Any) -> bool:
    """A regex Python compiles (one it does not is left to Great Expectations to report)."""
    if not isinstance(regex, str):
        return False
    try:
        re.compile(regex)
    except re.error:
        return False
    return True
