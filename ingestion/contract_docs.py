"""Files generated from the contracts (``ingestion/contracts/*.yaml``), the single source of truth:

* ``docs/contracts.md``: what files to send, for a regional analyst: per source its grain, every
  column with its accepted Russian headers and English name, type, whether required, the allowed
  values, an example file; the delivery rules (split files, corrections, duplicates, quarantine,
  rejection);
* ``dbt_project/models/staging/_sources.yml``: the dbt sources with every column described.
  What the contracts do not say (``meta``, ``freshness``, ``loaded_at_field``, tests, the tables
  that are not contracts such as ``_load_log``) is kept from the file as it is.

``make contracts`` (``python -m ingestion.contract_docs``) writes both; ``--check`` fails when
either is stale, and so does ``tests/unit/test_contract_docs.py``. A new contract YAML appears
in both with no code change.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import yaml

from ingestion import errors
from ingestion.contract import Column, Contract, load_contracts
from ingestion.validate import (
    ABOVE_MAX,
    BELOW_MIN,
    CHECK,
    DUPLICATE_KEY,
    DUPLICATE_ROW,
    FALSE_WORDS,
    FUTURE_YEAR,
    INVALID,
    MISSING,
    NOT_DATA,
    OVERFLOW,
    REPEATED_HEADER,
    TOTAL_ROW,
    TRUE_WORDS,
    UNKNOWN_SCHOOL,
)
from ingestion.warehouse import METADATA_COLUMNS

ROOT = Path(__file__).resolve().parents[1]
CONTRACTS_MD = Path("docs/contracts.md")
SOURCES_YML = Path("dbt_project/models/staging/_sources.yml")
GENERATED_NOTE = "Generated from ingestion/contracts/*.yaml by `make contracts`"

TYPE_WORDS = {
    "string": "text",
    "code": "code",
    "integer": "whole number",
    "number": "number",
    "percent": "percentage",
    "boolean": "да / нет",
    "date": "date",
    "enum": "one of a list",
    "academic_year": "academic year",
}
TYPE_NOTES = {
    "string": "any text; a run of spaces inside counts as one",
    "code": "spaces inside and the «.0» of a code stored as a spreadsheet number are removed",
    "integer": "«5», «5,0», «1 034»; not «5,5»",
    "number": "decimal comma or point («12,5», «12.5»), spaces as thousands separators",
    "percent": "«12,5%», «12,5» or «0,125» (a value up to 1 is a share)",
    "boolean": "«да»: " + ", ".join(TRUE_WORDS) + "; «нет»: " + ", ".join(FALSE_WORDS),
    "date": "«01.09.2023», «2023-09-01» or an Excel date",
    "enum": "any listed spelling; case, ё/е, quotes and spaces do not matter",
    "academic_year": "«2022/2023», «2022-2023», «2022/23»",
}
QUARANTINE_REASONS = [
    (MISSING, "a required value is empty"),
    (INVALID, "a value of the wrong type: not a number, not a date, not one of the listed values"),
    (BELOW_MIN, "a value below the column's minimum (a negative count, a mark of 1)"),
    (ABOVE_MAX, "a value above the column's maximum (a mark of 6, a score above 100)"),
    (FUTURE_YEAR, "a year after the current one"),
    (CHECK, "a rule across columns is broken (a count above the total, marks that do not add up)"),
    (
        UNKNOWN_SCHOOL,
        (
            "the school code is neither in the registry, nor in the code crosswalk, nor in the "
            "reorganisations (the row loads once a later registry, crosswalk or reorganisation "
            "file gives the code)"
        ),
    ),
    (DUPLICATE_ROW, "an exact copy of an earlier row of the same file (the first copy loads)"),
    (DUPLICATE_KEY, "rows with the same key but different values: none of them loads"),
    (TOTAL_ROW, "a total row («Итого», «Всего по району»)"),
    (NOT_DATA, "a note, a heading or a signature under the table"),
    (REPEATED_HEADER, "the header repeated inside the data (files pasted together)"),
    (OVERFLOW, "more cells than the header has columns (a value holding the delimiter)"),
]
REJECTIONS = [
    errors.EmptyFileError,
    errors.UnreadableFileError,
    errors.EncodingError,
    errors.UnrecognisedFileError,
    errors.MissingColumnsError,
    errors.AmbiguousSheetsError,
    errors.NoDataRowsError,
    errors.MissingYearError,
]
METADATA_DESCRIPTIONS = {
    "_extra": "Columns of the delivered file that the contract does not know, kept as delivered (JSON)",
    "_file_id": "Delivery sequence number (raw._load_log.file_id); the latest delivery wins",
    "_source_file": "Name of the delivered file",
    "_file_hash": "SHA-256 of the delivered file's content",
    "_row_number": "Row number in the delivered file, as a spreadsheet shows it",
    "_loaded_at": "When the row was loaded",
    "_released_from_file_id": (
        "Rows released from quarantine once their school code was known: the file that delivered "
        "them, whose place in the delivery order they keep (NULL for the others)"
    ),
}


# --------------------------------------------------------------------------- words


def _join(words: list[str], last: str = "and") -> str:
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} {last} {words[-1]}"


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value).replace(".", ",")


def range_words(column: Column) -> str:
    if not column.range:
        return ""
    lo, hi = column.range
    if lo is not None and hi is not None:
        return f"{_num(lo)}–{_num(hi)}"
    return f"{_num(lo)} or more" if lo is not None else f"at most {_num(hi)}"


def allowed_words(column: Column) -> str:
    """What a cell may hold, in words: the values of a list, a range, the boolean spellings."""
    if column.type == "enum":
        parts = []
        for key, spellings in column.values.items():
            also = f" (also {', '.join(spellings[1:])})" if len(spellings) > 1 else ""
            parts.append(f"«{spellings[0]}»{also} → `{key}`")
        text = "; ".join(parts)
        if column.default:
            text += f". Empty: «{column.values[column.default][0]}»"
        return text
    if column.type == "boolean":
        return "«да» / «нет» (also 1/0, +/−, true/false, есть/отсутствует)"
    return range_words(column)


def year_words(contract: Contract) -> str:
    rule = contract.year
    if rule.none:
        return "none (the file is not about one year)"
    if rule.derive:
        return "derived from «Учебный год»: the year it ends (2022/2023 → 2023)"
    if rule.from_filename:
        return (
            f"the «Год» column, else the year in the file name (e.g. `{contract.source}_2024.xlsx`)"
        )
    header = contract.column(rule.column).header if rule.column else "Год"
    return f"the «{header}» column (a file may hold several years)"


def _key_words(contract: Contract, names: tuple[str, ...]) -> str:
    headers = []
    for name in names:
        if name == "year" and "year" not in [c.name for c in contract.columns]:
            headers.append("year")
            continue
        headers.append(f"{name} «{contract.column(name).header}»")
    return ", ".join(headers)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


# --------------------------------------------------------------------------- docs/contracts.md


def _header_block() -> list[str]:
    return [
        f"<!-- {GENERATED_NOTE} (python -m ingestion.contract_docs): edit the YAML files, not this page. -->",
        "",
        "# Input contracts: the files a regional centre sends",
        "",
        (
            "What files eduq loads, what their columns mean and what happens to every delivery. This "
            "page is generated from the contracts in `ingestion/contracts/` (one YAML file per "
            "source), the same files the loader validates against, so it says exactly what the loader "
            "does. How the loader works inside: [ingestion.md](ingestion.md); what the warehouse "
            "computes from the files: [methodology.md](methodology.md)."
        ),
        "",
        "## Sending files",
        "",
        (
            "- **Where.** Into the landing folder (`$EDUQ_HOME/landing/`, default `.eduq/landing/`), "
            "in any sub-folder. A file is recognised by its folder (named after the source, e.g. "
            "`landing/vpr_results/`), else by its file name (the patterns below), else by its header."
        ),
        (
            "- **Formats.** `.xlsx` (the sheet whose header matches, wherever it is among the sheets; "
            "a title block above the header; merged cells in the title; a header over two rows) and "
            "`.csv` in UTF-8, UTF-8 with BOM, UTF-16 or Windows-1251, delimiter `;`, `,` or tab."
        ),
        (
            "- **Headers.** Any of the Russian spellings listed below, or the English column name, in "
            "any order; case, ё/е, quotes, dashes and extra spaces do not matter. Columns not listed "
            "here are kept as delivered (`_extra`) but not used. The header must be within the first "
            "30 rows."
        ),
        (
            "- **Values.** Decimal comma or point; spaces as thousands separators; booleans as да/нет, "
            "1/0, +/−, true/false; dates as ДД.ММ.ГГГГ or Excel dates. An empty cell is a missing value."
        ),
        (
            "- **Templates.** `eduq templates --out DIR` writes an empty XLSX per source with these "
            "headers, drop-down lists for the listed values and an «Инструкция» sheet."
        ),
        (
            "- **Check before the night.** `eduq check-files DIR` says for every file what it is "
            "recognised as, its year, the rows that would load or be quarantined (with the first "
            "reasons), or why it would be rejected; it loads nothing and moves nothing."
        ),
        "",
    ]


def _delivery_rules(contracts: list[Contract]) -> list[str]:
    lines = [
        "## Delivery rules",
        "",
        (
            "- **Nothing is silently dropped.** For every file, rows read = rows loaded + rows "
            "quarantined (`raw._load_log`)."
        ),
        (
            "- **Split files add up.** One source and year may come in several files (one per "
            "municipality, one per exam and subject as exam-processing centres export them, a late "
            "addition): their rows add up."
        ),
        (
            "- **A corrected file replaces what an earlier delivery said, and nothing else.** The "
            "latest delivery wins per (source, year, school) for school-level sources and per "
            "(source, year, school, exam, subject, grade) for ВПР and ОГЭ/ЕГЭ results, so that a file "
            "of mathematics results never erases the Russian results of the same schools. The raw "
            "history keeps every version. Per source, a delivery replaces earlier ones per:"
        ),
        "",
        "  | source | a corrected file replaces, per |",
        "  |---|---|",
    ]
    for c in contracts:
        lines.append(f"  | `{c.source}` | {_key_words(c, c.latest_delivery_per)} |")
    lines += [
        "",
        (
            "  The social passport and the resource survey are replaced cell by cell: a correction "
            "that re-sends some columns of a few schools replaces those and leaves the schools' other "
            "columns as delivered before (a blank cell says nothing; to take a file back whole: `eduq "
            "withdraw`)."
        ),
        "",
        (
            "  Files that arrive in the same night load in the order they were saved (modification "
            "time), so a correction saved after the original wins even when both arrive together."
        ),
        (
            "- **Duplicates by content are skipped.** A file whose content (SHA-256) was loaded "
            "before, under any name and in any folder, is skipped and archived (`archive/_duplicates/`); "
            "of two copies in one night the older one is the delivery. (A registry that takes its "
            "year from the file name is a new delivery under another year's name.)"
        ),
        (
            "- **Bad rows are quarantined, the rest of the file loads.** A row that breaks the "
            "contract goes to `raw._quarantine` with the file, row number (as a spreadsheet shows "
            "it), column, value and reason:"
        ),
        "",
        "  | reason_code | when |",
        "  |---|---|",
    ]
    lines += [f"  | `{code}` | {words} |" for code, words in QUARANTINE_REASONS]
    lines += [
        "",
        (
            "- **Unreadable files are rejected whole.** The file is moved to `landing/rejected/` with "
            "`<name>.reason.txt` beside it, logged in `raw._load_log` with one message naming the file "
            "and what is missing, and the night goes on with the other files. To retry, fix the file "
            "and drop it into the landing folder again:"
        ),
        "",
        "  | rejected because | |",
        "  |---|---|",
    ]
    for cls in REJECTIONS:
        lines.append(f"  | `{cls.__name__}` | {_first_line(cls.__doc__)} |")
    lines += [
        "",
        (
            "  A readable file with no data rows (nothing under its header, or only «Итого», notes "
            "or the header again) is always rejected, never loaded as 0 rows."
        ),
        (
            "- **Which value carries a result.** ВПР: the mark (2–5). ОГЭ and ЕГЭ базовая "
            "математика: the mark (a primary score may come too). ЕГЭ русский язык and профильная "
            "математика: the test score (there is no mark). A missing value that the result does not "
            "need is not an error."
        ),
        "",
    ]
    return lines


def _types() -> list[str]:
    lines = [
        "## Value types",
        "",
        (
            "The text of a cell is trimmed first (no-break spaces count as spaces); an empty cell is "
            "a missing value."
        ),
        "",
        "| type | accepted |",
        "|---|---|",
    ]
    lines += [f"| {TYPE_WORDS[t]} | {_cell(TYPE_NOTES[t])} |" for t in TYPE_WORDS]
    return [*lines, ""]


def _first_line(doc: str | None) -> str:
    return " ".join((doc or "").strip().split())


def _index(contracts: list[Contract]) -> list[str]:
    lines = [
        "## Sources",
        "",
        "| source | Russian title | one row per | year | loaded |",
        "|---|---|---|---|---|",
    ]
    for c in contracts:
        first = "first (reference)" if c.role == "reference" else "after the reference sources"
        lines.append(
            f"| [`{c.source}`](#{c.source}) | {c.title_ru} | {', '.join(c.grain)} | "
            f"{'—' if c.year.none else 'yes'} | {first} |"
        )
    return [*lines, ""]


def _source_section(c: Contract) -> list[str]:
    lines = [
        f'<a id="{c.source}"></a>',
        "",
        f"## `{c.source}` — {c.title_ru}",
        "",
        c.description,
        "",
        (
            f"- **One row per** {', '.join(c.grain)}. Two rows of one file with the same key: an "
            "exact copy is quarantined, differing rows are all quarantined."
        ),
        f"- **Year:** {year_words(c)}.",
        f"- **Recognised by:** the folder `landing/{c.source}/`"
        + (
            ", file names " + ", ".join(f"`{p}`" for p in c.filename_patterns)
            if c.filename_patterns
            else ""
        )
        + ", or the header.",
        f"- **A corrected file replaces** earlier deliveries per {_key_words(c, c.latest_delivery_per)}.",
    ]
    if c.checks_school_codes:
        lines.append(
            f"- **School codes** ({c.column(c.school_column).header}) must be in the registry "
            "(`schools`), the code crosswalk (`school_codes`, either side) or the reorganisations "
            "(`school_successors`); other codes are quarantined (`unknown_school`) until a later "
            "delivery of one of them gives the code: the rows then load as a `released` line of "
            "the load log ([ingestion.md](ingestion.md#validation-and-quarantine-ingestionvalidatepy))."
        )
    if c.role == "reference":
        lines.append("- **Reference source:** loaded before the other sources of the same night.")
    lines += [
        "",
        "| header (Russian) | column | type | required | allowed values | other accepted headers | meaning |",
        "|---|---|---|---|---|---|---|",
    ]
    for col in c.columns:
        required = "yes" if col.required and not _year_elsewhere(c, col) else "no"
        if col.required and _year_elsewhere(c, col):
            required = "no (file name)"
        others = ", ".join(f"«{a}»" for a in col.aliases[1:])
        lines.append(
            "| "
            + " | ".join(
                _cell(x)
                for x in (
                    f"«{col.header}»",
                    f"`{col.name}`",
                    TYPE_WORDS[col.type],
                    required,
                    allowed_words(col),
                    others,
                    col.description,
                )
            )
            + " |"
        )
    if not c.year.none and "year" not in [col.name for col in c.columns]:
        lines.append(
            f"| — | `year` | whole number | — | — | — | {_cell(year_words(c)[:1].upper() + year_words(c)[1:])} |"
        )
    if c.checks:
        lines += ["", "Rules across columns (a row that breaks one is quarantined, `check`):", ""]
        lines += [f"- `{chk.expr}`: {chk.reason}" for chk in c.checks]
    lines += [
        "",
        "Example file (CSV; an XLSX holds the same table, a title block above is fine):",
        "",
    ]
    lines += ["```", ";".join(col.header for col in c.columns)]
    for row in c.examples:
        lines.append(";".join(_csv_cell(row.get(col.name, "")) for col in c.columns))
    lines += ["```", ""]
    return lines


def _year_elsewhere(c: Contract, col: Column) -> bool:
    return col.name == "year" and bool(c.year.from_filename or c.year.derive)


def _csv_cell(text: str) -> str:
    return f'"{text}"' if ";" in text or '"' in text else text


def render_contracts_md() -> str:
    contracts = list(load_contracts().values())
    lines = [*_header_block(), *_delivery_rules(contracts), *_types(), *_index(contracts)]
    for c in contracts:
        lines += _source_section(c)
    return "\n".join(lines).rstrip() + "\n"


# --------------------------------------------------------------------------- dbt sources


def _column_description(c: Contract, name: str) -> str:
    if name not in [col.name for col in c.columns]:  # a year the loader derives
        return f"Год: {year_words(c)} (integer)"
    col = c.column(name)
    required = ", required" if col.required and not _year_elsewhere(c, col) else ""
    text = f"{col.header}: {col.description}" if col.description else col.header
    return f"{text} ({col.type}{required})"


def _table(c: Contract, existing: dict | None) -> dict:
    existing = existing or {}
    table: dict = {
        "name": c.source,
        "description": f"{c.title_ru}. {c.description} Loaded by the ingestion asset raw/{c.source}; "
        f"a corrected delivery replaces earlier ones per ({', '.join(c.latest_delivery_per)}).",
    }
    for key, value in existing.items():
        if key not in ("name", "description", "columns"):
            table[key] = value
    table.setdefault("meta", {"dagster": {"asset_key": ["raw", c.source]}})
    old_columns = {col["name"]: col for col in existing.get("columns") or []}
    columns = []
    for name in [*c.table_columns, *(n for n, _ in METADATA_COLUMNS)]:
        description = METADATA_DESCRIPTIONS.get(name) or _column_description(c, name)
        column = {"name": name, "description": description}
        for key, value in old_columns.get(name, {}).items():
            if key not in ("name", "description"):
                column[key] = value
        columns.append(column)
    table["columns"] = columns
    return table


def render_sources_yml(current: str | None) -> str:
    """The dbt sources of the raw schema: contract tables from the contracts, everything else kept."""
    data = yaml.safe_load(current) if current else None
    data = data or {"version": 2, "sources": []}
    sources = data.setdefault("sources", [])
    raw = next((s for s in sources if s.get("name") == "raw"), None)
    if raw is None:
        raw = {"name": "raw", "schema": "raw"}
        sources.insert(0, raw)
    raw.setdefault(
        "description",
        "Rows as delivered in the landing folder, typed and validated against the input "
        "contracts (ingestion/contracts/*.yaml).",
    )
    contracts = load_contracts()
    old = {t["name"]: t for t in raw.get("tables") or []}
    tables = [_table(c, old.get(c.source)) for c in contracts.values()]
    tables += [t for name, t in old.items() if name not in contracts]
    raw["tables"] = tables
    body = yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=120)
    note = (
        f"# {GENERATED_NOTE} (python -m ingestion.contract_docs).\n"
        "# The contract tables' descriptions and columns come from the contracts: edit the YAML files.\n"
        "# Everything else (meta, freshness, loaded_at_field, tests, other tables) is kept as written here.\n"
    )
    return note + body


# --------------------------------------------------------------------------- write / check


def generated(root: Path = ROOT) -> dict[Path, str]:
    """Every generated file (relative path) with the content it must have."""
    sources = root / SOURCES_YML
    current = sources.read_text(encoding="utf-8") if sources.exists() else None
    return {CONTRACTS_MD: render_contracts_md(), SOURCES_YML: render_sources_yml(current)}


def stale(root: Path = ROOT) -> list[Path]:
    """The generated files whose content differs from what the contracts give."""
    out = []
    for path, text in generated(root).items():
        target = root / path
        if not target.exists() or target.read_text(encoding="utf-8") != text:
            out.append(path)
    return out


def write(root: Path = ROOT) -> list[Path]:
    """Write the generated files that are stale; returns them."""
    changed = []
    for path, text in generated(root).items():
        target = root / path
        if not target.exists() or target.read_text(encoding="utf-8") != text:
            target.write_text(text, encoding="utf-8")
            changed.append(path)
    return changed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m ingestion.contract_docs",
        description="Generate docs/contracts.md and the dbt sources from the contract YAML files.",
    )
    parser.add_argument("--check", action="store_true", help="fail if a generated file is stale")
    args = parser.parse_args(argv)
    if args.check:
        old = stale()
        for path in old:
            print(f"{path} is stale: run `make contracts`", file=sys.stderr)
        return 1 if old else 0
    changed = write()
    print("\n".join(f"wrote {p}" for p in changed) or "generated files are up to date")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
