"""Render the benchmark's results (bench/results/*.json) into docs/performance.md and a plot.

    .venv/bin/python bench/report.py

Replaces the part of docs/performance.md between the `bench:results` markers with one table per
measured size (medians, ratios to the floor of the same run, date, machine, code) and draws
docs/performance.png: wall time and peak memory against the number of regions, the floor and
the pandas script beside eduq. Called by bench/run_bench.py after each run; the sizes not
measured in that run keep their earlier figures.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results"
DOC = ROOT / "docs" / "performance.md"
PLOT = ROOT / "docs" / "performance.png"
START, END = "<!-- bench:results:start -->", "<!-- bench:results:end -->"
TOOLS = ("floor", "pandas", "eduq_fresh", "eduq_again")
COLOURS = {
    "floor": "#2b8a3e",
    "pandas": "#1c7ed6",
    "eduq_fresh": "#e8590c",
    "eduq_again": "#f59f00",
}


def load_results() -> list[dict]:
    """The results of `make bench` (bench/results/<size>.json; not those of bench/increment.py)."""
    results = [
        json.loads(p.read_text(encoding="utf-8"))
        for p in RESULTS.glob("*.json")
        if not p.name.startswith("increment-")
    ]
    return sorted(results, key=lambda r: r["regions"])


def _gb(value: float) -> str:
    return f"{value / 1e9:.2f} GB" if value >= 1e8 else f"{value / 1e6:.0f} MB"


def _seconds(value: float) -> str:
    return f"{value:.1f} s" if value < 100 else f"{value:.0f} s"


def _changes(code: dict) -> str:
    if not code.get("dirty"):
        return ""
    files = code.get("changed_files") or []
    return " with uncommitted changes" + (
        f" to {', '.join(f'`{f}`' for f in files)}" if files else ""
    )


def _size_label(r: dict) -> str:
    regions = r["regions"]
    return f"{regions} region{'s' if regions > 1 else ''}"


def tables(results: list[dict]) -> str:
    out = []
    for r in results:
        m = r["machine"]
        code = r["code"]
        gen = r.get("generate") or {}
        out.append(
            f"### {_size_label(r)}: {r['schools']:,} schools, {r['result_rows'] / 1e6:.1f} million "
            f"result rows ({', '.join(str(y) for y in r['years'])})\n"
        )
        out.append(
            f"Measured {r['date']} on {m['cpu']}, {m['cores']} cores, {m['memory_bytes'] / 2**30:.0f} GiB "
            f"({m['system']}; Python {m['python']}, DuckDB {m['duckdb']}); code {code['commit']} on "
            f"`{code['branch']}`{_changes(code)}; "
            f"{r['rounds']} round(s), medians; load average during the runs "
            f"{r['load_average_median']:.1f}. Input: {r['rows']:,} rows in "
            f"{r['csv_bytes'] / 1e9:.2f} GB of CSV (seed {r['seed']})"
            + (
                f"; `eduq generate` took {gen['seconds']:.1f} s with start-up "
                f"({gen['rows_per_second'] / 1e6:.2f} million rows/s; the generator's own rate "
                f"{(gen.get('generator_rows_per_second') or 0) / 1e6:.2f} million rows/s; "
                f"{gen.get('jobs', 1)} job(s), peak {_gb(gen['peak_rss_bytes'])})."
                if gen
                else "."
            )
            + "\n"
        )
        out.append("| | wall time | × floor | CPU time | peak memory | × floor |")
        out.append("|---|---:|---:|---:|---:|---:|")
        for tool in TOOLS:
            s = r["tools"].get(tool)
            if s is None:
                continue
            failed = (
                f" ({s['failed_runs']} of {len(s['runs'])} runs failed)" if s["failed_runs"] else ""
            )
            out.append(
                f"| {s['label']}{failed} | {_seconds(s['median_seconds'])} | {s['time_ratio']:.1f}× | "
                f"{_seconds(s['median_cpu_seconds'])} | {_gb(s['median_peak_rss_bytes'])} | "
                f"{s['memory_ratio']:.1f}× |"
            )
        check = r.get("check") or {}
        if check:
            out.append(
                f"\nChecked before timing: the floor and the pandas script computed the warehouse's "
                f"{check['procedure_results']:,} school × procedure × year counts and its "
                f"{check['list']:,} listed schools (list year{'s' if len(check['list_years']) > 1 else ''} "
                f"{', '.join(map(str, check['list_years']))}; "
                f"warehouse `{check['warehouse']}`)."
            )
            for name, digest in (check.get("published_csv_sha256") or {}).items():
                out.append(f"Published list `{name}`: SHA-256 `{digest}`.")
        out.append("")
    return "\n".join(out)


def _annotate(ax: object, x: float, points: list[tuple[float, str, str]]) -> None:
    """Value labels beside the points of one x, ascending; two values closer than ~25% part: the
    lower label goes below its point, the upper one above."""
    for i, (value, text, tool) in enumerate(points):
        dy = -3
        if i > 0 and value / points[i - 1][0] < 1.25:
            dy = 4
        elif i + 1 < len(points) and points[i + 1][0] / value < 1.25:
            dy = -10
        ax.annotate(  # type: ignore[attr-defined]
            text,
            (x, value),
            textcoords="offset points",
            xytext=(6, dy),
            fontsize=7,
            color=COLOURS[tool],
        )


def plot(results: list[dict]) -> Path | None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib.ticker import FuncFormatter, LogLocator, NullLocator
    except ImportError:
        print("matplotlib is not installed (make bench installs it): no plot", file=sys.stderr)
        return None
    fig, (ax_time, ax_mem) = plt.subplots(1, 2, figsize=(11, 4.2))
    labels: dict[tuple[int, int], list[tuple[float, str, str]]] = {}  # (panel, x) -> points
    for tool in TOOLS:
        points = [(r["regions"], r["tools"][tool]) for r in results if tool in r["tools"]]
        if not points:
            continue
        x = [p[0] for p in points]
        style = {"color": COLOURS[tool], "marker": "o", "label": points[0][1]["label"]}
        seconds = [p[1]["median_seconds"] for p in points]
        memory = [p[1]["median_peak_rss_bytes"] / 1e9 for p in points]
        ax_time.plot(x, seconds, **style)
        ax_mem.plot(x, memory, **style)
        for panel, values, unit in ((0, seconds, "s"), (1, memory, "GB")):
            for xi, v in zip(x, values):
                labels.setdefault((panel, xi), []).append((v, f"{v:.3g} {unit}", tool))
    for (panel, xi), points in labels.items():
        _annotate((ax_time, ax_mem)[panel], xi, sorted(points))
    regions = sorted({r["regions"] for r in results})
    for ax, title, unit in (
        (ax_time, "Wall time (median)", "seconds"),
        (ax_mem, "Peak memory of the process tree", "GB"),
    ):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.yaxis.set_minor_locator(NullLocator())
        ax.set_xticks(regions, [str(x) for x in regions])
        ax.xaxis.set_minor_locator(NullLocator())
        ax.set_xlim(min(regions) / 1.6, max(regions) * 2.2)
        ax.set_xlabel("regions (450 schools each)")
        ax.set_ylabel(unit)
        ax.set_title(title)
        ax.grid(True, which="major", alpha=0.3)
    ax_time.legend(fontsize=8)
    dates = sorted({r["date"] for r in results})
    fig.suptitle(
        f"eduq against the floor and a pandas script (bench/run_bench.py, {', '.join(dates)})"
    )
    fig.tight_layout()
    fig.savefig(PLOT, dpi=110)
    plt.close(fig)
    return PLOT


def render() -> list[Path]:
    results = load_results()
    text = DOC.read_text(encoding="utf-8")
    if START not in text or END not in text:
        raise SystemExit(f"{DOC} lacks the markers {START} / {END}")
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    body = tables(results) if results else "No measurement yet: run `make bench`.\n"
    DOC.write_text(f"{head}{START}\n{body}\n{END}{tail}", encoding="utf-8")
    written = [DOC]
    if results and (path := plot(results)):
        written.append(path)
    return written


if __name__ == "__main__":
    for path in render():
        print(path)
