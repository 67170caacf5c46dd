"""Input contracts as data.

Each source is described by one YAML file in ``ingestion/contracts/``: canonical columns,
Russian header aliases, types, allowed values and ranges, required columns, the grain, how the
year is found, what a corrected delivery replaces, what each column means and example rows.
Adding a header alias is one line in that file; no code changes.

The YAML files are the single source of truth: ``docs/contracts.md``, the dbt sources
(``dbt_project/models/staging/_sources.yml``) and the XLSX templates (``eduq templates``) are
generated from them (:mod:`ingestion.contract_docs`, :mod:`ingestion.templates`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache, lru_cache
from pathlib import Path

import yaml

CONTRACTS_DIR = Path(__file__).parent / "contracts"

COLUMN_TYPES = {
    "string",  # free text, trimmed, a run of inner spaces as one
    "code",  # identifier: trimmed, inner spaces removed, '.0' of spreadsheet numbers dropped
    "integer",
    "number",  # decimal comma or point, spaces as thousands separators
    "percent",  # '12,5%' -> 0.125; '12.5' -> 0.125; '0.125' -> 0.125
    "boolean",  # да/нет, 1/0, true/false, +/-
    "date",  # 2023-09-01, 01.09.2023, Excel serial number
    "enum",  # normalised to the canonical key of ``values``
    "academic_year",  # 2022/2023, 2022-2023, 2022/23 -> '2022/2023'
}

_QUOTES = re.compile(r"[«»\"'`„“”‘’]")
_SPACES = re.compile(r"\s+")
_INVISIBLE = re.compile("[\u00ad\u200b\u200c\u200d\u2060\ufeff]")
_DASHES = str.maketrans({"–": "-", "—": "-", "−": "-", "‐": "-", "‑": "-"})
_CYRILLIC = re.compile("[а-яё]")
# Latin letters that look like Cyrillic ones: a header typed as «Код OO» (Latin O) is «Код ОО»
_HOMOGLYPHS = str.maketrans("aceopxykmtbh", "асеорхукмтвн")


def normalise_label(text: object) -> str:
    """Header or enum value as compared: case, spaces, quotes, dashes and ё/е insensitive.

    Also ignores invisible characters (soft hyphens, zero-width spaces, a BOM), line breaks
    inside a cell (Alt+Enter in Excel), trailing punctuation (``" .:"``) and, in labels that
    contain Cyrillic, Latin look-alike letters («Код OO» typed with Latin O is «Код ОО»).
    """
    if type(text) is str:  # the same headers and values come in every file: each one is done once
        return _normalise_text(text)
    return _normalise(text)


@lru_cache(maxsize=1 << 16)
def _normalise_text(text: str) -> str:
    return _normalise(text)


def _normalise(text: object) -> str:
    value = "" if text is None else str(text)
    value = _INVISIBLE.sub("", value)
    value = _QUOTES.sub("", value).replace("ё", "е").replace("Ё", "Е").lower()
    value = value.replace("\u00a0", " ").replace("\u202f", " ").translate(_DASHES)
    if _CYRILLIC.search(value):
        value = value.translate(_HOMOGLYPHS)
    return _SPACES.sub(" ", value).strip(" .:")


# sources whose later deliveries replace a school's values cell by cell, not its row (the staging
# models' macro latest_delivery_by_column; tests/unit/test_latest_delivery_rule.py keeps the two
# lists one): a correction may carry only the corrected columns, and a blank cell says nothing
COLUMN_BY_COLUMN = ("social_passport", "resource_survey")


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    aliases: tuple[str, ...]
    required: bool = False
    range: tuple[float | None, float | None] | None = None
    values: dict[str, tuple[str, ...]] = field(default_factory=dict)
    default: str | None = None
    description: str = ""  # what the column means, in English (docs, dbt sources)

    @property
    def header(self) -> str:
        """The Russian header a template and the docs show (the first alias)."""
        return self.aliases[0] if self.aliases else self.name

    def header_keys(self) -> set[str]:
        return {normalise_label(self.name), *(normalise_label(a) for a in self.aliases)}


@dataclass(frozen=True)
class RowCheck:
    expr: str
    column: str
    reason: str


@dataclass(frozen=True)
class YearRule:
    column: str | None = None
    from_filename: bool = False
    derive: str | None = None
    none: bool = False


@dataclass(frozen=True)
class Contract:
    source: str
    title_ru: str
    description: str
    grain: tuple[str, ...]
    year: YearRule
    columns: tuple[Column, ...]
    checks: tuple[RowCheck, ...] = ()
    school_column: str | None = None
    validate_school: bool = True  # check the code against the registry and crosswalk
    role: str = "fact"
    filename_patterns: tuple[str, ...] = ()
    # a corrected delivery replaces what earlier deliveries said per these columns (staging)
    latest_delivery_per: tuple[str, ...] = ()
    # example rows as a person types them: canonical column -> cell text (docs, templates)
    examples: tuple[dict[str, str], ...] = ()

    @property
    def checks_school_codes(self) -> bool:
        """Whether a row's school code must be one the warehouse knows (else: unknown_school)."""
        return bool(self.school_column and self.validate_school)

    @property
    def required_columns(self) -> tuple[Column, ...]:
        return tuple(c for c in self.columns if c.required and not self._year_from_elsewhere(c))

    def _year_from_elsewhere(self, column: Column) -> bool:
        return column.name == "year" and (self.year.from_filename or self.year.derive is not None)

    def column(self, name: str) -> Column:
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(f"{self.source} has no column {name!r}")

    @property
    def table_columns(self) -> tuple[str, ...]:
        """Canonical columns of the raw table, in order (year first where the source has one)."""
        names = [c.name for c in self.columns]
        if self.has_year and "year" not in names:
            names.insert(0, "year")
        return tuple(names)

    @property
    def has_year(self) -> bool:
        return not self.year.none


