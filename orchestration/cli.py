"""The `eduq` command."""

from __future__ import annotations

import argparse
import atexit
import contextlib
import gc
import io
import logging
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

from core.settings import Settings, load_settings

# another writer holds the home's lock (core/run_lock.py): "try again later" (sysexits EX_TEMPFAIL)
EXIT_LOCKED = 75


def _cmd_generate(args: argparse.Namespace) -> int:
    if args.scale is not None or args.regions is not None:
        return _generate_country(args)
    if args.format is not None:
        print(
            "--format goes with --scale or --regions (the demo region is XLSX and CSV)",
            file=sys.stderr,
        )
        return 2
    from synthetic import RegionSpec, files_not_generated, parse_years, write_region

    settings = load_settings()
    out = Path(args.out) if args.out else settings.landing_dir
    # a usage error is one line and exit code 2, no traceback
    try:
        years = parse_years(args.years)
    except ValueError as exc:
        print(f"eduq generate: --years {args.years}: {exc}", file=sys.stderr)
        return 2
    try:
        spec = RegionSpec(seed=args.seed, schools=args.schools or 335, years=years)
    except ValueError as exc:
        print(f"eduq generate: {exc}", file=sys.stderr)
        return 2
    if not args.out and not args.force:
        real = files_not_generated(out)
        if real:
            print(
                f"eduq generate: the landing folder {out} holds {len(real)} file(s) the generator "
                f"did not write (e.g. {real[0].relative_to(out)}): synthetic files would be loaded "
                "with them. Use --out DIR for another folder, or --force to write here anyway.",
                file=sys.stderr,
            )
            return 2
    started = time.perf_counter()
    report = write_region(out, spec)
    rows = sum(f.rows for f in report.files)
    print(
        f"Generated {len(report.files)} files, {rows} rows into {out} in {time.perf_counter() - started:.1f} s"
    )
    return 0


def _generate_country(args: argparse.Namespace) -> int:
    """`eduq generate --scale region|10|country` / `--regions N`: a country-sized set, streamed."""
    from synthetic import parse_years
    from synthetic.country import (
        SCHOOLS_PER_REGION,
        CountryReport,
        CountrySpec,
        generate_country,
        parse_scale,
    )

    fmt = args.format or "csv"
    try:
        regions = parse_scale(args.scale) if args.scale is not None else args.regions
        spec = CountrySpec(
            regions=regions,
            schools_per_region=args.schools or SCHOOLS_PER_REGION,
            seed=args.seed,
            years=parse_years(args.years),
            format=fmt,
        )
    except ValueError as exc:
        print(f"eduq generate: {exc}", file=sys.stderr)
        return 2
    if args.out is None and fmt == "parquet":
        print(
            "eduq generate: --format parquet needs --out DIR (the Parquet sets are for the "
            "benchmark's baselines; regions send CSV and XLSX)",
            file=sys.stderr,
        )
        return 2
    out = Path(args.out) if args.out else load_settings().landing_dir

    def progress(region: int, report: CountryReport, rows: int) -> None:
        print(
            f"  region {region:02d}/{spec.regions}: {rows:,} rows, "
            f"{rows / max(report.seconds, 1e-9):,.0f} rows/s",
            file=sys.stderr,
            flush=True,
        )

    report = generate_country(out, spec, progress if spec.regions > 1 else None, jobs=args.jobs)
    print(
        f"Generated {len(report.files)} files ({fmt}), {report.rows:,} rows for "
        f"{report.schools:,} schools in {spec.regions} region{'s' if spec.regions > 1 else ''} "
        f"into {out} in {report.seconds:.1f} s: {report.rows_per_second:,.0f} rows/s"
    )
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    from core.errors import EduqError
    from core.run_lock import HomeLocked
    from gate.errors import ListIncomplete, ListYearNotAvailable

    started = time.perf_counter()
    settings = load_settings().with_overrides(
        args.profile,
        True if args.full_refresh else None,
        True if args.dagster_history else None,
    )
    from orchestration.plan import nothing_new, requested_list_refusal

    # a night with nothing new costs seconds: decided before Dagster and dbt are even imported
    noop, _why = nothing_new(settings)
    if args.list_year is not None:
        refusal = requested_list_refusal(settings, args.list_year)
        if refusal is not None:  # no file waits that could make the list: refuse before any work
            print(f"Not published: {refusal}", file=sys.stderr)
            return 2
    elif noop is not None:
        print(noop.render())
        print(f"Done in {time.perf_counter() - started:.1f} s (nothing to do)")
        return 0
    from gate.expectations.gx_runner import preload

    preload()  # Great Expectations imports in a worker process, on the other core, from now on
    from orchestration.runner import PipelineFailed, WarehouseBusy, run_pipeline

    log_path = None if args.verbose else _log_path(settings, "run")
    try:
        if log_path is None:
            summary = run_pipeline(settings, list_year=args.list_year, documents=args.documents)
        else:
            # dbt's and Dagster's step-by-step output goes to a log file; the stages and the load's
            # progress and the summary to the terminal
            from core import progress

            shown = progress.show_on()
            try:
                with _output_to(log_path):
                    summary = run_pipeline(
                        settings, list_year=args.list_year, documents=args.documents
                    )
            finally:
                progress.hide(shown)
    except HomeLocked as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_LOCKED
    except (ListYearNotAvailable, ListIncomplete) as exc:
        print(f"Not published: {exc}", file=sys.stderr)
        return 2
    except WarehouseBusy as exc:  # nothing changed: try again later, like a second writer
        print(str(exc), file=sys.stderr)
        _point_to_log(log_path)
        return EXIT_LOCKED
    except (PipelineFailed, EduqError) as exc:
        print(str(exc), file=sys.stderr)
        _point_to_log(log_path)
        return 1
    print(summary.render())
    print(
        f"Done in {time.perf_counter() - started:.1f} s"
        + (" — INCOMPLETE" if summary.status == "incomplete" else "")
    )
    return 0


