"""A seeded fuzzer of landing files: mutate valid deliveries (encodings, delimiters, truncation, wrong
types, giant fields, NUL bytes, flipped bytes, lost headers …) and load each through the real loader
(`ingestion.loader.ingest_all`, what `eduq run` calls), in a worker process the parent kills when a
case takes longer than its timeout.

Every case must end in one of two ways:
- **loaded** with exact accounting: rows read = rows loaded + rows quarantined, the rows of the file
  in ``raw.<source>`` are the rows loaded, its distinct rows in ``raw._quarantine`` the rows
  quarantined, and the file moved to the archive; or
- **rejected** with a message (an :class:`~core.errors.EduqError`), nothing of it in ``raw``, the
  file in ``landing/rejected/`` with its ``.reason.txt``;
(or **duplicate**: the same bytes were already delivered). Anything else — a traceback, a hang past
the timeout, a count that does not add up, a file left behind — is a failure, reported with the
seed and case number that reproduce it.

Used by tests/reliability/test_fuzz.py (~50 cases in `make test`) and bench/fuzz.py (`make fuzz`,
1,000 cases and more).
"""

from __future__ import annotations

import multiprocessing
import random
import shutil
import tempfile
import time
import traceback
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "tests" / "fixtures" / "ingestion"
REFERENCE = ("schools_2024.csv", "school_codes.csv")
# committed deliveries as they arrive (cp1251, title rows, merged cells, «Итого»)
CORPUS_BASES = (
    "gia_results_2024.csv",
    "resource_survey_2024.csv",
    "vpr_results_4kl_rus.csv",
    "vpr_school_stats_2024.xlsx",
    "vpr_school_stats_2024_sch001_исправление.csv",
    "school_successors.xlsx",
    "ВПР_2024_участники_Кировский.csv",
    "Социальный паспорт 2024.xlsx",
)
MAX_BASE_LINES = 200
TODAY = "2025-06-01"

JUNK = [
    "abc",
    "",
    " ",
    "1e309",
    "NaN",
    "-1",
    "999999999999999999999999",
    "2024-13-45",
    "٣",
    "'",
    '"',
    "=1+1",
    "NULL",
    "да",
    "1,5",
    "1 000,5",
    "12,5%",
    "\u00a0",
    "—",
    "0x1F",
    "Итого",
    "Код ОО",
]
TEXT_ENCODINGS = ["utf-8", "utf-8-sig", "cp1251", "utf-16", "koi8-r", "latin-1", "cp866"]


@dataclass(frozen=True)
class Base:
    name: str  # relative path in the landing folder
    data: bytes

    @property
    def is_text(self) -> bool:
        return not self.data.startswith(b"PK")


@dataclass(frozen=True)
class Case:
    number: int
    base: str
    mutations: tuple[str, ...]
    name: str
    data: bytes


@dataclass
class Outcome:
    case: Case
    verdict: str  # loaded | rejected | duplicate | failure
    detail: str = ""
    rows: tuple[int, int, int] = (0, 0, 0)  # read, loaded, quarantined
    seconds: float = 0.0


@dataclass
class FuzzReport:
    seed: int
    outcomes: list[Outcome] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def failures(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.verdict == "failure"]

    def counts(self) -> Counter:
        return Counter(o.verdict for o in self.outcomes)

    def render(self) -> str:
        counts = self.counts()
        by_mutation: Counter = Counter()
        for o in self.outcomes:
            for m in o.case.mutations:
                by_mutation[m] += 1
        slowest = max(self.outcomes, key=lambda o: o.seconds) if self.outcomes else None
        lines = [
            (
                f"fuzz seed {self.seed}: {len(self.outcomes)} cases in {self.seconds:.1f} s — "
                f"{counts['loaded']} loaded (exact accounting), {counts['rejected']} rejected "
                f"with a message, {counts['duplicate']} duplicate, {counts['failure']} failures"
            ),
            f"  rows read {sum(o.rows[0] for o in self.outcomes):,}, loaded "
            f"{sum(o.rows[1] for o in self.outcomes):,}, quarantined "
            f"{sum(o.rows[2] for o in self.outcomes):,}; lost 0"
            if not self.failures
            else "  FAILURES:",
            "  mutations: " + ", ".join(f"{m} {n}" for m, n in sorted(by_mutation.items())),
        ]
        if slowest is not None:
            lines.append(
                f"  slowest case: #{slowest.case.number} {slowest.case.base} "
                f"{'+'.join(slowest.case.mutations)} {slowest.seconds:.2f} s"
            )
        for o in self.failures:
            lines.append(
                f"  FAILURE case #{o.case.number} ({o.case.base}, {'+'.join(o.case.mutations)}): "
                f"{o.detail}"
            )
        return "\n".join(lines)


