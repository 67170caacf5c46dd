"""Fuzz the loader: ≥ 1,000 seeded mutations of valid landing files, each loaded by the real loader
in a worker process with a per-case timeout (tests/reliability/fuzzing.py). Prints the counts; exit
code 1 when any case crashed, hung or lost rows. `make fuzz` runs it; docs/reliability.md has the
figures.

    .venv/bin/python bench/fuzz.py --cases 1000 --seed 1
    .venv/bin/python bench/fuzz.py --seed 1 --reproduce 417 --out /tmp   # write one case's file
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.reliability.fuzzing import reproduce, run_fuzz


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
    args = parser.parse_args()
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
