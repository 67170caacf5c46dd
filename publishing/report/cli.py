"""The `eduq report` and `eduq card` commands (registered in orchestration/cli.py)."""

from __future__ import annotations

import argparse
import sys
import time

from core.errors import EduqError
from core.settings import load_settings


def add_commands(sub: argparse._SubParsersAction) -> None:
    report = sub.add_parser(
        "report",
        help="publish the regional report of a list year (HTML, PDF, XLSX) from the serving warehouse "
        "(only if it carries a passed audit; unchanged inputs publish nothing new)",
    )
    report.add_argument("--year", type=int, help="list year, e.g. 2025 (default: the latest list)")
    report.set_defaults(func=cmd_report)

    card = sub.add_parser(
        "card",
        help="publish the card of a school (HTML, PDF), or with --all the cards of every school of a list year",
    )
    card.add_argument("school_id", nargs="?", help="Код ОО (FIS OKO login), e.g. sch760152")
    card.add_argument(
        "--all", action="store_true", help="every school of the list year: one PDF and a folder"
    )
    card.add_argument("--year", type=int, help="list year (default: the latest list)")
    card.set_defaults(func=cmd_card)


def _exit_code(exc: Exception) -> int:
    """As `eduq publish`: 2 for a list year that has no publishable list, 1 for any other refusal."""
    from gate.errors import ListIncomplete, ListYearNotAvailable

    return 2 if isinstance(exc, (ListYearNotAvailable, ListIncomplete)) else 1


def cmd_report(args: argparse.Namespace) -> int:
    from publishing.report.publish import publish_report

    try:
        settings = load_settings()
        with settings.writer_lock("`eduq report`"):
            result = publish_report(settings, args.year)
    except EduqError as exc:
        print(f"Not published: {exc}", file=sys.stderr)
        return _exit_code(exc)
    print(result.render())
    return 0


def cmd_card(args: argparse.Namespace) -> int:
    from publishing.report.publish import publish_cards

    if bool(args.school_id) == bool(args.all):
        print("Give a school code (eduq card sch760152) or --all, not both.", file=sys.stderr)
        return 2
    started = time.perf_counter()

    def progress(done: int, total: int, stage: str) -> None:
        print(f"  {stage}: {done}/{total} ({time.perf_counter() - started:.0f} s)", flush=True)

    try:
        settings = load_settings()
        with settings.writer_lock("`eduq card`"):
            result = publish_cards(
                settings,
                args.year,
                school_id=args.school_id,
                progress=None if args.school_id else progress,
            )
    except EduqError as exc:
        print(f"Not published: {exc}", file=sys.stderr)
        return _exit_code(exc)
    print(result.render())
    return 0
