"""The latest-delivery rule of every staging model is the one its contract states
(``latest_delivery_per`` in ingestion/contracts/*.yaml, documented in docs/contracts.md): a
correction replaces exactly what an earlier delivery said for the same key, and files for other
keys (other subjects, periods, schools) add up."""

from __future__ import annotations

import re

from ingestion.contract import COLUMN_BY_COLUMN, load_contracts
from orchestration.dbt_project import DBT_PROJECT_DIR

CALL = re.compile(
    r"latest_delivery(?:_by_column\(\s*'\w+',)?\(?\s*\[(.*?)\]", re.DOTALL
)  # the rule by rows, or column by column (the surveys: macro latest_delivery_by_column)
# the student-level results: the partition's columns, and the subject (dbt macro latest_result_rows)
RESULT_CALL = re.compile(r"latest_result_rows\(source\('raw', '\w+'\),\s*\[(.*?)\]", re.DOTALL)
SOURCE = re.compile(r"source\('raw', '(\w+)'\)")


def _column(expression: str) -> str:
    """The contract column a partition expression stands for."""
    text = expression.strip().strip("'").replace("source.", "")
    if "subject" in text:
        return "subject"  # the subject as delivered, or its code in seed subject_aliases
    if text == "indicator_identity":  # its code, or the catalogue's code of its wording
        return "indicator"
    for word in ("indicator", "programme"):  # their keys (macros indicator_key, programme_key)
        if re.fullmatch(rf"{word}_key\('{word}'\)|{word}", text):
            return word
    return re.sub(r"^(?:lower|upper)\((\w+)\)$", r"\1", text)


def test_every_staging_model_partitions_the_latest_delivery_as_its_contract_says() -> None:
    contracts = load_contracts()
    seen = set()
    for path in sorted((DBT_PROJECT_DIR / "models" / "staging").rglob("stg_*.sql")):
        sql = path.read_text(encoding="utf-8")
        found = SOURCE.search(sql)
        if found is None:
            # built on other staging models (stg_registry__school_code_map): no delivery of its own
            assert "source(" not in sql and "ref('stg_" in sql, path.name
            continue
        source = found.group(1)
        call = CALL.search(sql)
        result_call = RESULT_CALL.search(sql)
        assert call or result_call, f"{path.name} applies no latest-delivery rule"
        parts = re.findall(r"'(?:[^']|'')*'", (call or result_call).group(1))
        partition = {_column(part) for part in parts} | ({"subject"} if result_call else set())
        assert partition == set(contracts[source].latest_delivery_per), (path.name, partition)
        by_cells = "latest_delivery_by_column(" in sql
        assert by_cells == (source in COLUMN_BY_COLUMN), (path.name, by_cells)
        seen.add(source)
    assert seen == set(contracts)
