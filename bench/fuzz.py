"""Fuzz the loader: ≥ 1,000 seeded mutations of valid landing files, each loaded by the real loader
in a worker process with a per-case timeout (tests/reliability/fuzzing.py). Prints the counts; exit
code 1 when any case crashed, hung or lost rows. `make fuzz` runs it; docs/reliability.md has the
figures.

    .venv/bin/python bench/fuzz.py --cases 1000 --seed 1
    .venv/bin/python bench/fuzz.py --seed 1 --reproduce 417 --out /tmp   # write one case's file
    .venv/bin/python bench/fuzz.py --bomb-mb 2048   # a real zip bomb: refusal time, peak memory
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.reliability.fuzzing import reproduce, run_fuzz

BOMB_CHILD = """
import resource, sys, time
from pathlib import Path
from core.errors import EduqError
from ingestion.contract import load_contracts
from ingestion.readers import sniff
started = time.perf_counter()
try:
    sniff(Path(sys.argv[1]), list(load_contracts().values()))
    print("OPENED (not refused!)")
except EduqError as exc:
    print(f"refused in {time.perf_counter() - started:.2f} s: {exc}")
print(f"peak memory of the reading process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
"""


def zip_bomb(path: Path, megabytes: int) -> None:
    """A workbook whose one sheet is ``megabytes`` of repeated rows, streamed (bounded memory)."""
    from tests.fixtures.reliability.make_fixtures import sheet, workbook, write_xlsx

    members = workbook(sheet([["Год", "Код ОО"]]))
    head, tail = members.pop("xl/worksheets/sheet1.xml").split("</sheetData>")
    write_xlsx(path, members)
    import zipfile

    row = b"<row><c><v>0</v></c></row>" * 40_000  # ~1 MB
    with zipfile.ZipFile(path, "a", zipfile.ZIP_DEFLATED) as zf:
        info = zipfile.ZipInfo("xl/worksheets/sheet1.xml", (2025, 3, 1, 9, 0, 0))
        info.compress_type = zipfile.ZIP_DEFLATED
        with zf.open(info, "w", force_zip64=True) as out:
            out.write(head.encode())
            for _ in range(megabytes):
                out.write(row)
            out.write(b"</sheetData>" + tail.encode())


def bomb(megabytes: int) -> int:
    with tempfile.TemporaryDirectory(prefix="eduq_bomb_") as tmp:
        path = Path(tmp) / "vpr_school_stats_2024.xlsx"
        started = time.perf_counter()
        zip_bomb(path, megabytes)
        print(
            f"zip bomb: {path.stat().st_size / 1024**2:.1f} MB packed, {megabytes:,} MB of XML "
            f"(written in {time.perf_counter() - started:.0f} s)"
        )
        root = Path(__file__).resolve().parent.parent
        out = subprocess.run(
            [sys.executable, "-c", BOMB_CHILD, str(path)],
            cwd=root,
            capture_output=True,
            text=True,
            check=False,
        )
        print(out.stdout.strip() or out.stderr.strip()[-2000:])

        return 0 if "refused" in out.stdout else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds a case may take")
    parser.add_argument(
        "--giant", type=int, default=5_000_000, help="largest giant field, characters"
    )
    parser.add_argument("--reproduce", type=int, help="write case N of the seed and stop")
    parser.add_argument("--out", default=".", help="folder for --reproduce")
    parser.add_argument("--bomb-mb", type=int, help="refuse a real zip bomb of this many MB, stop")
    args = parser.parse_args()
    if args.bomb_mb:
        return bomb(args.bomb_mb)
    if args.reproduce is not None:
        print(reproduce(args.seed, args.reproduce, Path(args.out), args.giant))
        return 0
    step = max(args.cases // 10, 1)

    def progress(case, verdict, seconds) -> None:
        if (case.number + 1) % step == 0:
            print(f"  {case.number + 1}/{args.cases} cases", flush=True)

    report = run_fuzz(args.seed, args.cases, args.timeout, args.giant, progress)
    print(report.render())
    return 1 if report.failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
