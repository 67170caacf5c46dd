"""The `eduq` command."""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys
import time
from pathlib import Path

from ingestion.settings import load_settings


def _cmd_generate(args: argparse.Namespace) -> int:
    from ingestion.synthetic import generate_region, parse_years

    settings = load_settings()
    out = Path(args.out) if args.out else settings.landing_dir
    started = time.perf_counter()
    report = generate_region(out, seed=args.seed, schools=args.schools, years=parse_years(args.years))
    rows = sum(f.rows for f in report.files)
    print(f"Generated {len(report.files)} files, {rows} rows into {out} in {time.perf_counter() - started:.1f} s")
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    import os

    if args.profile:
        os.environ["EDUQ_METHODOLOGY_PROFILE"] = args.profile
    from orchestration.runner import PipelineFailed, run_pipeline

    settings = load_settings()
    started = time.perf_counter()
    log_dir = settings.home / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"run-{time.strftime('%Y%m%d-%H%M%S')}.log"
    try:
        if args.verbose:
            summary = run_pipeline(settings, list_year=args.list_year)
        else:
            # dbt's and Dagster's step-by-step output goes to a log file; the summary to the terminal
            with open(log_path, "w", encoding="utf-8") as log, contextlib.redirect_stdout(log):
                summary = run_pipeline(settings, list_year=args.list_year, quiet=True)
    except PipelineFailed as exc:
        print(str(exc), file=sys.stderr)
        print(f"Details: {log_path}", file=sys.stderr)
        return 1
    print(summary.render())
    print(f"Done in {time.perf_counter() - started:.1f} s")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="eduq", description="Education-quality warehouse: ШНОР, ИСБШ, risk zones.")
    sub = parser.add_subparsers(dest="command", required=True)

    gen = sub.add_parser("generate", help="write a synthetic region's input files (deterministic by seed)")
    gen.add_argument("--out", help="target folder (default: the landing folder)")
    gen.add_argument("--seed", type=int, default=42)
    gen.add_argument("--schools", type=int, default=335)
    gen.add_argument("--years", default="2021-2024", help="e.g. 2021-2024 or 2022,2023")
    gen.set_defaults(func=_cmd_generate)

    run = sub.add_parser("run", help="load the landing folder, build and test the warehouse, publish the list")
    run.add_argument("--profile", help="methodology profile (default: EDUQ_METHODOLOGY_PROFILE or fioko_2025)")
    run.add_argument("--list-year", type=int, help="list year to publish (default: the latest)")
    run.add_argument("--verbose", action="store_true", help="print dbt and Dagster output instead of logging it")
    run.set_defaults(func=_cmd_run)
    return parser


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    for handler in logging.getLogger().handlers:
        handler.setLevel(logging.WARNING)  # library loggers set their own levels; keep the terminal quiet
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    raise SystemExit(main())
