"""The `eduq` command."""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys
import time
from pathlib import Path

from core.settings import Settings, load_settings


def _cmd_generate(args: argparse.Namespace) -> int:
    if args.scale is not None or args.regions is not None:
        return _generate_country(args)
    if args.format is not None:
        print(
            "--format goes with --scale or --regions (the demo region is XLSX and CSV)",
            file=sys.stderr,
        )
        return 2
    from synthetic import generate_region, parse_years

    settings = load_settings()
    out = Path(args.out) if args.out else settings.landing_dir
    started = time.perf_counter()
    report = generate_region(
        out, seed=args.seed, schools=args.schools or 335, years=parse_years(args.years)
    )
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
            "eduq generate: --format parquet needs --out DIR (eduq run loads CSV and XLSX from the "
            "landing folder, not Parquet)",
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
    import os

    if args.profile:
        os.environ["EDUQ_METHODOLOGY_PROFILE"] = args.profile
    if args.full_refresh:
        os.environ["EDUQ_DBT_FULL_REFRESH"] = "1"
    from core.errors import EduqError
    from gate.errors import ListIncomplete, ListYearNotAvailable
    from orchestration.runner import PipelineFailed, run_pipeline

    settings = load_settings()
    started = time.perf_counter()
    log_path = None if args.verbose else _log_path(settings, "run")
    try:
        if log_path is None:
            summary = run_pipeline(settings, list_year=args.list_year)
        else:
            # dbt's and Dagster's step-by-step output goes to a log file; the summary to the terminal
            with _output_to(log_path):
                summary = run_pipeline(settings, list_year=args.list_year)
    except (ListYearNotAvailable, ListIncomplete) as exc:
        print(f"Not published: {exc}", file=sys.stderr)
        return 2
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


@contextlib.contextmanager
def _output_to(log_path: Path):
    """Send dbt's and Dagster's output (stdout, stderr, log records) to the run's log file; what
    matters (loads, rejections, check warnings, the audit) comes back in the printed summary."""
    root = logging.getLogger()
    saved = root.handlers[:]
    with (
        open(log_path, "w", encoding="utf-8") as log,
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
    from gate.errors import ListIncomplete, ListYearNotAvailable
    from orchestration.runner import PipelineFailed, publish

    settings = load_settings()
    log_path = None if args.verbose else _log_path(settings, f"publish-{args.year}")
    try:
        if log_path is None:
            result = publish(settings, args.year)
        else:
            with _output_to(log_path):
                result = publish(settings, args.year)
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

    settings = load_settings()
    serving = settings.serving_db
    if not serving.exists():
        print(f"No serving warehouse at {serving}: run `eduq run` first.", file=sys.stderr)
        return 1
    with duckdb.connect(str(serving), read_only=True) as con:
        try:
            relation = con.sql(args.query)
            if relation is None:
                print("OK (the statement returned no rows)")
                return 0
            columns = list(relation.columns)
            rows = relation.limit(args.max_rows + 1).fetchall()
        except duckdb.Error as exc:
            message = str(exc)
            if "read-only" in message or "read_only" in message:
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
    return parser


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    for handler in logging.getLogger().handlers:
        handler.setLevel(
            logging.WARNING
        )  # library loggers set their own levels; keep the terminal quiet
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    raise SystemExit(main())