# --------------------------------------------------------------------------- the valid deliveries


def _cut_lines(data: bytes, limit: int) -> bytes:
    lines = data.splitlines(keepends=True)
    return b"".join(lines[:limit]) if len(lines) > limit else data


def base_files(seed: int = 3) -> tuple[list[Base], list[Base]]:
    """The committed corpus and a small generated region's files (CSV cut to 200 lines); and the
    registries (the corpus's and the region's) every case is loaded against."""
    from synthetic import generate_region

    bases = [Base(name, (CORPUS / name).read_bytes()) for name in CORPUS_BASES]
    registry = [Base(name, (CORPUS / name).read_bytes()) for name in REFERENCE]
    with tempfile.TemporaryDirectory(prefix="eduq_fuzz_base_") as tmp:
        generate_region(tmp, seed=seed, schools=6, years=(2024,))
        for path in sorted(Path(tmp).rglob("*")):
            if not path.is_file() or path.suffix not in (".csv", ".xlsx"):
                continue
            data = path.read_bytes()
            if path.name.startswith(("schools", "school_codes")):
                registry.append(Base(str(path.relative_to(tmp)), data))
                continue  # the registry is the reference of every case
            if path.suffix == ".csv":
                data = _cut_lines(data, MAX_BASE_LINES)
            bases.append(Base(str(path.relative_to(tmp)), data))
    return bases, registry


# --------------------------------------------------------------------------- mutations


def _decode(data: bytes) -> tuple[str, str]:
    for encoding in ("utf-8-sig", "cp1251"):
        try:
            return data.decode(encoding), encoding
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1"), "latin-1"


def _delimiter(text: str) -> str:
    head = text[:2000]
    return max(";,\t", key=head.count)


def _rows(text: str) -> tuple[list[list[str]], str]:
    d = _delimiter(text)
    return [line.split(d) for line in text.splitlines()], d


def _join(rows: list[list[str]], d: str) -> str:
    return "\n".join(d.join(r) for r in rows) + "\n"


def m_encoding(rng: random.Random, data: bytes, giant: int) -> bytes:
    text, _ = _decode(data)
    return text.encode(rng.choice(TEXT_ENCODINGS), errors="replace")


def m_mixed_encoding(rng: random.Random, data: bytes, giant: int) -> bytes:
    text, _ = _decode(data)
    lines = text.splitlines(keepends=True)
    encodings = ["utf-8", "cp1251"]
    return b"".join(line.encode(rng.choice(encodings), errors="replace") for line in lines)


def m_delimiter(rng: random.Random, data: bytes, giant: int) -> bytes:
    text, encoding = _decode(data)
    d = _delimiter(text)
    return text.replace(d, rng.choice([",", "\t", "|", " ", ";;", ":"])).encode(
        encoding, errors="replace"
    )


def m_truncate(rng: random.Random, data: bytes, giant: int) -> bytes:
    return data[: rng.randrange(0, max(len(data), 1))]


def m_wrong_types(rng: random.Random, data: bytes, giant: int) -> bytes:
    text, encoding = _decode(data)
    rows, d = _rows(text)
    for _ in range(rng.randint(1, 12)):
        r = rng.randrange(len(rows)) if rows else 0
        if rows and rows[r]:
            rows[r][rng.randrange(len(rows[r]))] = rng.choice(JUNK)
    return _join(rows, d).encode(encoding, errors="replace")


