"""Contract-driven typing and validation of a staged file, in SQL.

Input: a staged all-text table (see :mod:`ingestion.readers`). Output: a typed temp table
``<stage>_typed`` and a failures table ``<stage>_failures`` with one row per
(row, column, reason). Rows with no failure load; the others go to quarantine.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from ingestion.contract import Column, Contract, normalise_label

TRUE_WORDS = ("да", "д", "1", "true", "истина", "+", "yes", "y", "есть", "имеется")
FALSE_WORDS = ("нет", "н", "0", "false", "ложь", "-", "−", "–", "no", "n", "отсутствует")


def _q(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _list(words) -> str:
    return ", ".join(_q(w) for w in words)


def _text(raw: str) -> str:
    return f"nullif(trim(replace({raw}, chr(160), ' ')), '')"


def _number_text(raw: str) -> str:
    # drop spaces (thousands separators, incl. no-break spaces), decimal comma -> point
    return (
        f"replace(regexp_replace({_text(raw)}, '[\\s\\x{{a0}}\\x{{202f}}'']', '', 'g'), ',', '.')"
    )


def parse_expr(column: Column, raw: str) -> str:
    """SQL that turns the raw text of ``column`` into its typed value (NULL when invalid)."""
    t = column.type
    if t == "string":
        return _text(raw)
    if t == "code":
        return f"regexp_replace(regexp_replace({_text(raw)}, '\\s', '', 'g'), '\\.0+$', '')"
    if t == "number":
        return f"try_cast({_number_text(raw)} as double)"
    if t == "integer":
        num = f"try_cast({_number_text(raw)} as double)"
        return f"case when {num} = floor({num}) then cast({num} as bigint) end"
    if t == "percent":
        txt = _number_text(raw)
        num = f"try_cast(rtrim({txt}, '%') as double)"
        return f"case when {txt} like '%\\%%' escape '\\' or {num} > 1 then {num} / 100 else {num} end"
    if t == "boolean":
        low = f"lower({_text(raw)})"
        return f"case when {low} in ({_list(TRUE_WORDS)}) then true when {low} in ({_list(FALSE_WORDS)}) then false end"
    if t == "date":
        txt = _text(raw)
        serial = f"try_cast({txt} as double)"
        return (
            f"coalesce(try_cast({txt} as date), try_strptime({txt}, '%d.%m.%Y')::date, "
            f"try_cast(try_strptime({txt}, '%Y-%m-%dT%H:%M:%S') as date), "
            f"case when {serial} between 1 and 80000 then date '1899-12-30' + cast({serial} as integer) end)"
        )
    if t == "academic_year":
        m = f"regexp_extract({_text(raw)}, '^(\\d{{4}})\\s*[/-]\\s*(\\d{{2,4}})$', ['a', 'b'])"
        a = f"try_cast({m}.a as integer)"
        b = f"try_cast({m}.b as integer)"
        b_full = f"case when {b} < 100 then {a} // 100 * 100 + {b} else {b} end"
        return f"case when {b_full} = {a} + 1 then {a}::varchar || '/' || {b_full}::varchar end"
    if t == "enum":
        low = f"lower(replace({_text(raw)}, 'ё', 'е'))"
        cases = " ".join(
            f"when {low} in ({_list(sorted({normalise_label(v) for v in values} | {key.lower()}))}) then {_q(key)}"
            for key, values in column.values.items()
        )
        default = f"when {_text(raw)} is null then {_q(column.default)}" if column.default else ""
        return f"case {default} {cases} end"
    raise ValueError(f"unknown type {t}")


EXPECTED = {
    "string": "text",
    "code": "a code",
    "number": "a number",
    "integer": "a whole number",
    "percent": "a percentage",
    "boolean": "да/нет",
    "date": "a date (ДД.ММ.ГГГГ)",
    "academic_year": "an academic year like 2022/2023",
}


def _expected(column: Column) -> str:
    if column.type == "enum":
        return "one of: " + ", ".join(v[0] for v in column.values.values())
    return EXPECTED[column.type]


@dataclass
class ValidationContext:
    """Facts from outside the file that rows are checked against."""

    max_year: int
    file_year: int | None = None
    known_school_codes_table: str | None = None  # table with a column ``code``


def build_typed(
    con: duckdb.DuckDBPyConnection,
    contract: Contract,
    stage: str,
    mapping: dict[int, str],
    headers: list[str],
    ctx: ValidationContext,
) -> tuple[str, str]:
    """Create ``<stage>_typed`` and ``<stage>_failures``; return their names."""
    by_name = {name: idx for idx, name in mapping.items()}
    selects = ["_row_number"]
    for column in contract.columns:
        raw = f"c{by_name[column.name]}" if column.name in by_name else "cast(null as varchar)"
        selects.append(f"{raw} as \"raw__{column.name}\"")
        selects.append(f"{parse_expr(column, raw)} as \"{column.name}\"")
    if contract.has_year and "year" not in {c.name for c in contract.columns}:
        selects.append("cast(null as varchar) as raw__year")
        selects.append("cast(null as integer) as year")
    extra = [i for i in range(len(headers)) if i not in mapping and headers[i].strip()]
    if extra:
        pairs = ", ".join(f"{_q(headers[i].strip())}: c{i}" for i in extra)
        selects.append(f"to_json({{{pairs}}}) as _extra")
    else:
        selects.append("cast(null as json) as _extra")
    typed = f"{stage}_typed"
    con.execute(f"create or replace temp table {typed} as select {', '.join(selects)} from {stage}")
    if contract.has_year and contract.year.from_filename and ctx.file_year is not None:
        con.execute(f"update {typed} set year = coalesce(year, {int(ctx.file_year)})")
    elif contract.year.derive:
        con.execute(f"update {typed} set year = {contract.year.derive}")

    failures: list[str] = []

    def fail(column: str, condition: str, reason_sql: str) -> None:
        failures.append(
            f"select _row_number, {_q(column)} as column_name, cast(\"raw__{column}\" as varchar) as value, "
            f"{reason_sql} as reason from {typed} where {condition}"
        )

    for column in contract.columns:
        name, raw = column.name, f'"raw__{column.name}"'
        if column.required and not (contract.year.from_filename and name == "year"):
            fail(name, f"{_text(raw)} is null", _q(f"required value is missing ({_header_ru(column)})"))
        fail(
            name,
            f"{_text(raw)} is not null and \"{name}\" is null",
            _q(f"not {_expected(column)}"),
        )
        if column.range:
            lo, hi = column.range
            if lo is not None:
                fail(name, f'"{name}" < {lo}', _q(f"below the allowed minimum {lo}"))
            if hi is not None:
                fail(name, f'"{name}" > {hi}', _q(f"above the allowed maximum {hi}"))
    if contract.has_year:
        fail("year", f"year > {ctx.max_year}", _q(f"year in the future (after {ctx.max_year})"))
        fail("year", "year is null and raw__year is null", _q("year is missing (no column and none in the file name)"))
    for check in contract.checks:
        fail(check.column, f"not coalesce({check.expr}, true)", _q(f"{check.reason} ({check.expr})"))
    if contract.school_column and ctx.known_school_codes_table:
        col = contract.school_column
        fail(
            col,
            f'"{col}" is not null and "{col}" not in (select code from {ctx.known_school_codes_table})',
            _q("unknown school code: not in the school registry nor in the code crosswalk"),
        )
    grain = ", ".join(f'"{g}"' for g in contract.grain)
    dup = (
        f"select _row_number, {_q(contract.grain[-1])} as column_name, "
        f"cast(\"{contract.grain[-1]}\" as varchar) as value, "
        f"'duplicate key (' || {_q(', '.join(contract.grain))} || '): first seen in row ' || first_row as reason "
        f"from (select _row_number, {grain}, min(_row_number) over (partition by {grain}) as first_row from {typed}) "
        f"where _row_number <> first_row and {' and '.join(f'{g} is not null' for g in contract.grain.__iter__())}"
    )
    failures.append(dup)
    failures_table = f"{stage}_failures"
    con.execute(f"create or replace temp table {failures_table} as {' union all '.join(failures)}")
    return typed, failures_table


def _header_ru(column: Column) -> str:
    return f"«{column.aliases[0]}»" if column.aliases else column.name
