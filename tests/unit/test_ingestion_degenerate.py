"""Degenerate files for every source (issue 9, item 8): a header only (an empty template sent
back), one column only, only blank lines, only a title block, only «Итого», a header and «Итого»,
each as CSV and as XLSX. Each must end cleanly: rejected with a message that names the file and
what is missing, or loaded with rows read = loaded + quarantined; never an internal error.

The rule (docs/ingestion.md): a readable file with no data rows (nothing under the header, or
only rows that are not data: «Итого», a signature, the header again) is rejected.

The contracts are read at collection time, so a new contract YAML is covered with no change here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import openpyxl
import pytest

from ingestion.contract import Contract, load_contracts
from tests.fixtures.ingestion.harness import Region, open_region

TITLE = ["Мониторинг качества образования", "по состоянию на 01.09.2024"]


def _header(contract: Contract) -> list[str]:
    return [c.aliases[0] if c.aliases else c.name for c in contract.columns]


def _first_required(contract: Contract) -> str:
    column = next(c for c in contract.columns if c.required and c.name != "year")
    return column.aliases[0] if column.aliases else column.name


# variant -> rows of the file (lists of cells) and what the message must say
Rows = Callable[[Contract], list[list[str]]]
VARIANTS: dict[str, tuple[Rows, tuple[str, ...]]] = {
    "header_only": (lambda c: [_header(c)], ("has no data rows below it",)),
    "one_column": (
        lambda c: [[_first_required(c)], ["101"], ["102"]],
        ("lacks required columns", "no header row"),
    ),
    "blank_lines": (lambda c: [[], [], []], ("is empty", "no header row")),
    "title_only": (lambda c: [[TITLE[0]], [TITLE[1]], []], ("no header row",)),
    "total_only": (lambda c: [["Итого", "", "12"]], ("no header row",)),
    "header_total": (
        lambda c: [*([t] for t in TITLE), _header(c), ["Итого"] + [""] * (len(c.columns) - 1)],
        ("has no data rows below it, only a total row «Итого» in row 4",),
    ),
}
CASES = [
    (source, variant, kind)
    for source in load_contracts()
    for variant in VARIANTS
    for kind in ("csv", "xlsx")
]


def _write(path: Path, rows: list[list[str]], kind: str) -> None:
    if kind == "csv":
        path.write_text("".join(";".join(r) + "\r\n" for r in rows), encoding="utf-8")
        return
    workbook = openpyxl.Workbook(write_only=True)
    sheet = workbook.create_sheet("Лист1")
    for row in rows:
        sheet.append(row or [None])
    workbook.save(path)


@pytest.fixture(scope="module")
def delivered(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Region, dict]]:
    """Every degenerate file of every source, delivered together into one region."""
    monkeypatch = pytest.MonkeyPatch()
    region_iter = open_region(tmp_path_factory.mktemp("degenerate"), monkeypatch)
    region = next(region_iter)
    names = {}
    for source, variant, kind in CASES:
        # the name carries the source (file-name patterns) and a year (for the registry)
        name = f"{source}_2024_{variant}.{kind}"
        _write(
            region.settings.landing_dir / name, VARIANTS[variant][0](load_contracts()[source]), kind
        )
        names[(source, variant, kind)] = name
    for source in WITH_ENUMS:
        name = f"{source}_2024_empty_enums.csv"
        region.write(name, _empty_enums_file(load_contracts()[source]))
        names[(source, "empty_enums", "csv")] = name
    run = region.run()  # no internal exception escapes, whatever the files hold
    outcomes = {key: run.outcome(name) for key, name in names.items()}
    try:
        yield region, outcomes
    finally:
        region_iter.close()
        monkeypatch.undo()


@pytest.mark.parametrize(("source", "variant", "kind"), CASES, ids=["-".join(c) for c in CASES])
def test_a_degenerate_file_ends_cleanly(
    delivered: tuple[Region, dict], source: str, variant: str, kind: str
) -> None:
    region, outcomes = delivered
    f = outcomes[(source, variant, kind)]
    name = f"{source}_2024_{variant}.{kind}"
    assert f.status == "rejected", f
    assert f.message.startswith(f"{name}: ")
    assert any(words in f.message for words in VARIANTS[variant][1]), f.message
    assert (f.rows_read, f.rows_loaded, f.rows_quarantined) == (0, 0, 0)
    logged = region.query(
        "select status, rows_read, rows_loaded, rows_quarantined, message from raw._load_log "
        "where file_name = ?",
        [name],
    )
    assert logged == [("rejected", 0, 0, 0, f.message)]
    assert (region.settings.rejected_dir / name).exists(), "kept for inspection"


def test_nothing_of_the_degenerate_files_reached_the_raw_tables(
    delivered: tuple[Region, dict],
) -> None:
    region, _ = delivered
    for source in load_contracts():
        rows = region.query(
            f"select count(*) from raw.{source} where _source_file not like '%_empty_enums.csv' "
            "and _file_id > 2"  # the harness loaded the registry and the crosswalk first
        )
        assert rows == [(0,)], source
    assert region.query(
        "select count(*) from raw._quarantine where file_name not like '%_empty_enums.csv'"
    ) == [(0,)]


WITH_ENUMS = [
    s
    for s, c in load_contracts().items()
    if any(col.type in ("enum", "boolean") for col in c.columns)
]


def _empty_enums_file(contract: Contract) -> str:
    """The required columns and every enum/boolean column, one data row, the enum/boolean cells
    empty: the SQL of such a column was «case else … end» and crashed the run."""
    empty = [c for c in contract.columns if c.type in ("enum", "boolean")]
    columns = [c for c in contract.columns if c.required or c in empty]
    cells = [("" if c in empty else _value(c)) for c in columns]
    return ";".join(c.aliases[0] for c in columns) + "\n" + ";".join(cells) + "\n"


@pytest.mark.parametrize("source", WITH_ENUMS)
def test_an_enum_or_boolean_column_left_empty_loads(
    delivered: tuple[Region, dict], source: str
) -> None:
    """The empty cells are NULL (or the column's default); a required one is quarantined."""
    region, outcomes = delivered
    contract = load_contracts()[source]
    f = outcomes[(source, "empty_enums", "csv")]
    assert f.status == "loaded", f.message
    assert f.rows_read == f.rows_loaded + f.rows_quarantined == 1
    required_empty = [
        c.name for c in contract.columns if c.type == "enum" and c.required and c.default is None
    ]
    assert f.rows_quarantined == (1 if required_empty else 0), f.message
    if required_empty:
        assert {(r[1], r[3]) for r in region.quarantined(f)} == {
            (n, "missing") for n in required_empty
        }
    else:
        defaults = {c.name: c.default for c in contract.columns if c.type in ("enum", "boolean")}
        names = ", ".join(defaults)
        row = region.query(f"select {names} from raw.{source} where _file_id = ?", [f.file_id])
        assert row == [tuple(defaults.values())]


def _value(column) -> str:
    """A valid cell for a required column of the registry school sch001."""
    if column.name == "year":
        return "2024"
    return {
        "code": "sch001",
        "string": "Текст",
        "integer": "5",
        "number": "5",
        "date": "01.09.2023",
        "academic_year": "2023/2024",
    }[column.type]
