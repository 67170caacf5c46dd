"""The contract YAML files are the single source of truth: docs/contracts.md and the dbt sources are
generated from them (``make contracts``) and these tests fail when either is stale, when the dbt
sources and the contracts differ by a column, or when a new contract would need a code change."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from ingestion import contract_docs
from ingestion.contract import load_contracts
from ingestion.warehouse import METADATA_COLUMNS
from tests.unit.new_contract import with_teacher_courses

ROOT = Path(__file__).resolve().parents[2]


def test_the_generated_files_are_up_to_date() -> None:
    assert contract_docs.stale(ROOT) == [], (
        "docs/contracts.md or the dbt sources differ from the contracts: run `make contracts`"
    )


def test_the_dbt_sources_match_the_contracts_column_for_column() -> None:
    """Read back independently of the generator: every contract is a table of source raw with
    exactly its raw columns, in order, each described; the tables that are not contracts stay."""
    data = yaml.safe_load((ROOT / contract_docs.SOURCES_YML).read_text(encoding="utf-8"))
    (raw,) = [s for s in data["sources"] if s["name"] == "raw"]
    tables = {t["name"]: t for t in raw["tables"]}
    for source, contract in load_contracts().items():
        table = tables[source]
        expected = [*contract.table_columns, *(name for name, _ in METADATA_COLUMNS)]
        assert [c["name"] for c in table["columns"]] == expected, source
        assert all(c["description"] for c in table["columns"]), source
        assert table["meta"]["dagster"]["asset_key"] == ["raw", source]
        for column in contract.columns:
            described = next(c for c in table["columns"] if c["name"] == column.name)
            assert described["description"].startswith(column.aliases[0]), column.name
    assert {"_load_log", "_quarantine"} <= set(tables)
    assert set(tables) == {*load_contracts(), "_load_log", "_quarantine"}


def test_docs_name_every_column_with_its_headers_type_and_example() -> None:
    text = (ROOT / contract_docs.CONTRACTS_MD).read_text(encoding="utf-8")
    for source, contract in load_contracts().items():
        section = text.split(f"## `{source}` — {contract.title_ru}", 1)[1].split("\n## ", 1)[0]
        for column in contract.columns:
            row = next(line for line in section.splitlines() if f"| `{column.name}` |" in line)
            assert row.startswith(f"| «{column.aliases[0]}» |"), row
            for alias in column.aliases[1:]:
                assert f"«{alias}»" in row, (source, alias)
            for spellings in column.values.values():
                assert f"«{spellings[0]}»" in row, (source, column.name)
        assert ";".join(c.aliases[0] for c in contract.columns) in section
    for words in (
        "per (source, year, school) for school-level sources",
        "per (source, year, school, exam, subject, grade) for ВПР and ОГЭ/ЕГЭ results",
        "Duplicates by content are skipped",
        "Split files add up",
        "`unknown_school`",
        "`NoDataRowsError`",
    ):
        assert words in text


@pytest.mark.parametrize("contract", list(load_contracts().values()), ids=list(load_contracts()))
def test_every_contract_explains_its_columns_and_shows_examples(contract) -> None:
    """What docs/contracts.md and the templates need from a contract YAML."""
    assert all(c.description for c in contract.columns), contract.source
    assert len(contract.examples) >= 2, (
        f"add `examples:` to ingestion/contracts/{contract.source}.yaml"
    )


def test_what_the_contracts_do_not_say_is_kept_in_the_dbt_sources() -> None:
    current = """\
version: 2
sources:
- name: raw
  schema: raw
  description: Raw.
  loaded_at_field: _loaded_at
  tables:
  - name: vpr_results
    description: old words
    freshness: {warn_after: {count: 2, period: day}}
    meta: {dagster: {asset_key: [raw, vpr_results]}, owner: rcoko}
    columns:
    - name: mark
      description: old words
      data_tests: [not_null]
    - name: dropped_column
      description: a column the contract no longer has
  - name: _load_log
    description: The log.
"""
    data = yaml.safe_load(contract_docs.render_sources_yml(current))
    (raw,) = data["sources"]
    assert raw["loaded_at_field"] == "_loaded_at" and raw["description"] == "Raw."
    tables = {t["name"]: t for t in raw["tables"]}
    vpr = tables["vpr_results"]
    assert vpr["freshness"] == {"warn_after": {"count": 2, "period": "day"}}
    assert vpr["meta"]["owner"] == "rcoko"
    assert vpr["description"].startswith("Результаты ВПР (по участникам).")
    mark = next(c for c in vpr["columns"] if c["name"] == "mark")
    assert mark["data_tests"] == ["not_null"] and mark["description"].startswith("Отметка:")
    assert "dropped_column" not in [c["name"] for c in vpr["columns"]]
    assert tables["_load_log"] == {"name": "_load_log", "description": "The log."}
    assert list(tables)[-1] == "_load_log"


def test_a_new_contract_yaml_appears_in_the_docs_and_the_sources_with_no_code_change(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with with_teacher_courses(tmp_path, monkeypatch):
        _new_contract_in_docs_and_sources()
    assert "teacher_courses" not in load_contracts()


def _new_contract_in_docs_and_sources() -> None:
    assert "teacher_courses" in load_contracts()
    text = contract_docs.render_contracts_md()
    assert "## `teacher_courses` — Курсы повышения квалификации" in text
    assert (
        "| «Единица измерения» | `unit` | one of a list | no | «%» (also процент) → `percent`"
        in text
    )
    assert "Код ОО;Показатель;Единица измерения;Базовое значение;Целевое значение;Год" in text
    current = (ROOT / contract_docs.SOURCES_YML).read_text(encoding="utf-8")
    data = yaml.safe_load(contract_docs.render_sources_yml(current))
    table = next(t for t in data["sources"][0]["tables"] if t["name"] == "teacher_courses")
    assert table["meta"] == {"dagster": {"asset_key": ["raw", "teacher_courses"]}}
    assert [c["name"] for c in table["columns"]][:6] == [
        "school_id",
        "indicator",
        "unit",
        "baseline",
        "target",
        "year",
    ]
