"""Run checks with Great Expectations 1.x against a DuckDB warehouse.

GX's SQL datasource does not work against DuckDB here (results are read after the connection
closes), so each check's query is run by DuckDB and the resulting pandas frame (rows, or an
aggregate with the file and row numbers that locate a problem) is validated by GX through an
ephemeral context (no ``gx/`` folder is written).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Iterable
from typing import Any

import duckdb
import pandas as pd

from gate.expectations.check import (
    Catalog,
    Check,
    CheckResult,
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

    def validate(self, check: Check, frame: pd.DataFrame) -> CheckResult:
        suite = self.gx.ExpectationSuite(name=check.key)
        for spec in check.expectations:
            cls = getattr(self.gxe, spec.kind)
            suite.add_expectation(
                cls(**spec.kwargs, severity=check.level.gx_severity, meta={"check": check.key})
            )
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
                    observed_value=info.get("observed_value"),
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
        errors = [o for o in outcomes if o.error]
        failed = [o for o in outcomes if not o.success]
        if whole_frame_fails:
            failing = frame
        else:
            failing = frame.loc[sorted(failing_index)] if failing_index else frame.iloc[0:0]
        if errors:
            status = "error"
            message = "; ".join(f"{o.expectation}: {o.error}" for o in errors)
        elif failed:
            status = "failed"
            message = failure_message(check, frame, failing, failed)
        else:
            status = "passed"
            message = f"{len(frame)} rows meet {len(outcomes)} expectation(s)"
        return CheckResult(
            check, status, message, len(frame), failing.head(MAX_FAILING_ROWS), outcomes
        )


def failure_message(
    check: Check, frame: pd.DataFrame, failing: pd.DataFrame, failed: list[ExpectationOutcome]
) -> str:
    """What a failed check found, in words: the check's own explanation of its failing rows, or the
    count, the expectations that failed and the first failing rows as examples."""
    if check.explain is not None:
        try:
            return check.explain(failing)
        except Exception as exc:  # noqa: BLE001 — an explanation must never hide the failure itself
            log.warning("%s: could not explain the failure: %s", check.key, exc)
    examples = rows_in_words(failing, check.example_columns)
    text = f"{len(failing)} of {len(frame)} rows fail: " + "; ".join(o.expectation for o in failed)
    return f"{text}. For example: {examples}" if examples else text


_shared: dict[str, Any] = {}
_shared_lock = threading.Lock()


def _make_shared() -> None:
    try:
        _shared["validator"] = _Validator()
    except BaseException as exc:  # noqa: BLE001 — kept and raised where the validator is used
        _shared["error"] = exc


def preload() -> None:
    """Start importing Great Expectations in the background (3–4 s of imports and context set-up),
    so that it is ready when the checks run after the load and the dbt build. Idempotent."""
    with _shared_lock:
        if "thread" not in _shared:
            thread = threading.Thread(target=_make_shared, name="gx-preload", daemon=True)
            _shared["thread"] = thread
            thread.start()


def shared_validator() -> _Validator:
    """The process's validator (one ephemeral GX context for every check of every run)."""
    preload()
    _shared["thread"].join()
    if "error" in _shared:
        raise _shared["error"]
    return _shared["validator"]


def _describe(config: Any) -> str:
    kwargs = {k: v for k, v in config.kwargs.items() if k not in ("batch_id", "result_format")}
    return f"{config.type}({', '.join(f'{k}={v!r}' for k, v in kwargs.items())})"


def run_checks(
    con: duckdb.DuckDBPyConnection, checks: Iterable[Check], catalog: Catalog | None = None
) -> list[CheckResult]:
    """Evaluate ``checks`` on the warehouse behind ``con`` (a read-only connection is enough)."""
    checks = list(checks)
    if not checks:
        return []
    catalog = catalog if catalog is not None else read_catalog(con)
    validator = shared_validator()
    results = []
    for check in checks:
        started = time.perf_counter()
        try:
            sql = check.resolve_query(catalog)
        except SkipCheck as exc:
            results.append(CheckResult(check, "skipped", f"skipped: {exc}"))
            continue
        try:
            frame = con.sql(sql).df()
        except duckdb.Error as exc:
            results.append(CheckResult(check, "error", f"query failed: {exc}"))
            continue
        frame = frame.reset_index(drop=True)
        result = validator.validate(check, frame)
        log.debug("%s: %s in %.2f s", check.key, result.status, time.perf_counter() - started)
        results.append(result)
    return results
