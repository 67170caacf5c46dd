"""Ingest throughput against DuckDB's own read_csv (a benchmark, not a test).

    .venv/bin/python bench/bench_ingest.py [--rows 3000000] [--xlsx-rows 200000] [--repeat 3]

Generates, in a work folder (default: a temporary one, removed afterwards):

* a VPR by-participant CSV as the federal system sends it: Windows-1251, «;», CRLF, a
  title line, Russian headers, decimal commas, one row in a thousand broken (a mark of 6,
  an unknown school) so that the quarantine path is exercised, and a UTF-8 copy of it;
* an XLSX of VPR school statistics with a merged title and ``--xlsx-rows`` rows.

Then, for ``--repeat`` rounds, interleaved so that page cache and clock drift hit both
alike, it times:

* ``duckdb read_csv``: ``create table as select * from read_csv(...)`` with DuckDB's own
  detection (the cp1251 file read as latin-1: DuckDB has no Windows-1251 without the
  ``encodings`` extension, which needs the internet);
* ``eduq ingest``: :func:`survey_landing` + :func:`load_source` on a fresh warehouse
  with the school registry loaded: hashing, sniffing, transcoding, staging, typing,
  validation, quarantine, the load log and the archive move - everything a real run does.

and prints the best time of each, rows/s and the ratio (target: eduq within 3x of DuckDB),
both of the best times and as the median of the ratios measured round by round, and the
ratio of process CPU time (all threads), which other load on the machine disturbs less.
"""

from __future__ import annotations

import argparse
import codecs
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.settings import load_settings
from ingestion.loader import load_source, survey_landing

SCHOOLS = 700
SUBJECTS = ["Русский язык", "Математика", "Окружающий мир", "История", "Биология", "География"]


@dataclass
class Timing:
    label: str
    rows: int
    seconds: list[float]
    cpu: list[float]

    @property
    def best(self) -> float:
        return min(self.seconds)

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.best

    @property
    def best_cpu(self) -> float:
        return min(self.cpu)


def _paired(ours: Timing, theirs: Timing) -> float:
    """Median over rounds of ours / theirs measured in the same round (robust to drift between rounds)."""
    return statistics.median(o / t for o, t in zip(ours.seconds, theirs.seconds, strict=True))


def make_csv(folder: Path, rows: int) -> tuple[Path, Path]:
    """The cp1251 file and its UTF-8 twin; DuckDB writes the UTF-8 one, Python transcodes."""
    utf8 = folder / "vpr_utf8.csv"
    body = folder / "body.csv"
    subjects = "[" + ", ".join(f"'{s}'" for s in SUBJECTS) + "]"
    duckdb.connect().execute(
        f"""
        copy (
            select 2024 as "Год",
                   case when i % 1000 = 999 then 'sch999999'
                        else 'sch' || lpad(cast(i % {SCHOOLS} as varchar), 6, '0') end as "Код ОО",
                   'МБОУ «СОШ № ' || (i % {SCHOOLS}) || '»' as "Наименование ОО",
                   4 + (i // {SCHOOLS}) % 5 as "Класс",
                   {subjects}[1 + (i // 7) % {len(SUBJECTS)}] as "Предмет",
                   'P' || lpad(cast(i as varchar), 8, '0') as "Код участника",
                   replace(cast(round((hash(i) % 300) / 10.0, 1) as varchar), '.', ',') as "Первичный балл",
                   case when i % 1000 = 500 then 6 else 2 + hash(i * 7) % 4 end as "Отметка",
                   case when i % 97 = 0 then 'неявка' else 'явка' end as "Статус"
            from range({rows}) as t(i)
        ) to '{body}' (delimiter ';', header true)
        """
    )
    with open(utf8, "wb") as out, open(body, "rb") as src:
        out.write("Результаты ВПР 2024 (выгрузка ФИС ОКО);;;;;;;;\n".encode())
        shutil.copyfileobj(src, out, 16 * 1024 * 1024)
    body.unlink()
    cp1251 = folder / "vpr_cp1251.csv"
    decoder = codecs.getincrementaldecoder("utf-8")()
    with open(utf8, "rb") as src, open(cp1251, "wb") as dst:
        while chunk := src.read(8 * 1024 * 1024):
            dst.write(decoder.decode(chunk).replace("\n", "\r\n").encode("cp1251"))
    return cp1251, utf8