def _point_to_log(log_path: Path | None) -> None:
    """Say where the run's log is, only when one was written and holds something."""
    if log_path is not None and log_path.exists() and log_path.stat().st_size:
        print(f"Details: {log_path}", file=sys.stderr)


def _log_path(settings: Settings, name: str) -> Path:
    log_dir = settings.home / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    return log_dir / f"{name}-{time.strftime('%Y%m%d-%H%M%S')}.log"


class _RunLog(io.TextIOBase):
    """The run's log file. A log that cannot be written (the disk is full) must not hide the run's
    own outcome behind an error of its own: a write or flush that fails is dropped, and the run
    reports what failed (the full disk too) on the terminal."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        self._file = open(path, "w", encoding="utf-8")  # noqa: SIM115 — closed by close()
        self.error: OSError | None = None

    @property
    def encoding(self) -> str:
        return "utf-8"

    def writable(self) -> bool:
        return True

    def fileno(self) -> int:  # for a library that writes to the descriptor itself
        return self._file.fileno()

    def isatty(self) -> bool:
        return False

    @property
    def buffer(self):  # for a library that writes bytes to sys.stdout.buffer
        return self._file.buffer

    def write(self, text: str) -> int:
        if self.error is None:
            try:
                self._file.write(text)
            except OSError as exc:
                self.error = exc
        return len(text)

    def flush(self) -> None:
        if self._file.closed:
            return
        try:
            self._file.flush()
        except OSError as exc:
            self.error = self.error or exc

    def close(self) -> None:
        if self.closed:
            return
        super().close()  # flushes (a failure is kept, not raised)
        try:
            self._file.close()
        except OSError as exc:
            self.error = self.error or exc


@contextlib.contextmanager
def _output_to(log_path: Path):
    """Send dbt's and Dagster's output (stdout, stderr, log records) to the run's log file; what
    matters (loads, rejections, check warnings, the audit) comes back in the printed summary."""
    root = logging.getLogger()
    saved = root.handlers[:]
    with (
        _RunLog(log_path) as log,
        contextlib.redirect_stdout(log),
        contextlib.redirect_stderr(log),
    ):
        handler = logging.StreamHandler(log)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root.handlers = [handler]
        try:
            yield
        finally:
            root.handlers = saved


def _cmd_publish(args: argparse.Namespace) -> int:
    from core.errors import EduqError
    from core.run_lock import HomeLocked
    from gate.errors import ListIncomplete, ListYearNotAvailable
    from orchestration.runner import PipelineFailed, publish

    settings = load_settings()
    log_path = None if args.verbose else _log_path(settings, f"publish-{args.year}")
    try:
        documents = not args.no_documents
        if log_path is None:
            result = publish(settings, args.year, documents=documents)
        else:
            with _output_to(log_path):
                result = publish(settings, args.year, documents=documents)
    except HomeLocked as exc:
        print(f"Not published: {exc}", file=sys.stderr)
        return EXIT_LOCKED
    except (ListYearNotAvailable, ListIncomplete) as exc:
        print(f"Not published: {exc}", file=sys.stderr)
        return 2
    except (PipelineFailed, EduqError) as exc:
        print(f"Not published: {exc}", file=sys.stderr)
        _point_to_log(log_path)
        return 1
    print(result.render())
    for warning in result.warnings:
        print(f"  WARNING {warning}")
    return 0


def _cell(value: object, width: int) -> str:
    text = "NULL" if value is None else str(value).replace("\n", " ")
    return text if len(text) <= width else text[: width - 1] + "…"


def format_table(columns: list[str], rows: list[tuple], max_width: int = 60) -> str:
    """A plain text table: header, rule, rows; numbers right-aligned."""
    cells = [[_cell(v, max_width) for v in row] for row in rows]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]
    numeric = [
        all(isinstance(row[i], (int, float)) or row[i] is None for row in rows) and rows != []
        for i in range(len(columns))
    ]

    def line(values: list[str]) -> str:
        return " | ".join(
            v.rjust(w) if n else v.ljust(w) for v, w, n in zip(values, widths, numeric)
        ).rstrip()

    out = [line([_cell(c, max_width) for c in columns]), "-+-".join("-" * w for w in widths)]
    out += [line(r) for r in cells]
    return "\n".join(out)


def _cmd_sql(args: argparse.Namespace) -> int:
    import duckdb

    from orchestration.sql_query import WritingStatementRefused, check_read_only, connect_read_only

    settings = load_settings()
    serving = settings.serving_db
    try:
        check_read_only(args.query)
    except WritingStatementRefused as exc:
        print(str(exc), file=sys.stderr)
        return 2
    except duckdb.Error as exc:
        print(f"Query failed: {exc}", file=sys.stderr)
        return 2
    if not serving.exists():
        print(f"No serving warehouse at {serving}: run `eduq run` first.", file=sys.stderr)
        return 1
    with connect_read_only(serving, settings) as con:
        try:
            relation = con.sql(args.query)
            if relation is None:
                print("OK (the statement returned no rows)")
                return 0
            columns = list(relation.columns)
            rows = relation.limit(args.max_rows + 1).fetchall()
        except duckdb.Error as exc:
            message = str(exc)
            if "read-only" in message or "read_only" in message or "disabled by" in message:
                message += "\n(the serving warehouse is opened read-only: `eduq sql` runs queries, it changes nothing)"
            print(f"Query failed: {message}", file=sys.stderr)
            return 2
    if args.csv:
        import csv

        writer = csv.writer(sys.stdout)
        writer.writerow(columns)
        writer.writerows(rows[: args.max_rows])
    else:
        print(format_table(columns, rows[: args.max_rows]))
    shown = min(len(rows), args.max_rows)
    more = " (more rows not shown: raise --max-rows)" if len(rows) > args.max_rows else ""
    print(
        f"({shown} row{'s' if shown != 1 else ''}){more}",
        file=sys.stderr if args.csv else sys.stdout,
    )
    return 0


def _cmd_rebuild(args: argparse.Namespace) -> int:
    from core.errors import EduqError
    from core.run_lock import HomeLocked
    from gate.errors import ListIncomplete, ListYearNotAvailable
    from orchestration.rebuild import rebuild
    from orchestration.runner import PipelineFailed

    settings = load_settings()
    log_path = None if args.verbose else _log_path(settings, "rebuild")
    try:
        if log_path is None:
            result = rebuild(settings, list_year=args.list_year, documents=args.documents)
        else:
            with _output_to(log_path):
                result = rebuild(settings, list_year=args.list_year, documents=args.documents)
    except HomeLocked as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_LOCKED
    except (ListYearNotAvailable, ListIncomplete) as exc:
        print(f"Rebuilt, not published: {exc}", file=sys.stderr)
        return 2
    except (PipelineFailed, EduqError) as exc:
        print(f"Rebuild failed: {exc}", file=sys.stderr)
        _point_to_log(log_path)
        return 1
    print(result.render())
    return 0


def _cmd_withdraw(args: argparse.Namespace) -> int:
    from core.errors import EduqError
    from core.run_lock import HomeLocked
    from ingestion.withdraw import withdraw

    settings = load_settings()
    try:
        result = withdraw(settings, args.file, args.reason, dry_run=args.dry_run)
    except HomeLocked as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_LOCKED
    except EduqError as exc:
        print(f"eduq withdraw: {exc}", file=sys.stderr)
        return 2
    print(result.render())
    return 0


def _cmd_check_files(args: argparse.Namespace) -> int:
    from core.errors import EduqError
    from ingestion.check_files import check_files

    settings = load_settings()
    folder = Path(args.folder) if args.folder else settings.landing_dir
    try:
        report = check_files(folder, settings)
    except EduqError as exc:
        print(f"eduq check-files: {exc}", file=sys.stderr)
        return 2
    print(report.render())
    return report.exit_code


def _cmd_templates(args: argparse.Namespace) -> int:
    from ingestion.templates import write_templates

    out = Path(args.out)
    if out.exists() and not out.is_dir():
        print(f"eduq templates: {out} is a file, not a folder", file=sys.stderr)
        return 2
    written = write_templates(out)
    print(f"Wrote {len(written)} templates into {out}: " + ", ".join(p.name for p in written))
    return 0


def _cmd_pg_publish(args: argparse.Namespace) -> int:
    from core import duck
    from core.errors import EduqError
    from orchestration.dbt_project import prepare_manifest
    from publishing.postgres import publish_marts, resolve_target

    settings = load_settings()
    target, why = resolve_target(settings)
    if target is None:
        print(f"Not published: {why}", file=sys.stderr)
        return 1
    try:
        with settings.writer_lock("`eduq pg-publish`"):
            result = publish_marts(
                settings.serving_db,
                target.conninfo,
                prepare_manifest(),
                bi_role=settings.pg_bi_role,
                force=args.force,
                small_number_min=settings.small_number_min,
                duckdb_config=duck.resources(settings),
            )
    except EduqError as exc:
        print(f"Not published: {exc}", file=sys.stderr)
        return 1
    print(result.render())
    for warning in result.warnings:
        print(f"  WARNING {warning}")
    return 0


def _cmd_docs(args: argparse.Namespace) -> int:
    from core.errors import EduqError
    from orchestration.docs import build_docs, serve_docs

    settings = load_settings()
    try:
        site = build_docs(settings)
    except EduqError as exc:
        print(f"No docs: {exc}", file=sys.stderr)
        return 1
    print(
        f"dbt docs with the catalog of the serving warehouse: {site.folder}/index.html "
        f"({site.marts} public marts, {site.columns} columns)"
    )
    for gap in site.undocumented:
        print(f"  UNDOCUMENTED {gap}")
    if args.no_serve:
        return 0
    port = args.port or settings.docs_port
    try:
        serve_docs(
            site.folder,
            port,
            on_ready=lambda: print(
                f"Serving on http://127.0.0.1:{port}/ (Ctrl-C to stop)", flush=True
            ),
        )
    except EduqError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    # stopped: nothing is left to write; leave at once rather than wait on the interpreter's
    # shutdown (CI saw `eduq docs` outlive its Ctrl-C by more than 30 s now and then)
    sys.stdout.flush()
    sys.stderr.flush()
    logging.shutdown()
    os._exit(0)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="eduq", description="Education-quality warehouse: ШНОР, ИСБШ, risk zones."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    gen = sub.add_parser(
        "generate",
        help="write a synthetic region's input files (deterministic by seed); "
        "--scale/--regions: a country-sized set of many regions",
    )
    gen.add_argument("--out", help="target folder (default: the landing folder)")
    gen.add_argument("--seed", type=int, default=42)
    gen.add_argument(
        "--schools",
        type=int,
        help="schools (default 335); with --scale or --regions: per region (default 450)",
    )
    gen.add_argument("--years", default="2021-2024", help="e.g. 2021-2024 or 2022,2023")
    size = gen.add_mutually_exclusive_group()
    size.add_argument(
        "--scale",
        help="region (1 region), 10 (10 regions) or country (85 regions): many regions of ~450 "
        "schools, every results year per participant, written streaming (~1 million rows/s)",
    )
    size.add_argument("--regions", type=int, help="number of regions (1-99), as --scale")
    gen.add_argument(
        "--jobs",
        type=int,
        default=1,
        help="with --scale/--regions and CSV: regions written at once by worker processes (default 1)",
    )
    gen.add_argument(
        "--format",
        choices=["csv", "parquet"],
        help="with --scale/--regions: csv (default; as regions send files, one folder per region) "
        "or parquet (canonical column names, one file per source and year; needs --out)",
    )
    gen.add_argument(
        "--force",
        action="store_true",
        help="write into the landing folder even if it holds files the generator did not write",
    )
    gen.set_defaults(func=_cmd_generate)

    run = sub.add_parser(
        "run", help="load the landing folder, build and test the warehouse, publish the list"
    )
    run.add_argument(
        "--profile", help="methodology profile (default: EDUQ_METHODOLOGY_PROFILE or fioko_2025)"
    )
    run.add_argument(
        "--full-refresh",
        action="store_true",
        help="rebuild the incremental models from scratch (every year counted again)",
    )
    run.add_argument("--list-year", type=int, help="list year to publish (default: the latest)")
    run.add_argument(
        "--documents",
        action="store_true",
        help="also publish the regional report and the school cards of the list year (else "
        "`eduq report` / `eduq card --all` do; the Dagster publish job always does)",
    )
    run.add_argument(
        "--dagster-history",
        action="store_true",
        help="record the run in DAGSTER_HOME's instance, so that `dagster dev` lists it "
        "(default: in memory, faster; EDUQ_DAGSTER_HISTORY=1)",
    )
    run.add_argument(
        "--verbose", action="store_true", help="print dbt and Dagster output instead of logging it"
    )
    run.set_defaults(func=_cmd_run)

    pub = sub.add_parser(
        "publish",
        help="publish the ШНОР list of a year from the serving warehouse "
        "(only if it carries a passed audit; an unchanged list is not republished)",
    )
    pub.add_argument(
        "--year", type=int, required=True, help="list year, e.g. 2025 (built on 2024 results)"
    )
    pub.add_argument(
        "--no-documents",
        action="store_true",
        help="publish the list and the marts files only (the regional report and the school cards "
        "take seconds to render: `eduq report` / `eduq card --all` publish them later)",
    )
    pub.add_argument(
        "--verbose", action="store_true", help="print Dagster output instead of logging it"
    )
    pub.set_defaults(func=_cmd_publish)

    sql = sub.add_parser(
        "sql", help="run a read-only SQL query on the serving warehouse and print a table"
    )
    sql.add_argument(
        "query", help='e.g. "select list_year, count(*) from marts.fct_shnor_list group by 1"'
    )
    sql.add_argument("--max-rows", type=int, default=100, help="rows to print (default 100)")
    sql.add_argument("--csv", action="store_true", help="print CSV instead of a table")
    sql.set_defaults(func=_cmd_sql)

    rebuild = sub.add_parser(
        "rebuild",
        help="rebuild the warehouse from the raw archive (after a damaged candidate or serving "
        "file): the old files are moved aside, every archived delivery is loaded again in its "
        "original order, then the pipeline runs with a full refresh",
    )
    rebuild.add_argument("--list-year", type=int, help="list year to publish (default: the latest)")
    rebuild.add_argument(
        "--documents", action="store_true", help="also publish the report and the school cards"
    )
    rebuild.add_argument(
        "--verbose", action="store_true", help="print dbt and Dagster output instead of logging it"
    )
    rebuild.set_defaults(func=_cmd_rebuild)

    withdraw = sub.add_parser(
        "withdraw",
        help="take back a delivered file that should not count (another year's or region's "
        "file, a test export): its rows leave the warehouse, its archived copy is kept aside, "
        "and the next `eduq run` publishes the lists without it",
    )
    withdraw.add_argument(
        "file", help="the file id (meta.load_log.file_id) or the file's name as delivered"
    )
    withdraw.add_argument(
        "--reason",
        required=True,
        help="why it is withdrawn (kept with the file and in the lists' manifests)",
    )
    withdraw.add_argument(
        "--dry-run", action="store_true", help="say what would be withdrawn; change nothing"
    )
    withdraw.set_defaults(func=_cmd_withdraw)

    check = sub.add_parser(
        "check-files",
        help="a dry run of the loader over a folder: per file, the source, year, rows read, rows "
        "that would be quarantined (with the first reasons) or why it would be rejected; "
        "nothing is loaded, moved or written",
    )
    check.add_argument("folder", nargs="?", help="folder to check (default: the landing folder)")
    check.set_defaults(func=_cmd_check_files)

    templates = sub.add_parser(
        "templates",
        help="write an empty XLSX template per source (Russian headers, drop-down lists, "
        "an «Инструкция» sheet) for the people who send files",
    )
    templates.add_argument("--out", required=True, help="folder to write the templates into")
    templates.set_defaults(func=_cmd_templates)

    # the regional report and the school cards (issue 11): logic in publishing/report/cli.py
    from publishing.report.cli import add_commands as add_report_commands

    add_report_commands(sub)

    pg = sub.add_parser(
        "pg-publish",
        help="publish the marts of the serving warehouse (only with a passed audit) to PostgreSQL: "
        "EDUQ_PG_URL or the project's cluster (make postgres); eduq run does it after every promotion",
    )
    pg.add_argument(
        "--force", action="store_true", help="publish even if this build is already published"
    )
    pg.set_defaults(func=_cmd_pg_publish)

    docs = sub.add_parser(
        "docs",
        help="build the dbt docs with the catalog of the serving warehouse and serve them on "
        "127.0.0.1 (every public mart and column described)",
    )
    docs.add_argument("--no-serve", action="store_true", help="build only")
    docs.add_argument(
        "--port", type=int, help="port on 127.0.0.1 (default: EDUQ_DOCS_PORT or 8580)"
    )
    docs.set_defaults(func=_cmd_docs)
    return parser


# Python's cyclic garbage collector traverses every live object on each full collection; a run
# holds Dagster's definitions, dbt's manifest and Great Expectations (millions of objects), so
# the default thresholds (700, 10, 10) made it collect ~1.5 s per demo run for almost nothing:
# the run's objects live until the end or are freed by reference counting. Young collections
# every 50,000 allocations instead of 700 keep that garbage bounded (tens of MB at most).
GC_THRESHOLDS = (50_000, 20, 20)


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    for handler in logging.getLogger().handlers:
        handler.setLevel(
            logging.WARNING
        )  # library loggers set their own levels; keep the terminal quiet
    args = build_parser().parse_args(argv)
    thresholds = gc.get_threshold()
    gc.set_threshold(*GC_THRESHOLDS)
    terminate = _sigterm_interrupts()
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print(
            "Interrupted; nothing was promoted or published by the interrupted step.",
            file=sys.stderr,
        )
        return 130
    except Exception as exc:  # noqa: BLE001 — no input reaches the user as a traceback
        return _unexpected(exc)
    finally:
        gc.set_threshold(*thresholds)
        if terminate is not None:
            signal.signal(signal.SIGTERM, terminate)


def _interrupted(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _sigterm_interrupts() -> Any:
    """SIGTERM (`kill`, a service manager, `timeout`) stops a command as Ctrl+C does, whether or not
    a Dagster job runs (Dagster's in-process execution catches both while a job runs; the runner
    puts this handler back after each, orchestration.runner.execute_job), and also when eduq was
    started with SIGINT ignored (a background job of a script). Returns the handler to restore
    (None: not on the main thread, nothing changed)."""
    if threading.current_thread() is not threading.main_thread():
        return None
    return signal.signal(signal.SIGTERM, _interrupted)


def _unexpected(exc: BaseException) -> int:
    """An error eduq did not foresee: one line for the user, the traceback in a log for a bug report."""
    import traceback

    from core.errors import EduqError

    if isinstance(exc, EduqError):
        print(f"eduq: {exc}", file=sys.stderr)
        return 1
    try:
        settings = load_settings()
        path = _log_path(settings, "error")
        path.write_text("".join(traceback.format_exception(exc)), encoding="utf-8")
        where = f" The details are in {path}; please report it."
    except Exception:  # noqa: BLE001 — even the log may be impossible (a read-only disk)
        where = ""
    print(f"eduq: unexpected error: {type(exc).__name__}: {exc}.{where}", file=sys.stderr)
    return 3


def entry() -> None:
    """The `eduq` command: :func:`main`, then leave without the interpreter's teardown.

    Tearing down a process that imported Dagster, dbt and Great Expectations is a last full garbage
    collection and the freeing of every module: ~1 s after «Done in …» with nothing left to do
    (every warehouse connection is closed, every file written, by then). The exit handlers still
    run (logging flushes its files, the Great Expectations worker is told to stop) and eduq's
    finite background tasks (threads named ``eduq-background-*``, e.g. pruning old dbt build
    folders) are waited for; then the process ends with main's exit code."""
    code = main()
    for thread in threading.enumerate():
        if thread.name.startswith("eduq-background-") and not thread.daemon:
            thread.join()
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(code)


if __name__ == "__main__":
    entry()
