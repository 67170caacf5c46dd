"""The contracts (ingestion/contracts/*.yaml) are data: these tests keep that data coherent, so
that adding a header alias stays a one-line change that cannot break another column."""

from __future__ import annotations

import pytest

from ingestion.contract import COLUMN_TYPES, Contract, load_contracts, normalise_label
from ingestion.validate import value_map

CONTRACTS = list(load_contracts().values())
IDS = [c.source for c in CONTRACTS]

SOURCES = {  # shared/contracts.md
    "schools",
    "school_codes",
    "school_successors",
    "vpr_results",
    "vpr_school_stats",
    "gia_results",
    "social_passport",
    "resource_survey",
    "risk_questionnaire",
    "academic_debt",
    "support_programmes",
    "programme_targets",  # issue 11: the school programme's target indicators (seed 001)
}


def test_every_source_of_the_shared_contracts_has_a_contract() -> None:
    assert set(load_contracts()) == SOURCES


def test_reference_sources_load_first() -> None:
    order = list(load_contracts())
    assert order[0] == "schools"
    assert {c.source for c in CONTRACTS if c.role == "reference"} <= set(order[:4])


@pytest.mark.parametrize("contract", CONTRACTS, ids=IDS)
def test_no_header_spelling_means_two_columns(contract: Contract) -> None:
    owner: dict[str, str] = {}
    for column in contract.columns:
        for key in column.header_keys():
            assert owner.setdefault(key, column.name) == column.name, (
                f"{contract.source}: «{key}» is a header of both {owner[key]} and {column.name}"
            )


@pytest.mark.parametrize("contract", CONTRACTS, ids=IDS)
def test_columns_are_well_formed(contract: Contract) -> None:
    names = [c.name for c in contract.columns]
    assert len(names) == len(set(names))
    assert set(contract.grain) <= set(contract.table_columns)
    if contract.school_column:
        assert contract.school_column in names
    for column in contract.columns:
        assert column.type in COLUMN_TYPES
        assert column.aliases, f"{contract.source}.{column.name} has no Russian header"
        if column.range:
            lo, hi = column.range
            assert lo is None or hi is None or lo <= hi
        if column.default is not None:
            assert column.default in column.values


@pytest.mark.parametrize("contract", CONTRACTS, ids=IDS)
def test_enum_spellings_are_unambiguous(contract: Contract) -> None:
    for column in contract.columns:
        if column.type != "enum":
            continue
        seen: dict[str, str] = {}
        for key, values in column.values.items():
            for value in values:
                label = normalise_label(value)
                assert seen.setdefault(label, key) == key, (
                    f"{contract.source}.{column.name}: «{value}»"
                )
        assert set(value_map(column).values()) == set(column.values)


@pytest.mark.parametrize("contract", CONTRACTS, ids=IDS)
def test_the_year_is_found_somewhere(contract: Contract) -> None:
    if not contract.has_year:
        assert "year" not in contract.grain
        return
    rule = contract.year
    assert rule.column or rule.from_filename or rule.derive
    if rule.column:
        assert rule.column in [c.name for c in contract.columns]


def test_the_russian_headers_of_shared_contracts_are_accepted() -> None:
    """A few headers exactly as shared/contracts.md spells them."""
    expected = {
        ("schools", "Код ОО (логин ФИС ОКО)"): "school_id",
        ("schools", "Тип местности"): "locality",
        ("vpr_results", "Отметка (2–5)"): "mark",
        ("vpr_school_stats", "«2»"): "mark_2",
        ("gia_results", "Категория участника"): "category",
        ("social_passport", "Состоят на учёте"): "prevention_register",
        ("social_passport", "Русский язык не родной"): "non_native_russian",
        ("academic_debt", "Имеют академическую задолженность"): "with_debt",
        ("school_successors", "Код ОО (правопреемник)"): "new_school_id",
    }
    contracts = load_contracts()
    for (source, header), column in expected.items():
        matches = [
            c.name for c in contracts[source].columns if normalise_label(header) in c.header_keys()
        ]
        assert matches == [column], (source, header)


def test_the_contracts_read_the_same_with_libyamls_loader_as_with_pythons() -> None:
    """The contracts are read with libyaml's safe loader (faster); it must give the documents the
    pure-Python safe loader gives, value for value (types included)."""
    import yaml

    from ingestion.contract import CONTRACTS_DIR, SAFE_LOADER

    assert SAFE_LOADER is yaml.CSafeLoader  # PyYAML's wheels have libyaml
    for path in sorted(CONTRACTS_DIR.glob("*.yaml")):
        text = path.read_text(encoding="utf-8")
        fast, plain = yaml.load(text, Loader=SAFE_LOADER), yaml.safe_load(text)
        assert fast == plain, path.name
        assert repr(fast) == repr(plain), path.name  # 1 and 1.0, True and "true" kept apart