def make_xlsx(folder: Path, rows: int) -> Path:
    import openpyxl

    wb = openpyxl.Workbook(write_only=True)
    ws = wb.create_sheet("Статистика")
    ws.append(["Статистика ВПР 2024 по ОО"])
    ws.append([])
    ws.append(
        ["Год", "Код ОО", "Класс", "Предмет", "Количество участников", "«2»", "«3»", "«4»", "«5»"]
    )
    for i in range(rows):
        school = f"sch{i // (5 * len(SUBJECTS)) % SCHOOLS:06d}"
        marks = [i % 3, 5 + i % 7, 6 + i % 5, 2 + i % 4]
        grade = 4 + i % 5
        # (year, school) keys repeat across rows: give each row its own year-school-grade-subject key
        ws.append(
            [
                2024 - (i // (SCHOOLS * 5 * len(SUBJECTS))),
                school,
                grade,
                SUBJECTS[(i // 5) % len(SUBJECTS)],
                sum(marks),
                *marks,
            ]
        )
    path = folder / "vpr_school_stats_bench.xlsx"
    wb.save(path)
    return path


def registry_csv(folder: Path) -> Path:
    path = folder / "schools_2024.csv"
    lines = ["Код ОО;Наименование ОО;Код МО;Муниципальное образование;Тип местности"]
    lines += [f"sch{i:06d};Школа {i};{i % 20:02d};Район {i % 20};город" for i in range(SCHOOLS)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def fresh_home(work: Path, registry: Path, today: str) -> None:
    home = work / "home"
    shutil.rmtree(home, ignore_errors=True)
    os.environ["EDUQ_HOME"] = str(home)
    os.environ["EDUQ_TODAY"] = today
    settings = load_settings()
    settings.ensure_dirs()
    shutil.copyfile(registry, settings.landing_dir / registry.name)
    with duckdb.connect(str(settings.candidate_db)) as con:
        survey_landing(con, settings)
        load_source(con, settings, "schools")


def time_eduq(
    work: Path, registry: Path, data: Path, source: str
) -> tuple[float, float, int, int, int]:
    fresh_home(work, registry, "2025-06-01")
    settings = load_settings()
    target = settings.landing_dir / source / data.name
    target.parent.mkdir(parents=True)
    os.link(data, target)  # the loader moves the file to the archive; the original stays
    with duckdb.connect(str(settings.candidate_db)) as con:
        start, cpu = time.perf_counter(), time.process_time()
        survey_landing(con, settings)
        report = load_source(con, settings, source)
        elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    (f,) = report.files
    assert f.status == "loaded", f.message
    return elapsed, cpu, f.rows_read, f.rows_loaded, f.rows_quarantined


def time_duckdb(work: Path, path: Path, encoding: str) -> tuple[float, float, int]:
    db = work / "baseline.duckdb"
    db.unlink(missing_ok=True)
    with duckdb.connect(str(db)) as con:
        start, cpu = time.perf_counter(), time.process_time()
        con.execute(
            f"create table t as select * from read_csv('{path}', encoding = '{encoding}', skip = 1, header = true)"
        )
        elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
        rows = con.execute("select count(*) from t").fetchone()[0]
    db.unlink(missing_ok=True)
    return elapsed, cpu, rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--rows", type=int, default=3_000_000, help="rows of the CSV (default 3 000 000)"
    )
    parser.add_argument(
        "--xlsx-rows", type=int, default=200_000, help="rows of the XLSX (default 200 000)"
    )
    parser.add_argument(
        "--repeat", type=int, default=3, help="rounds; the best time counts (default 3)"
    )
    parser.add_argument(
        "--workdir", type=Path, help="keep the generated files here (default: a temp folder)"
    )
    args = parser.parse_args(argv)

    work = args.workdir or Path(tempfile.mkdtemp(prefix="eduq_bench_"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        t0 = time.perf_counter()
        cp1251, utf8 = make_csv(work, args.rows)
        xlsx = make_xlsx(work, args.xlsx_rows) if args.xlsx_rows else None
        registry = registry_csv(work)
        print(
            f"generated {args.rows:,} CSV rows ({cp1251.stat().st_size / 1e6:.0f} MB cp1251) and "
            f"{args.xlsx_rows:,} XLSX rows in {time.perf_counter() - t0:.1f} s; {os.cpu_count()} cores, "
            f"duckdb {duckdb.__version__}"
        )

        timings: dict[str, Timing] = {}
        counts: dict[str, tuple[int, int, int]] = {}

        def record(label: str, rows: int, seconds: float, cpu: float) -> None:
            timing = timings.setdefault(label, Timing(label, rows, [], []))
            timing.seconds.append(seconds)
            timing.cpu.append(cpu)

        steps: list[tuple[str, Callable[[], None]]] = []

        def duck(label: str, path: Path, encoding: str) -> Callable[[], None]:
            def run() -> None:
                seconds, cpu, rows = time_duckdb(work, path, encoding)
                record(label, rows, seconds, cpu)

            return run

        def ours(label: str, path: Path, source: str) -> Callable[[], None]:
            def run() -> None:
                seconds, cpu, read, loaded, quarantined = time_eduq(work, registry, path, source)
                counts[label] = (read, loaded, quarantined)
                record(label, read, seconds, cpu)

            return run

        steps += [
            (
                "duckdb read_csv, cp1251 file (as latin-1)",
                duck("duckdb read_csv, cp1251 file (as latin-1)", cp1251, "latin-1"),
            ),
            ("eduq ingest, cp1251 file", ours("eduq ingest, cp1251 file", cp1251, "vpr_results")),
            ("duckdb read_csv, UTF-8 copy", duck("duckdb read_csv, UTF-8 copy", utf8, "utf-8")),
            ("eduq ingest, UTF-8 copy", ours("eduq ingest, UTF-8 copy", utf8, "vpr_results")),
        ]
        if xlsx is not None:
            steps.append(("eduq ingest, XLSX", ours("eduq ingest, XLSX", xlsx, "vpr_school_stats")))
        for round_no in range(1, args.repeat + 1):
            for label, run in steps:
                run()
                t = timings[label]
                print(
                    f"  round {round_no}: {label:<45} {t.seconds[-1]:6.2f} s  (cpu {t.cpu[-1]:6.2f} s)",
                    flush=True,
                )

        print(f"\nbest of {args.repeat}:")
        for t in timings.values():
            extra = ""
            if t.label in counts:
                read, loaded, quarantined = counts[t.label]
                extra = f"  (read {read:,} = loaded {loaded:,} + quarantined {quarantined:,})"
            print(
                f"  {t.label:<45} {t.best:6.2f} s  {t.rows_per_second:>12,.0f} rows/s  cpu {t.best_cpu:6.2f} s{extra}"
            )
        base = timings["duckdb read_csv, cp1251 file (as latin-1)"].best
        ours_cp = timings["eduq ingest, cp1251 file"].best
        base_u = timings["duckdb read_csv, UTF-8 copy"].best
        ours_u = timings["eduq ingest, UTF-8 copy"].best
        paired_cp = _paired(
            timings["eduq ingest, cp1251 file"],
            timings["duckdb read_csv, cp1251 file (as latin-1)"],
        )
        paired_u = _paired(
            timings["eduq ingest, UTF-8 copy"], timings["duckdb read_csv, UTF-8 copy"]
        )
        print(
            f"\nratio eduq / duckdb, cp1251 file: best {ours_cp / base:.2f}x, median of rounds "
            f"{paired_cp:.2f}x  (target: within 3x)"
        )
        print(
            f"ratio eduq / duckdb, UTF-8 copy:  best {ours_u / base_u:.2f}x, median of rounds {paired_u:.2f}x"
        )
        cpu_cp = (
            timings["eduq ingest, cp1251 file"].best_cpu
            / timings["duckdb read_csv, cp1251 file (as latin-1)"].best_cpu
        )
        cpu_u = (
            timings["eduq ingest, UTF-8 copy"].best_cpu
            / timings["duckdb read_csv, UTF-8 copy"].best_cpu
        )
        print(
            f"ratio of CPU time (all threads; less sensitive to other load): cp1251 {cpu_cp:.2f}x, UTF-8 {cpu_u:.2f}x"
        )
        print(
            f"load average now: {' '.join(Path('/proc/loadavg').read_text().split()[:3])}"
            if Path("/proc/loadavg").exists()
            else ""
        )
    finally:
        if args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