def m_giant_field(rng: random.Random, data: bytes, giant: int) -> bytes:
    text, encoding = _decode(data)
    rows, d = _rows(text)
    if len(rows) > 1 and rows[1]:
        r = rng.randrange(1, len(rows))
        c = rng.randrange(len(rows[r]))
        rows[r][c] = rng.choice(["7", "Я", "x ", '"']) * rng.randint(giant // 10, giant)
    return _join(rows, d).encode(encoding, errors="replace")


def m_nul_bytes(rng: random.Random, data: bytes, giant: int) -> bytes:
    out = bytearray(data)
    for _ in range(rng.randint(1, 20)):
        out.insert(rng.randrange(len(out) + 1), 0)
    return bytes(out)


def m_byte_flip(rng: random.Random, data: bytes, giant: int) -> bytes:
    out = bytearray(data)
    for _ in range(rng.randint(1, 10)):
        if out:
            out[rng.randrange(len(out))] = rng.randrange(256)
    return bytes(out)


def m_drop_header(rng: random.Random, data: bytes, giant: int) -> bytes:
    lines = data.splitlines(keepends=True)
    if not lines:
        return data
    # the header is the line with the most delimiters among the first ones
    i = max(range(min(len(lines), 10)), key=lambda k: lines[k].count(b";") + lines[k].count(b","))
    return b"".join(lines[:i] + lines[i + 1 :])


def m_duplicate_lines(rng: random.Random, data: bytes, giant: int) -> bytes:
    lines = data.splitlines(keepends=True)
    for _ in range(rng.randint(1, 10)):
        if lines:
            i = rng.randrange(len(lines))
            lines.insert(rng.randrange(len(lines) + 1), lines[i])
    return b"".join(lines)


def m_shuffle_columns(rng: random.Random, data: bytes, giant: int) -> bytes:
    text, encoding = _decode(data)
    rows, d = _rows(text)
    width = max((len(r) for r in rows), default=0)
    order = list(range(width))
    rng.shuffle(order)
    rows = [[r[i] if i < len(r) else "" for i in order] for r in rows]
    return _join(rows, d).encode(encoding, errors="replace")


def m_extra_columns(rng: random.Random, data: bytes, giant: int) -> bytes:
    text, encoding = _decode(data)
    rows, d = _rows(text)
    extra = rng.randint(1, 5)
    rows = [r + [rng.choice(JUNK) for _ in range(extra)] for r in rows]
    return _join(rows, d).encode(encoding, errors="replace")


def m_many_columns(rng: random.Random, data: bytes, giant: int) -> bytes:
    text, encoding = _decode(data)
    lines = text.splitlines()
    d = _delimiter(text)
    i = rng.randrange(len(lines)) if lines else 0
    lines.insert(i, d * rng.randint(300, 5000))
    return ("\n".join(lines) + "\n").encode(encoding, errors="replace")


def m_quotes(rng: random.Random, data: bytes, giant: int) -> bytes:
    out = bytearray(data)
    for _ in range(rng.randint(1, 5)):
        out.insert(rng.randrange(len(out) + 1), ord('"'))
    return bytes(out)


def m_line_endings(rng: random.Random, data: bytes, giant: int) -> bytes:
    text = data.replace(b"\r\n", b"\n")
    return text.replace(b"\n", rng.choice([b"\r", b"\r\n", b"\n\n", b"\r\r\n"]))


def m_empty(rng: random.Random, data: bytes, giant: int) -> bytes:
    return rng.choice([b"", b"\xef\xbb\xbf", b"\n\n\n", b"   ", b"\x00" * 100, b"PK\x03\x04"])


def m_garbage(rng: random.Random, data: bytes, giant: int) -> bytes:
    return bytes(rng.randrange(256) for _ in range(rng.randint(1, 5000)))


def m_xlsx_cells(rng: random.Random, data: bytes, giant: int) -> bytes:
    """A workbook whose cells hold wrong types, giant texts, errors, a formula."""
    import io

    import openpyxl

    wb = openpyxl.load_workbook(io.BytesIO(data))
    ws = wb.worksheets[-1]
    cells = [c for row in ws.iter_rows() for c in row]
    for _ in range(rng.randint(1, 12)):
        if not cells:
            break
        cell = rng.choice(cells)
        try:
            cell.value = rng.choice(
                [*JUNK, 1e308, -5, 3.5, True, "#DIV/0!", "=1/0", "x" * min(giant, 32000)]
            )
        except (AttributeError, ValueError, TypeError):
            continue  # a merged cell is read-only
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


# how often each mutation is drawn: the subtle ones (a file that still loads, with some rows
# quarantined) as often as the destructive ones (a file that must be rejected)
WEIGHTS = {
    "wrong_types": 4,
    "duplicate_lines": 2,
    "shuffle_columns": 2,
    "extra_columns": 2,
    "giant_field": 2,
    "line_endings": 2,
    "encoding": 2,
    "delimiter": 2,
    "xlsx_cells": 4,
}

TEXT_MUTATIONS = {
    "encoding": m_encoding,
    "mixed_encoding": m_mixed_encoding,
    "delimiter": m_delimiter,
    "truncate": m_truncate,
    "wrong_types": m_wrong_types,
    "giant_field": m_giant_field,
    "nul_bytes": m_nul_bytes,
    "byte_flip": m_byte_flip,
    "drop_header": m_drop_header,
    "duplicate_lines": m_duplicate_lines,
    "shuffle_columns": m_shuffle_columns,
    "extra_columns": m_extra_columns,
    "many_columns": m_many_columns,
    "quotes": m_quotes,
    "line_endings": m_line_endings,
    "empty": m_empty,
    "garbage": m_garbage,
}
BINARY_MUTATIONS = {
    "truncate": m_truncate,
    "nul_bytes": m_nul_bytes,
    "byte_flip": m_byte_flip,
    "xlsx_cells": m_xlsx_cells,
    "empty": m_empty,
    "garbage": m_garbage,
}


def make_cases(seed: int, count: int, giant: int = 1_000_000) -> list[Case]:
    """``count`` cases, the same for the same seed: one to three mutations of a valid delivery."""
    rng = random.Random(seed)
    bases, _ = base_files()
    cases = []
    for number in range(count):
        base = bases[number % len(bases)] if number < len(bases) else rng.choice(bases)
        table = TEXT_MUTATIONS if base.is_text else BINARY_MUTATIONS
        names = sorted(table)
        weights = [WEIGHTS.get(n, 1) for n in names]
        k = rng.choice([1, 1, 1, 2, 3])
        chosen = tuple(dict.fromkeys(rng.choices(names, weights, k=k)))
        data = base.data
        for name in chosen:
            if not data.startswith(b"PK") and name == "xlsx_cells":
                continue
            try:
                data = table[name](rng, data, giant)
            except Exception:  # noqa: BLE001, S112 — a mutation that cannot apply (a broken workbook)
                continue
        cases.append(Case(number, base.name, chosen, base.name, data))
    return cases


# --------------------------------------------------------------------------- the worker


def _worker(connection, home: str, registry: list[Base]) -> None:
    """Load cases one by one into one warehouse (reference loaded first); answer each with a verdict."""
    import logging

    import duckdb

    from core.errors import EduqError
    from core.settings import load_settings
    from ingestion.loader import ingest_all

    settings = load_settings({"EDUQ_HOME": home, "EDUQ_TODAY": TODAY, "EDUQ_DUCKDB_THREADS": "1"})
    settings.ensure_dirs()
    logging.disable(logging.WARNING)  # every rejection is in the verdict; keep the terminal quiet
    con = duckdb.connect(str(settings.candidate_db))
    for base in registry:
        target = settings.landing_dir / base.name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(base.data)
    ingest_all(con, settings)
    connection.send("ready")
    while True:
        try:
            case = connection.recv()
        except EOFError:
            return
        if case is None:
            con.close()
            return
        started = time.perf_counter()
        try:
            verdict = _load_case(con, settings, case, ingest_all)
        except EduqError as exc:  # refused as a whole, with a message: allowed
            verdict = ("rejected", f"EduqError: {exc}", (0, 0, 0))
        except BaseException:  # noqa: BLE001 — exactly what the fuzzer looks for
            verdict = ("failure", "traceback: " + traceback.format_exc()[-1500:], (0, 0, 0))
        connection.send((*verdict, time.perf_counter() - started))


def _load_case(con, settings, case: Case, ingest_all) -> tuple[str, str, tuple[int, int, int]]:
    path = settings.landing_dir / case.name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(case.data)
    survey, reports = ingest_all(con, settings)
    outcomes = [f for r in reports for f in r.files] + [
        o for o in survey.outcomes if o.status != "queued"
    ]
    mine = [o for o in outcomes if o.file_name == path.name]
    if len(mine) != 1:
        return "failure", f"{len(mine)} outcomes for the file: {outcomes}", (0, 0, 0)
    o = mine[0]
    rows = (o.rows_read, o.rows_loaded, o.rows_quarantined)
    if path.exists():
        return "failure", f"{o.status}, but the file is still in the landing folder", rows
    if o.status == "duplicate":
        return "duplicate", o.message, rows
    if o.status == "rejected":
        if not o.message:
            return "failure", "rejected without a message", rows
        reason = [p for p in settings.rejected_dir.glob(f"{path.stem}*.reason.txt")]
        if not reason:
            return "failure", "rejected, but no .reason.txt beside it", rows
        if o.file_id is not None and o.source:
            left = con.execute(
                f"select count(*) from raw.{o.source} where _file_id = ?", [o.file_id]
            ).fetchone()[0]
            if left:
                return "failure", f"rejected, but {left} of its rows are in raw.{o.source}", rows
        return "rejected", o.message, rows
    if o.status != "loaded":
        return "failure", f"unexpected status {o.status}: {o.message}", rows
    if o.rows_read != o.rows_loaded + o.rows_quarantined:
        return "failure", f"read {o.rows_read} != loaded {o.rows_loaded} + quarantined", rows
    in_raw = con.execute(
        f"select count(*) from raw.{o.source} where _file_id = ?", [o.file_id]
    ).fetchone()[0]
    in_quarantine = con.execute(
        "select count(distinct row_number) from raw._quarantine where file_id = ?", [o.file_id]
    ).fetchone()[0]
    if (in_raw, in_quarantine) != (o.rows_loaded, o.rows_quarantined):
        return (
            "failure",
            (
                f"the loader says {o.rows_loaded} loaded / {o.rows_quarantined} quarantined, "
                f"the warehouse holds {in_raw} / {in_quarantine}"
            ),
            rows,
        )
    return "loaded", o.message, rows


class _Worker:
    def __init__(self, registry: list[Base]) -> None:
        self.home = tempfile.mkdtemp(prefix="eduq_fuzz_")
        context = multiprocessing.get_context("spawn")
        self.parent, child = context.Pipe()
        self.process = context.Process(
            target=_worker, args=(child, self.home, registry), daemon=True
        )
        self.process.start()
        child.close()
        if not self.parent.poll(120) or self.parent.recv() != "ready":
            self.stop()
            raise RuntimeError("the fuzz worker did not start")

    def run(self, case: Case, timeout: float) -> tuple[str, str, tuple[int, int, int], float]:
        self.parent.send(case)
        if not self.parent.poll(timeout):
            return "hang", f"no answer within {timeout:.0f} s", (0, 0, 0), timeout
        try:
            return self.parent.recv()
        except EOFError:
            return "crash", f"the worker died (exit code {self.process.exitcode})", (0, 0, 0), 0.0

    def stop(self) -> None:
        if self.process.is_alive():
            try:
                self.parent.send(None)
            except (BrokenPipeError, OSError):
                pass
            self.process.join(5)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(5)
        shutil.rmtree(self.home, ignore_errors=True)


def run_fuzz(
    seed: int,
    count: int,
    timeout: float = 30.0,
    giant: int = 1_000_000,
    progress=None,
) -> FuzzReport:
    """Run ``count`` seeded cases; a case that hangs or kills the worker is a failure, and the next
    case starts in a fresh worker (a fresh warehouse)."""
    started = time.perf_counter()
    report = FuzzReport(seed)
    _, registry = base_files()
    worker = _Worker(registry)
    try:
        for case in make_cases(seed, count, giant):
            verdict, detail, rows, seconds = worker.run(case, timeout)
            if verdict in ("hang", "crash"):
                worker.stop()
                worker = _Worker(registry)
                verdict, detail = "failure", f"{verdict}: {detail}"
            elif verdict == "failure":
                worker.stop()  # its warehouse may be in any state: start clean
                worker = _Worker(registry)
            report.outcomes.append(Outcome(case, verdict, detail, rows, seconds))
            if progress is not None:
                progress(case, verdict, seconds)
    finally:
        worker.stop()
    report.seconds = time.perf_counter() - started
    return report


def reproduce(seed: int, number: int, out: Path, giant: int = 1_000_000) -> Path:
    """Write case ``number`` of ``seed`` to ``out`` (to commit it as a fixture, or to debug)."""
    case = make_cases(seed, number + 1, giant)[number]
    target = out / Path(case.name).name
    target.write_bytes(case.data)
    return target