# libyaml's safe loader where PyYAML has it (its wheels do): the same documents, ~8× faster
# (the twelve contracts: 0.04 s → 0.005 s of every run)
SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class ContractError(ValueError):
    """A contract file is malformed (a developer error, not a data error)."""


def _parse_contract(path: Path) -> Contract:
    data = yaml.load(path.read_text(encoding="utf-8"), Loader=SAFE_LOADER)
    columns = []
    for raw in data["columns"]:
        if raw["type"] not in COLUMN_TYPES:
            raise ContractError(f"{path.name}: column {raw['name']} has unknown type {raw['type']}")
        values = {k: tuple(v) for k, v in (raw.get("values") or {}).items()}
        if raw["type"] == "enum" and not values:
            raise ContractError(f"{path.name}: enum column {raw['name']} lists no values")
        rng = raw.get("range")
        columns.append(
            Column(
                name=raw["name"],
                type=raw["type"],
                aliases=tuple(raw.get("aliases", ())),
                required=bool(raw.get("required", False)),
                range=(rng[0], rng[1]) if rng else None,
                values=values,
                default=raw.get("default"),
                description=str(raw.get("description") or ""),
            )
        )
    year = YearRule(**data.get("year", {"none": True}))
    checks = tuple(RowCheck(**c) for c in data.get("checks", ()))
    contract = Contract(
        source=data["source"],
        title_ru=data.get("title_ru", data["source"]),
        description=data.get("description", ""),
        grain=tuple(data["grain"]),
        year=year,
        columns=tuple(columns),
        checks=checks,
        school_column=data.get("school_column"),
        validate_school=bool(data.get("validate_school", True)),
        role=data.get("role", "fact"),
        filename_patterns=tuple(data.get("filename_patterns", ())),
        latest_delivery_per=tuple(data.get("latest_delivery_per") or _default_delivery_key(data)),
        examples=tuple(
            {str(k): "" if v is None else str(v) for k, v in row.items()}
            for row in data.get("examples") or ()
        ),
    )
    names = set(contract.table_columns)
    for key in contract.grain:
        if key not in names:
            raise ContractError(f"{path.name}: grain column {key} is not a column")
    for key in contract.latest_delivery_per:
        if key not in names:
            raise ContractError(f"{path.name}: latest_delivery_per column {key} is not a column")
    for row in contract.examples:
        unknown = set(row) - {c.name for c in contract.columns}
        if unknown:
            raise ContractError(f"{path.name}: example row names unknown columns {sorted(unknown)}")
    if contract.source != path.stem:
        raise ContractError(f"{path.name}: source {contract.source!r} must match the file name")
    return contract


def _default_delivery_key(data: dict) -> list[str]:
    """Without ``latest_delivery_per``: per (year, school) for a school-level source, else the grain."""
    school = data.get("school_column")
    has_year = not data.get("year", {"none": True}).get("none")
    return ["year", school] if school and has_year else list(data["grain"])


@cache
def load_contracts() -> dict[str, Contract]:
    """All contracts, keyed by source name, in load order (reference sources first)."""
    contracts = [_parse_contract(p) for p in sorted(CONTRACTS_DIR.glob("*.yaml"))]
    contracts.sort(key=lambda c: (c.role != "reference", c.source != "schools", c.source))
    return {c.source: c for c in contracts}


def get_contract(source: str) -> Contract:
    contracts = load_contracts()
    if source not in contracts:
        raise KeyError(f"unknown source {source!r}; known: {', '.join(contracts)}")
    return contracts[source]
