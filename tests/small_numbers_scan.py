"""Finding figures about fewer than 5 pupils in published files. Independent of the code under test:
the size of every group is computed from the delivered files (tests/integration/expected.py for the
participants of a school's procedure, openpyxl for the academic-debt workbooks), and the published
files are read with the csv module, pyarrow, openpyxl, html.parser and pdftotext. A group of 1 to 4
pupils may show its size, never what its pupils did."""

from __future__ import annotations

import csv
import io
import math
import re
import shutil
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd

MIN = 5
NUMBER_MARK = "<5"
TEXT_MARK = "скрыто: менее 5 участников"
ROOT = Path(__file__).resolve().parents[1]
PERIODS = {"конец учебного года": "year_end", "февраль": "february"}
EXAMS = {"vpr_success_share": "VPR", "oge_success_share": "OGE", "ege_success_share": "EGE"}

# columns that describe the group (who, which procedure, how many), not what its pupils did
RESULT_IDENTITY = {
    "school_id",
    "procedure_code",
    "procedure_name_ru",
    "year",
    "year_from",
    "year_to",
    "participants",
    "prior_participants",
    "participants_from",
    "participants_to",
    "is_informative",  # N >= the minimum of the profile: a fact about N
    "is_flagged",  # false whenever N is below the minimum: says nothing more
    "is_prior_flagged",
    "counts_for_list",
    "prior_school_ids",
    "result_source",
    "profile_name",
    "profile_version",
    "is_small_number_suppressed",
}
DEBT_IDENTITY = {
    "school_id",
    "academic_year",
    "year",
    "period",
    "period_ru",
    "students_total",
    "is_small_number_suppressed",
}
TARGET_FIGURES = {"actual_value", "target_status", "target_status_ru"}
GROUP_IDENTITY = {
    "municipality_code",
    "municipality_name",
    "is_region_total",
    "n_schools_reporting",
    "n_schools_with_debt",
}


