"""A contract another engineer might add (programme targets), as YAML only: the generators
(docs/contracts.md, the dbt sources, the templates) must pick it up with no code change."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest

import ingestion.contract as contract_module
from ingestion.contract import load_contracts

PROGRAMME_TARGETS = """\
source: teacher_courses
title_ru: Курсы повышения квалификации
description: Targets of support programmes, one row per school, indicator and year.
grain: [year, school_id, indicator]
year: {column: year}
school_column: school_id
role: fact
filename_patterns: ["teacher_courses*"]
columns:
  - {name: school_id, type: code, required: true, aliases: ["Код ОО"], description: "The school."}
  - {name: indicator, type: string, required: true, aliases: ["Показатель"], description: "Indicator."}
  - name: unit
    type: enum
    aliases: ["Единица измерения"]
    values: {percent: ["%", "процент"], count: ["чел.", "человек"]}
    description: "Unit."
  - {name: baseline, type: number, aliases: ["Базовое значение"], description: "Baseline."}
  - {name: target, type: number, required: true, aliases: ["Целевое значение"], description: "Target."}
  - {name: year, type: integer, required: true, range: [2000, null], aliases: ["Год"], description: "Year."}
examples:
  - {school_id: sch990001, indicator: "Доля «2» по ВПР", unit: "%", baseline: "18,5", target: 10, year: 2024}
  - {school_id: sch990002, indicator: "Участники олимпиад", unit: "чел.", baseline: 3, target: 8, year: 2024}
"""


@contextlib.contextmanager
def with_teacher_courses(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The contracts folder, copied, with teacher_courses.yaml added."""
    folder = tmp_path / "contracts"
    folder.mkdir()
    for path in contract_module.CONTRACTS_DIR.glob("*.yaml"):
        (folder / path.name).write_bytes(path.read_bytes())
    (folder / "teacher_courses.yaml").write_text(PROGRAMME_TARGETS, encoding="utf-8")
    with monkeypatch.context() as m:
        m.setattr(contract_module, "CONTRACTS_DIR", folder)
        load_contracts.cache_clear()
        try:
            yield folder
        finally:
            load_contracts.cache_clear()
    load_contracts.cache_clear()
