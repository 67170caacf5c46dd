"""``eduq templates``: an empty XLSX template per contract. Each is filled with the contract's
example rows the way a person fills it in Excel (openpyxl: numbers as numbers, dates as dates,
codes as text), all are delivered together and loaded by the real loader, and exactly those rows
arrive in raw, typed. The expected values are worked out here from the example texts."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import duckdb
import openpyxl
import pytest

from core.settings import load_settings
from ingestion.contract import Column, Contract, load_contracts
from ingestion.loader import ingest_all
from ingestion.templates import (
    DATA_SHEET,
    FIRST_DATA_ROW,
    HEADER_ROW,
    INSTRUCTIONS_SHEET,
    LISTS_SHEET,
    write_templates,
)
from orchestration.cli import main
from tests.unit.new_contract import with_teacher_courses

TODAY = "2025-06-01"


def _as_typed_in_excel(column: Column, text: str) -> object:
    """What a cell holds once a person has typed ``text`` into it in Excel (Russian locale)."""
    if text == "" or column.type in ("code", "string", "academic_year", "enum", "boolean"):
        return text or None
    if re.fullmatch(r"\d{2}\.\d{2}\.\d{4}", text):
        return dt.datetime.strptime(text, "%d.%m.%Y")
    if re.fullmatch(r"-?\d+", text):
        return int(text)
    if re.fullmatch(r"-?\d+,\d+", text):
        return float(text.replace(",", "."))
    return text


def _expected(column: Column, text: str) -> object:
    """The typed value of an example text, worked out without the loader."""
    if text == "":
        return column.default if column.type == "enum" else None
    if column.type == "integer":
        return int(text)
    if column.type == "number":
        return float(text.replace(",", "."))
    if column.type == "boolean":
        return {"да": True, "нет": False}[text]
    if column.type == "date":
        return dt.datetime.strptime(text, "%d.%m.%Y").date()
    if column.type == "enum":
        (key,) = [k for k, spellings in column.values.items() if text in spellings]
        return key
    return text


def _fill(path: Path, contract: Contract) -> None:
    workbook = openpyxl.load_workbook(path)
    sheet = workbook[DATA_SHEET]
    for offset, row in enumerate(contract.examples):
        for index, column in enumerate(contract.columns, start=1):
            value = _as_typed_in_excel(column, row.get(column.name, ""))
            sheet.cell(row=FIRST_DATA_ROW + offset, column=index, value=value)
    workbook.save(path)


def _round_trip(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sources: list[str] | None = None
) -> None:
    monkeypatch.setenv("EDUQ_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("EDUQ_TODAY", TODAY)
    for name in ("EDUQ_LANDING_DIR", "EDUQ_WAREHOUSE_DIR", "EDUQ_PUBLICATIONS_DIR"):
        monkeypatch.delenv(name, raising=False)
    settings = load_settings()
    settings.ensure_dirs()
    contracts = load_contracts()
    if sources is None:
        assert main(["templates", "--out", str(settings.landing_dir)]) == 0
    else:  # the registry and the crosswalk give the school codes of the examples
        write_templates(settings.landing_dir, sources)
        contracts = {s: contracts[s] for s in sources}
    for contract in contracts.values():
        path = settings.landing_dir / f"{contract.source}.xlsx"
        _check_template(path, contract)
        _fill(path, contract)
    with duckdb.connect(str(settings.candidate_db)) as con:
        survey, reports = ingest_all(con, settings, sources=list(contracts))
        assert [o for o in survey.outcomes if o.status != "queued"] == []
        for report in reports:
            contract = contracts[report.source]
            (f,) = report.files
            n = len(contract.examples)
            assert (f.status, f.rows_read, f.rows_loaded, f.rows_quarantined) == (
                "loaded",
                n,
                n,
                0,
            ), f.message
            names = [c.name for c in contract.columns]
            rows = con.execute(
                f"select _row_number, {', '.join(names)} from raw.{contract.source} order by 1"
            ).fetchall()
            expected = [
                (FIRST_DATA_ROW + i, *(_expected(c, row.get(c.name, "")) for c in contract.columns))
                for i, row in enumerate(contract.examples)
            ]
            assert rows == expected, contract.source


def _check_template(path: Path, contract: Contract) -> None:
    """An empty template: title, headers, drop-down lists, the instructions, no data."""
    workbook = openpyxl.load_workbook(path)
    assert workbook.sheetnames == [DATA_SHEET, INSTRUCTIONS_SHEET, LISTS_SHEET]
    assert workbook[LISTS_SHEET].sheet_state == "hidden"
    sheet = workbook[DATA_SHEET]
    assert sheet["A1"].value == contract.title_ru
    headers = [sheet.cell(row=HEADER_ROW, column=i + 1).value for i in range(len(contract.columns))]
    assert headers == [c.aliases[0] for c in contract.columns]
    assert sheet.max_row == HEADER_ROW
    lists = {}
    for validation in sheet.data_validations.dataValidation:
        if validation.type == "list":
            (cells,) = str(validation.sqref).split()
            letter = cells[0]
            sheet_name, ref = validation.formula1.split("!")
            column = [c.value for (c,) in workbook[sheet_name.strip("'")][ref.replace("$", "")]]
            header = sheet[f"{letter}{HEADER_ROW}"].value
            lists[header] = column
    expected = {
        c.aliases[0]: [s[0] for s in c.values.values()] if c.type == "enum" else ["да", "нет"]
        for c in contract.columns
        if c.type in ("enum", "boolean")
    }
    assert lists == expected
    instructions = [
        cell.value for row in workbook[INSTRUCTIONS_SHEET].iter_rows() for cell in row if cell.value
    ]
    assert instructions[0] == f"Инструкция: {contract.title_ru}"
    for column in contract.columns:
        assert column.aliases[0] in instructions and column.name in instructions


def test_every_template_filled_with_the_example_rows_loads_exactly_those_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _round_trip(tmp_path, monkeypatch)


def test_a_new_contract_gets_a_template_that_round_trips(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with with_teacher_courses(tmp_path, monkeypatch):
        assert "teacher_courses" in load_contracts()
        _round_trip(tmp_path, monkeypatch, ["schools", "school_codes", "teacher_courses"])


def test_templates_needs_a_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "file.txt"
    target.write_text("x")
    assert main(["templates", "--out", str(target)]) == 2
    assert capsys.readouterr().err == f"eduq templates: {target} is a file, not a folder\n"
    assert write_templates(tmp_path / "t", ["schools"]) == [tmp_path / "t" / "schools.xlsx"]