def protected_columns() -> dict[str, dict[str, list[str]]]:
    """mart -> column -> counts, read from the seed (the declaration), not by the code under test."""
    out: dict[str, dict[str, list[str]]] = {}
    with open(ROOT / "seeds" / "small_number_protection.csv", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            out.setdefault(row["mart_name"], {}).setdefault(row["column_name"], []).append(
                row["count_column"]
            )
    return out


def published_rows(table: str, names: list[str], rows: list[tuple]) -> list[tuple]:
    """The rows of a mart of the serving warehouse as a publication must show them, the rule applied
    here independently: a value about 1 to 4 pupils empty (a text «скрыто: менее 5 участников"),
    and the flag is_small_number_suppressed last for a mart with protected columns."""
    rules = protected_columns().get(table)
    if not rules:
        return rows
    out = []
    for row in rows:
        values = dict(zip(names, row))
        hide = {
            c: any(values[n] is not None and 1 <= values[n] < MIN for n in counts)
            for c, counts in rules.items()
        }
        out.append(
            tuple(
                (TEXT_MARK if isinstance(v, str) else None) if hide.get(c) else v
                for c, v in zip(names, row)
            )
            + (any(hide.values()),)
        )
    return out


def small(n: object) -> bool:
    return n is not None and not (isinstance(n, float) and math.isnan(n)) and 1 <= int(n) < MIN


def hidden(value: object) -> bool:
    """A cell that shows nothing about the pupils: empty, «<5», «скрыто: менее 5 участников»."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return True
    return str(value).strip() in ("", NUMBER_MARK, TEXT_MARK)


@dataclass
class Truth:
    """Group sizes from the delivered files."""

    results: dict[tuple[str, str, int], int]  # (school, procedure, year) -> participants
    debt: dict[
        tuple[str, str, str], tuple[int, int]
    ]  # (school, academic year, period) -> (all, debt)
    procedure_codes: dict[str, str]  # Russian name -> code (seed procedures, reference data)
    measures: dict[str, str]  # indicator code -> measure (seed programme_indicators)

    def n(self, school: str, procedure: str, year: int, pooled: str | None = None) -> int:
        schools = [s.strip() for s in re.split(r"[,;]", pooled)] if pooled else [school]
        return sum(self.results.get((s, procedure, int(year)), 0) for s in schools if s)

    def exam_n(self, school: str, exam: str, year: int) -> int:
        return sum(
            n
            for (s, p, y), n in self.results.items()
            if s == school and y == int(year) and p.startswith(exam + "_")
        )

    def debt_of(self, school: str, year: int, period: str = "year_end") -> tuple[int, int] | None:
        academic_year = f"{int(year) - 1}/{int(year)}"
        return self.debt.get((school, academic_year, period))


def read_truth(delivered: Path, results: pd.DataFrame) -> Truth:
    import openpyxl

    counts = {
        (r.school_id, r.procedure_code, int(r.year)): int(r.participants)
        for r in results.itertuples()
    }
    debt = {}
    for path in sorted(delivered.rglob("academic_debt*.xlsx")):
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
        for sheet in book.worksheets:
            rows = list(sheet.iter_rows(values_only=True))
            header = next(i for i, r in enumerate(rows) if r and r[0] == "Код ОО")
            names = list(rows[header])
            for r in rows[header + 1 :]:
                if not r or not r[0]:
                    continue
                d = dict(zip(names, r))
                key = (str(d["Код ОО"]), str(d["Учебный год"]), PERIODS[d["Период"]])
                debt[key] = (
                    int(d["Всего обучающихся"]),
                    int(d["Имеют академическую задолженность"]),
                )
        book.close()
    with open(ROOT / "seeds" / "procedures.csv", encoding="utf-8") as fh:
        names = {r["procedure_name_ru"]: r["procedure_code"] for r in csv.DictReader(fh)}
    with open(ROOT / "seeds" / "programme_indicators.csv", encoding="utf-8") as fh:
        measures = {r["indicator_code"]: r["measure"] for r in csv.DictReader(fh)}
    return Truth(counts, debt, names, measures)


@dataclass
class Scan:
    problems: list[str] = field(default_factory=list)
    files: dict[str, int] = field(default_factory=dict)  # kind -> files read
    small_groups_seen: int = 0  # rows or cells of a small group that were checked
    list_procedures_checked: int = 0  # procedures named by the ШНОР list, checked N >= 5
    suppressed_cells: int = 0

    def count(self, kind: str) -> None:
        self.files[kind] = self.files.get(kind, 0) + 1


# --------------------------------------------------------------------------- tables (marts, list)


def read_csv_rows(path: Path) -> list[dict[str, str]]:
    text = path.read_bytes().decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text), delimiter=";"))


def read_parquet_rows(path: Path) -> list[dict]:
    import pyarrow.parquet as pq

    return pq.read_table(path).to_pylist()


def check_mart_rows(name: str, rows: list[dict], truth: Truth, scan: Scan) -> None:
    if not rows:
        return
    columns = set(rows[0])
    if {"school_id", "procedure_code"} <= columns:
        for row in rows:
            _check_result_row(name, row, truth, scan)
    elif {"school_id", "academic_year", "period"} <= columns:
        for row in rows:
            _check_debt_row(name, row, truth, scan)
    elif {"school_id", "indicator"} <= columns and "actual_value" in columns:
        for row in rows:
            _check_target_row(name, row, truth, scan)
    elif {"municipality_code", "students_total", "with_debt"} <= columns:
        for row in rows:  # pupils of all schools of a municipality: its published counts
            students, with_debt = int(row["students_total"]), int(row["with_debt"] or 0)
            figures = [c for c in row if c not in DEBT_IDENTITY and c not in GROUP_IDENTITY]
            if small(students) or small(with_debt):
                scan.small_groups_seen += 1
                keep = (
                    () if small(students) else ("with_debt", "debt_share", "mean_school_debt_share")
                )
                _require_hidden(
                    f"{name} {row['municipality_code']}",
                    row,
                    [c for c in figures if c not in keep],
                    scan,
                )


def _require_hidden(where: str, row: dict, columns: Iterable[str], scan: Scan) -> None:
    shown = [c for c in columns if not hidden(row.get(c))]
    if shown:
        scan.problems.append(f"{where}: {', '.join(f'{c}={row[c]!r}' for c in shown)}")
    if str(row.get("is_small_number_suppressed")).lower() not in ("true", "1"):
        scan.problems.append(f"{where}: is_small_number_suppressed is not true")
    scan.suppressed_cells += len([c for c in columns if c in row])


def _check_result_row(name: str, row: dict, truth: Truth, scan: Scan) -> None:
    school, procedure = row["school_id"], row["procedure_code"]
    figures = [c for c in row if c not in RESULT_IDENTITY]
    if "year" in row:  # results of a year, with the previous year's
        year = int(row["year"])
        current = truth.n(school, procedure, year)
        prior = truth.n(school, procedure, year - 1, row.get("prior_school_ids") or None)
        groups = {c: [prior] if c.startswith("prior_") else [current] for c in figures}
    else:  # dynamics between two years
        before = truth.n(
            school, procedure, int(row["year_from"]), row.get("prior_school_ids") or None
        )
        after = truth.n(school, procedure, int(row["year_to"]))
        groups = {
            c: [before]
            if c.endswith("_from")
            else [after]
            if c.endswith("_to")
            else [before, after]
            for c in figures
        }
        if "participants_from" in row and int(row["participants_from"]) != before:
            scan.problems.append(
                f"{name} {school} {procedure}: N before {row['participants_from']}"
            )
    must_hide = [c for c, ns in groups.items() if any(small(n) for n in ns)]
    if must_hide:
        scan.small_groups_seen += 1
        _require_hidden(
            f"{name} {school} {procedure} {row.get('year') or row['year_to']}", row, must_hide, scan
        )


def _check_debt_row(name: str, row: dict, truth: Truth, scan: Scan) -> None:
    found = truth.debt.get((row["school_id"], row["academic_year"], row["period"]))
    if found is None:
        scan.problems.append(f"{name} {row['school_id']} {row['academic_year']}: not delivered")
        return
    students, with_debt = found
    figures = [c for c in row if c not in DEBT_IDENTITY]
    if small(students):
        must_hide = figures
    elif small(with_debt):
        must_hide = [c for c in figures if c not in ("with_debt", "debt_share")]
    else:
        return
    scan.small_groups_seen += 1
    _require_hidden(
        f"{name} {row['school_id']} {row['academic_year']} {row['period']}", row, must_hide, scan
    )


def _target_base(row: dict, truth: Truth) -> int | None:
    measure = truth.measures.get(row.get("indicator_code") or "")
    year = row.get("actual_year")
    if measure is None or year in (None, ""):
        return None
    if measure in EXAMS:
        return truth.exam_n(row["school_id"], EXAMS[measure], int(year))
    debt = truth.debt_of(row["school_id"], int(year))
    if debt is None:
        return None
    return debt[0] if measure == "debt_share" else debt[1]


def _check_target_row(name: str, row: dict, truth: Truth, scan: Scan) -> None:
    if small(_target_base(row, truth)):
        scan.small_groups_seen += 1
        _require_hidden(
            f"{name} {row['school_id']} {row['indicator'][:40]}", row, TARGET_FIGURES, scan
        )


LIST_SCHOOL = "Код ОО (логин ФИС ОКО)"
LIST_PERSISTENT = "Процедуры, отмеченные два года подряд"
LIST_RESULTS_YEAR = "Год результатов"


def _names_in(text: str, names: list[str]) -> list[str]:
    found = []
    for name in names:  # longest first: «ВПР Математика, 5 класс» before any shorter name
        if name in text:
            found.append(name)
            text = text.replace(name, " ")
    return found


def check_list_rows(
    where: str, rows: list[dict], truth: Truth, scan: Scan, results_year: int
) -> None:
    """The ШНОР list names a procedure (with its failure share) only with 5 and more participants:
    every procedure named in a row (the flagged ones of the results year, the persistent ones of
    both years, in the reason too) has at least 5 participants at that school."""
    names = sorted(truth.procedure_codes, key=len, reverse=True)
    for row in rows:
        school = row[LIST_SCHOOL]
        year = int(row.get(LIST_RESULTS_YEAR) or results_year)
        for column, value in row.items():
            if not isinstance(value, str) or column == LIST_SCHOOL:
                continue
            current, _, persistent = value.partition("Два года подряд:")
            if column == LIST_PERSISTENT:
                current, persistent = "", value
            for part, years in ((current, (year,)), (persistent, (year - 1, year))):
                for name in _names_in(part, names):
                    for y in years:
                        n = truth.n(school, truth.procedure_codes[name], y)
                        scan.list_procedures_checked += 1
                        if n < MIN:
                            scan.problems.append(f"{where} {school}: {name} {y} has N = {n}")


def read_xlsx_tables(path: Path) -> list[list[dict]]:
    """Every sheet as rows under its first row holding 'Код ОО' (none: the sheet is skipped)."""
    import openpyxl

    book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    tables = []
    for sheet in book.worksheets:
        rows = [list(r) for r in sheet.iter_rows(values_only=True)]
        header = next(
            (i for i, r in enumerate(rows) if any(str(c or "").startswith("Код ОО") for c in r)),
            None,
        )
        if header is not None:
            names = [str(c) if c is not None else "" for c in rows[header]]
            tables.append(
                [dict(zip(names, r)) for r in rows[header + 1 :] if any(c is not None for c in r)]
            )
    book.close()
    return tables


# --------------------------------------------------------------------------- documents (cards)


class _Tables(HTMLParser):
    """The tables of a card page: (school, sheet name) -> rows of cell texts (header rows too)."""

    def __init__(self, school: str | None) -> None:
        super().__init__()
        self.school = school
        self.tables: list[tuple[str | None, str, list[list[str]]]] = []
        self._row: list[str] | None = None
        self._cell: list[str] | None = None
        self._style = False
        self.text: list[str] = []  # every text a reader sees (cells, footnotes)

    def handle_starttag(self, tag: str, attrs: list) -> None:
        a = dict(attrs)
        self._style = tag in ("style", "script")
        if tag == "section" and (a.get("id") or "").startswith("card-"):
            self.school = a["id"].split("-")[1]
        elif tag == "table":
            self.tables.append((self.school, a.get("data-sheet") or "", []))
        elif tag == "tr":
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row.append("".join(self._cell).strip())
            self._cell = None
        elif tag == "tr" and self._row is not None and self.tables:
            self.tables[-1][2].append(self._row)
            self._row = None

    def handle_data(self, data: str) -> None:
        if not self._style:
            self.text.append(data)
        if self._cell is not None:
            self._cell.append(data)


def _int(text: str) -> int | None:
    digits = re.sub(r"[\s\u00a0\u202f]", "", text)
    return int(digits) if digits.isdigit() else None


def check_card_html(path: Path, truth: Truth, targets: dict, scan: Scan) -> int:
    """The cards' procedure, debt and target tables; returns how often «<5» stands in the page's
    text (cells and footnotes: what its PDF must show as often)."""
    school = path.stem if path.parent.name == "html" else None
    parser = _Tables(school)
    parser.feed(path.read_text(encoding="utf-8"))
    marks = "".join(parser.text).count(NUMBER_MARK)
    for school, sheet, rows in parser.tables:
        if school is None:
            continue
        if sheet == "Процедуры" and len(rows) > 2:
            years = [int(y) for y in rows[0][1:]]
            for row in rows[2:]:
                if len(row) < 1 + 3 * len(years):  # «Нет участников процедур списка за три года»
                    continue
                code = truth.procedure_codes[row[0]]
                for i, year in enumerate(years):
                    n_text, f_text, share_text = row[1 + 3 * i : 4 + 3 * i]
                    n = truth.n(school, code, year)
                    shown = _int(n_text)
                    if shown is not None and shown != n:
                        scan.problems.append(
                            f"{path.name} {school} {code} {year}: N {shown} != {n}"
                        )
                    if small(n):
                        scan.small_groups_seen += 1
                        scan.suppressed_cells += 2
                        if (f_text, share_text) != (NUMBER_MARK, NUMBER_MARK):
                            scan.problems.append(
                                f"{path.name} {school} {code} {year}: N = {n}, F {f_text!r}, "
                                f"share {share_text!r}"
                            )
        elif sheet == "Задолженность":
            for row in rows[1:]:
                academic_year, period = row[0].split(", ", 1)
                found = truth.debt.get((school, academic_year, PERIODS[period]))
                if found is None:
                    continue
                students, with_debt = found
                cells = dict(zip(rows[0], row))
                must = []
                if small(students):
                    must = ["С задолж.", "Доп. зан.", "ИОМ", "Ликвид."]
                elif small(with_debt):
                    must = ["Доп. зан.", "ИОМ", "Ликвид."]
                if must:
                    scan.small_groups_seen += 1
                    scan.suppressed_cells += len(must)
                    shown = [c for c in must if cells.get(c) != NUMBER_MARK]
                    if shown:
                        scan.problems.append(f"{path.name} {school} {row[0]}: {shown} shown")
        elif sheet == "Целевые показатели":
            for row in rows[1:]:
                cells = dict(zip(rows[0], row))
                target = targets.get((school, cells["Показатель программы"]))
                if target is None or not small(_target_base(target, truth)):
                    continue
                scan.small_groups_seen += 1
                scan.suppressed_cells += 2
                if not cells["Факт"].startswith(NUMBER_MARK) or cells["Статус"] != TEXT_MARK:
                    scan.problems.append(f"{path.name} {school} {row[0][:40]}: {cells}")
    return marks


def pdf_text(path: Path) -> str | None:
    if shutil.which("pdftotext") is None:
        return None
    out = subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], check=False, capture_output=True, timeout=120
    )
    return out.stdout.decode("utf-8", "replace")
