"""Benchmark of the regional report and the school cards (issue 11): the report of the demo region
(`eduq generate --seed 42 --schools 335 --years 2021-2024`, then `eduq run`) in at most 10 s, all its
school cards in at most 60 s. Prints the figures; not a test.

    python bench/bench_report.py                    # a fresh demo region in a temporary folder
    python bench/bench_report.py --home .eduq       # an existing EDUQ_HOME with a serving warehouse
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import resource
import shutil
import tempfile
import time
from collections import Counter
from pathlib import Path

TARGET_REPORT_S, TARGET_CARDS_S = 10.0, 60.0


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--home", help="EDUQ_HOME holding a serving warehouse (default: build the demo region)"
    )
    parser.add_argument("--year", type=int, default=None, help="list year (default: the latest)")
    args = parser.parse_args()
    os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "False")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    scratch = Path(tempfile.mkdtemp(prefix="eduq-bench-report-"))
    try:
        if args.home:
            os.environ["EDUQ_HOME"] = str(Path(args.home).resolve())
        else:
            os.environ["EDUQ_HOME"] = str(scratch / "home")
            os.environ["EDUQ_TODAY"] = "2025-03-16"
        from core.settings import load_settings

        settings = load_settings()
        if not settings.serving_db.exists():
            import dagster as dg

            from orchestration.runner import run_pipeline
            from synthetic import generate_region

            started = time.perf_counter()
            generate_region(settings.landing_dir, seed=42, schools=335, years=range(2021, 2025))
            run_pipeline(settings, instance=dg.DagsterInstance.ephemeral(), quiet=True)
            print(
                f"demo region built (generate + eduq run, report and cards included) in {time.perf_counter() - started:.1f} s"
            )
        from publishing.report.publish import publish_cards, publish_report

        # publish into an empty folder, so that everything is rendered (nothing «unchanged»)
        fresh = dataclasses.replace(settings, publications_dir=scratch / "publications")
        cpu0 = time.process_time()
        started = time.perf_counter()
        report = publish_report(fresh, args.year)
        report_s = time.perf_counter() - started
        report_cpu = time.process_time() - cpu0
        pages = _pages(report.main_file)
        cpu0 = time.process_time()
        children0 = _children_cpu()
        started = time.perf_counter()
        stages: dict[str, float] = {}

        def progress(done: int, total: int, stage: str) -> None:
            if done == total:
                stages[stage] = time.perf_counter() - started

        cards = publish_cards(fresh, report.list_year, progress=progress)
        cards_s = time.perf_counter() - started
        cards_cpu = time.process_time() - cpu0
        workers_cpu = _children_cpu() - children0
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(
            f"regional report {report.list_year}: {report_s:.1f} s wall, {report_cpu:.1f} s CPU, {pages} pages "
            f"(target <= {TARGET_REPORT_S:.0f} s: {'met' if report_s <= TARGET_REPORT_S else 'NOT met'})"
        )
        print(
            f"school cards {cards.list_year}: {cards.count} schools in {cards_s:.1f} s wall, {cards_cpu:.1f} s CPU "
            f"+ {workers_cpu:.1f} s CPU in the layout processes, "
            f"{cards_s / max(cards.count, 1) * 1000:.0f} ms a card "
            f"(target <= {TARGET_CARDS_S:.0f} s: {'met' if cards_s <= TARGET_CARDS_S else 'NOT met'})"
        )
        folder = cards.main_file.parent
        singles = sum(p.stat().st_size for p in (folder / "pdf").iterdir())
        print(
            f"  PDF of all cards {cards.main_file.stat().st_size / 1e6:.1f} MB, "
            f"{_pages(cards.main_file)} pages; the cards' own PDFs {singles / 1e6:.1f} MB"
        )
        layout = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))["layout"]
        steps = Counter(layout["compact"].values())
        print(
            f"  one page a card: {cards.count - len(layout['continued'])} of {cards.count}; "
            f"laid out again in a compact step: {len(layout['compact'])} "
            f"({', '.join(f'step {k}: {n}' for k, n in sorted(steps.items())) or 'none'}); "
            f"running on: {len(layout['continued'])} {layout['continued'] or ''}".rstrip()
        )
        print(
            "  done after: "
            + ", ".join(f"{stage} {seconds:.1f} s" for stage, seconds in stages.items())
            + " (charts: the cards' charts; pdf: WeasyPrint; folder: a PDF and an HTML a school)"
        )
        print(
            f"peak memory {rss:.0f} MB; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
        )
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return 0


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _pages(pdf: Path) -> int:
    from pypdf import PdfReader

    return len(PdfReader(pdf).pages)


if __name__ == "__main__":
    raise SystemExit(main())
