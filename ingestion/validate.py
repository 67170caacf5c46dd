"""Contract-driven typing and validation of a staged file, in SQL.

Input: a staged all-text relation (see :mod:`ingestion.readers`). Output (:class:`Validated`):

* ``<prefix>_typed``: one row per staged row with the typed canonical columns, ``_extra``
  (the file's other columns as JSON) and ``_ok`` (no rule broken). Built in one pass over
  the staged rows: every cell is parsed once and every rule is an expression over the
  parsed row.
* ``<prefix>_failures``: one row per (row, column, reason) for the rows that are not
  loaded. Only the failing rows are looked at a second time, to say why, so a clean file
  costs nothing here. A row that is not data at all (a closing «Итого» row, a repeated
  header, a note under the table, a row wider than the header) gets one row-level reason
  instead of one reason per empty column.

Rows with no failure load; the others go to quarantine. The reason codes are stable
(``reason_code`` in ``raw._quarantine``); the texts say in words what was expected.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

import duckdb

from core.duck import quote_identifier as _ident
from core.duck import quote_literal as _q
from ingestion.contract import Column, Contract, normalise_label
from ingestion.readers import FileLayout, StagedFile, column_letter

TRUE_WORDS = ("да", "д", "1", "true", "истина", "+", "yes", "y", "есть", "имеется", "v", "✓", "✔")
FALSE_WORDS = ("нет", "н", "0", "false", "ложь", "-", "no", "n", "отсутствует", "не имеется")
VALUE_MAP_LIMIT = 500  # distinct texts of an enum/boolean column mapped in Python; beyond, in SQL
# a cell that starts a total row: «Итого», «ВСЕГО по району», «Total:»; not «Итоговое сочинение»
TOTAL_ROW_PATTERN = r"^[\s\x{a0}]*(?i:итого|всего|total)([^\pL\pN]|$)"

# reason codes of raw._quarantine.reason_code
BLANK = "blank"  # internal: an empty row the fast CSV path kept; dropped, not quarantined
OVERFLOW = "overflow"
REPEATED_HEADER = "repeated_header"
TOTAL_ROW = "total_row"
NOT_DATA = "not_data"
MISSING = "missing"
INVALID = "invalid"
BELOW_MIN = "below_min"
ABOVE_MAX = "above_max"
FUTURE_YEAR = "future_year"
CHECK = "check"
UNKNOWN_SCHOOL = "unknown_school"
DUPLICATE_ROW = "duplicate_row"
DUPLICATE_KEY = "duplicate_key"
ROW_LEVEL = "*"  # column_name of a reason about the whole row
# files validated together (a batch of one source's files with the same layout) carry their part in
# the row key: _row_number = part * PART + the row number in the file (part 0 for a single file)
PART = 10**12


def _list(words: Iterable[str]) -> str:
    return ", ".join(_q(w) for w in words)


def text_expr(raw: str) -> str:
    """A cell as text: no-break spaces are spaces, trimmed, empty is NULL.

    Most cells need none of it, and trimming copies every string: the cheap test goes first.
    """
    slow = f"nullif(trim(replace({raw}, chr(160), ' ')), '')"
    return (
        f"(case when starts_with({raw}, ' ') or ends_with({raw}, ' ') or contains({raw}, chr(160)) "
        f"then {slow} else nullif({raw}, '') end)"
    )


def plain_text(raw: str) -> str:
    """:func:`text_expr` of a cell known not to start or end with a space nor to hold a no-break
    space (:class:`ingestion.readers.CellEdges`): empty is NULL."""
    return f"nullif({raw}, '')"


def _number_text(txt: str) -> str:
    # thousands separators (spaces, narrow no-break spaces, apostrophes) out, decimal comma -> point;
    # one translate (the characters of its first set without a counterpart are deleted): a chain of
    # replaces made every number column's SQL several times longer, and planning it cost more than
    # a small file's whole load
    return f"translate({txt}, ', ' || chr(8239) || chr(39), '.')"


def _number(txt: str) -> str:
    """Text -> double: «12,5», «12.5», «1 234,5», «1e3». Infinite and NaN are caught by the rules."""
    # most numbers need only the decimal comma swapped; coalesce evaluates the rest lazily
    return f"coalesce(try_cast(replace({txt}, ',', '.') as double), try_cast({_number_text(txt)} as double))"


def _integer(txt: str) -> str:
    """Text -> bigint, NULL unless a whole number («5», «5,0», «1 234»; not «5,5»: a cast would round it)."""
    plain = (
        f"not contains({txt}, '.') and not contains({txt}, ',') and not contains(lower({txt}), 'x')"
    )
    num = f"try_cast({_number_text(txt)} as double)"
    # the number written once (a lambda over a one-element list), not three times
    slow = f"list_filter([{num}], lambda n: n = floor(n) and abs(n) < 1e15)[1]::bigint"
    return f"coalesce(case when {plain} then try_cast({txt} as bigint) end, {slow})"


def _normalise_sql(txt: str) -> str:
    """SQL approximation of :func:`normalise_label` for columns with too many distinct texts."""
    low = f"lower(replace(replace({txt}, 'ё', 'е'), 'Ё', 'Е'))"
    low = f"regexp_replace({low}, '[«»\"`„“”‘’'']', '', 'g')"
    low = f"regexp_replace({low}, '[–—−‐‑]', '-', 'g')"
    return f"trim(regexp_replace({low}, '\\s+', ' ', 'g'), ' .:')"


def value_map(column: Column) -> dict[str, str | bool]:
    """Normalised text -> canonical value, for enum and boolean columns."""
    if column.type == "boolean":
        words = {normalise_label(w): True for w in TRUE_WORDS}
        words.update({normalise_label(w): False for w in FALSE_WORDS})
        return words
    mapping: dict[str, str | bool] = {}
    for key, values in column.values.items():
        for v in (*values, key):
            mapping[normalise_label(v)] = key
    return mapping


def _sql_value(value: str | bool) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return _q(value)


def parse_expr(
    column: Column, txt: str, distinct_texts: list[str] | None = None, raw: str | None = None
) -> str:
    """SQL that turns the text ``txt`` of ``column`` into its typed value (NULL when invalid).

    ``distinct_texts`` (enum and boolean columns): the cells found in the file, as delivered
    (``raw`` is the SQL of the cell); they are mapped here in Python with
    :func:`normalise_label`, exactly as headers are, and the SQL becomes a plain lookup.
    """
    t = column.type
    if t == "string":
        # a run of spaces inside counts as one («Русский  язык» is «Русский язык»: a subject, a
        # name typed with two spaces); tested first, the replacement is rare
        return f"(case when contains({txt}, '  ') then regexp_replace({txt}, ' {{2,}}', ' ', 'g') else {txt} end)"
    if t == "code":
        # inner spaces out, the «.0» of a code stored as a spreadsheet number out
        slow = f"regexp_replace(replace({txt}, ' ', ''), '\\.0+$', '')"
        return (
            f"(case when contains({txt}, ' ') or ends_with({txt}, '.0') then {slow} else {txt} end)"
        )
    if t == "number":
        return _number(txt)
    if t == "integer":
        return _integer(txt)
    if t == "percent":
        is_pct = f"ends_with({txt}, '%')"
        num = _number(f"rtrim({txt}, '% ')")
        return f"(case when {is_pct} or {num} > 1 then {num} / 100 else {num} end)"
    if t == "date":
        serial = f"try_cast({txt} as double)"
        return (
            f"coalesce(try_cast({txt} as date), try_strptime({txt}, '%d.%m.%Y')::date, "
            # a date-time as Russian Excel writes it to CSV («01.09.2023 0:00»)
            f"try_strptime({txt}, '%d.%m.%Y %H:%M')::date, try_strptime({txt}, '%d.%m.%Y %H:%M:%S')::date, "
            f"try_strptime({txt}, '%d/%m/%Y')::date, "
            f"try_cast(try_strptime({txt}, '%Y-%m-%dT%H:%M:%S') as date), "
            f"case when {serial} between 1 and 80000 and {serial} = floor({serial}) "
            f"then date '1899-12-30' + cast({serial} as integer) end)"
        )
    if t == "academic_year":
        m = f"regexp_extract({txt}, '^(\\d{{4}})\\s*[/\\-–—]\\s*(\\d{{2,4}})(\\s*(уч\\.?|учебный)?\\s*(г\\.?|год)?)?$', ['a', 'b'])"
        a = f"try_cast({m}.a as integer)"
        b = f"try_cast({m}.b as integer)"
        b_full = f"case when {b} < 100 then {a} // 100 * 100 + {b} else {b} end"
        return f"(case when {b_full} = {a} + 1 then {a}::varchar || '/' || {b_full}::varchar end)"
    if t in ("enum", "boolean"):
        mapping = value_map(column)
        null = f"cast(null as {'boolean' if t == 'boolean' else 'varchar'})"
        default = f"when {txt} is null then {_q(column.default)} " if column.default else ""
        if distinct_texts is not None:
            pairs = [
                (v, mapping[normalise_label(v)])
                for v in distinct_texts
                if normalise_label(v) in mapping
            ]
            if not pairs:
                # no cell of the file holds a known spelling (a column left empty, or no rows at
                # all): a CASE needs at least one WHEN, so without a default the value is NULL
                return f"(case {default}else {null} end)" if default else null
            cases = " ".join(f"when {_q(v)} then {_sql_value(k)}" for v, k in pairs)
            inner = f"case {raw or txt} {cases} end"
            return f"(case {default}else {inner} end)" if default else f"({inner})"
        norm = _normalise_sql(txt)
        groups: dict[str | bool, list[str]] = {}
        for label, key in mapping.items():
            groups.setdefault(key, []).append(label)
        cases = " ".join(
            f"when {norm} in ({_list(labels)}) then {_sql_value(k)}" for k, labels in groups.items()
        )
        return f"(case {default}{cases} end)"
    raise ValueError(f"unknown type {t}")


EXPECTED = {
    "string": "text",
    "code": "a code",
    "number": "a number",
    "integer": "a whole number",
    "percent": "a percentage (12,5% or 0.125)",
    "boolean": "да/нет (also 1/0, +/−, true/false)",
    "date": "a date (ДД.ММ.ГГГГ)",
    "academic_year": "an academic year like 2022/2023",
}


def _expected(column: Column) -> str:
    if column.type == "enum":
        return "one of: " + ", ".join(f"«{v[0]}»" for v in column.values.values())
    return EXPECTED[column.type]


def header_ru(column: Column) -> str:
    return f"«{column.aliases[0]}»" if column.aliases else column.name


@dataclass
class ValidationContext:
    """Facts from outside the file that rows are checked against."""

    max_year: int
    file_year: int | None = None
    known_school_codes_table: str | None = None  # table with a column ``code``
    registry_empty: bool = False  # raw.schools has no rows yet
    # files validated together (ingestion.batches): the staged relation's column holding each
    # row's file year, used where ``file_year`` would be
    file_year_column: str | None = None


@dataclass
class Rule:
    """A rule a row must satisfy: ``condition`` (SQL over the parsed row) true means broken."""

    code: str
    column: str
    condition: str
    reason: str  # SQL expression
    value: str  # SQL expression: the offending text


@dataclass
class Validated:
    typed: str
    failures: str
    rows_read: int
    tables: list[str] = field(default_factory=list)
    extra_keys: dict[int, str] = field(default_factory=dict)
    # False only when no row failed and no key repeats: ``failures`` is then known to be empty and
    # the loader skips the statements that would read it (most files; each statement costs)
    has_failures: bool = True
    # blank rows (not read) by part (``_row_number // PART``: the file of a batch), where any
    blank_by_part: dict[int, int] = field(default_factory=dict)
    # every enum/boolean column was typed from a map of its distinct texts (none had more than
    # VALUE_MAP_LIMIT): a batch's typed values are then those of each of its files alone
    value_maps_complete: bool = True


class Validator:
    """Builds the SQL of one file's validation from its contract, layout and context."""

    def __init__(
        self,
        contract: Contract,
        layout: FileLayout,
        ctx: ValidationContext,
        plain_cells: bool = False,
    ) -> None:
        self.contract = contract
        self.layout = layout
        self.ctx = ctx
        # no cell starts or ends with a space nor holds a no-break space (StagedFile.plain_cells):
        # a cell's text is the cell, empty is NULL
        self.plain_cells = plain_cells
        self.by_name = {name: idx for idx, name in layout.mapping.items()}
        self.distinct: dict[str, list[str] | None] = {}
        self.extra_keys: dict[int, str] = {}

    # ------------------------------------------------------------------ pre-pass

    def inspect(self, con: duckdb.DuckDBPyConnection, relation: str) -> None:
        """Distinct texts of enum/boolean columns, and which unnamed columns hold anything."""
        for column in self.contract.columns:
            if column.type in ("enum", "boolean") and column.name in self.by_name:
                cell = f"c{self.by_name[column.name]}"
                rows = con.execute(
                    f"select {cell} from {relation} where {cell} is not null group by all limit {VALUE_MAP_LIMIT + 1}"
                ).fetchall()
                self.distinct[column.name] = (
                    [r[0] for r in rows] if len(rows) <= VALUE_MAP_LIMIT else None
                )
        unmapped = [i for i in range(self.layout.width) if i not in self.layout.mapping]
        unnamed = [i for i in unmapped if not self.layout.headers[i].strip()] if unmapped else []
        filled: set[int] = set()
        if unnamed:
            counts = con.execute(
                "select "
                + ", ".join(f"count({text_expr(f'c{i}')})" for i in unnamed)
                + f" from {relation}"
            ).fetchone()
            filled = {i for i, n in zip(unnamed, counts) if n}
        seen: set[str] = set()
        for i in unmapped:
            if i in unnamed and i not in filled:
                continue
            key = self.layout.headers[i].strip() or f"column {column_letter(i)}"
            base, n = key, 2
            while key in seen or key in self.contract.table_columns:
                key, n = f"{base} ({n})", n + 1
            seen.add(key)
            self.extra_keys[i] = key

    # ------------------------------------------------------------------ SQL layers

    def _file_year(self) -> str | None:
        """SQL of the year the file's name gives (None: none)."""
        if self.ctx.file_year_column:
            return _ident(self.ctx.file_year_column)
        return str(int(self.ctx.file_year)) if self.ctx.file_year is not None else None

    def _text_layer(self, relation: str, keep_cells: bool = False) -> str:
        selects = ["_row_number", "_overflow"]
        if self.ctx.file_year_column:
            selects.append(_ident(self.ctx.file_year_column))
        if keep_cells:
            selects += [f"c{i}" for i in range(self.layout.width)]
        else:  # the cells of enum/boolean columns are looked up as delivered
            selects += [f"c{self.by_name[n]}" for n, d in self.distinct.items() if d is not None]
        text = plain_text if self.plain_cells else text_expr
        for column in self.contract.columns:
            idx = self.by_name.get(column.name)
            selects.append(
                f"{text(f'c{idx}') if idx is not None else 'cast(null as varchar)'} as {_ident('t__' + column.name)}"
            )
        if self.extra_keys:
            pairs = ", ".join(f"{_q(k)}: c{i}" for i, k in self.extra_keys.items())
            selects.append(f"to_json({{{pairs}}}) as _extra")
        else:
            selects.append("cast(null as json) as _extra")
        return f"select {', '.join(selects)} from {relation}"

    def _parsed_layer(self, relation: str, keep_cells: bool = False) -> str:
        selects = ["*"]
        for column in self.contract.columns:
            txt = _ident("t__" + column.name)
            idx = self.by_name.get(column.name)
            raw = f"c{idx}" if idx is not None else None
            expr = parse_expr(column, txt, self.distinct.get(column.name) if raw else None, raw)
            if (
                column.name == "year"
                and self.contract.year.from_filename
                and self._file_year() is not None
            ):
                expr = f"coalesce({expr}, {self._file_year()})"
            selects.append(f"{expr} as {_ident(column.name)}")
        layer = f"select {', '.join(selects)} from ({self._text_layer(relation, keep_cells)})"
        names = {c.name for c in self.contract.columns}
        if self.contract.has_year and "year" not in names:
            year = self.contract.year.derive or (self._file_year() or "null")
            layer = f"select *, cast({year} as integer) as year, cast(null as varchar) as t__year from ({layer})"
        return layer

    def rules(self) -> list[Rule]:
        contract, rules = self.contract, []
        for column in contract.columns:
            name, txt = column.name, _ident("t__" + column.name)
            col = _ident(name)
            year_elsewhere = name == "year" and (
                contract.year.from_filename or contract.year.derive
            )
            if column.required and not year_elsewhere:
                rules.append(
                    Rule(
                        MISSING,
                        name,
                        f"{txt} is null",
                        _q(f"required value is missing ({header_ru(column)})"),
                        "null",
                    )
                )
            invalid = f"{txt} is not null and {col} is null"
            if column.type in ("number", "percent"):
                invalid = f"{txt} is not null and ({col} is null or not isfinite({col}))"
            rules.append(
                Rule(
                    INVALID,
                    name,
                    invalid,
                    _q(f"not {_expected(column)} ({header_ru(column)})"),
                    txt,
                )
            )
            if column.range:
                lo, hi = column.range
                if lo is not None:
                    rules.append(
                        Rule(
                            BELOW_MIN,
                            name,
                            f"{col} < {lo}",
                            _q(f"below the allowed minimum {_num(lo)} ({header_ru(column)})"),
                            txt,
                        )
                    )
                if hi is not None:
                    rules.append(
                        Rule(
                            ABOVE_MAX,
                            name,
                            f"{col} > {hi}",
                            _q(f"above the allowed maximum {_num(hi)} ({header_ru(column)})"),
                            txt,
                        )
                    )
        if contract.has_year:
            rules.append(
                Rule(
                    FUTURE_YEAR,
                    "year",
                    f"year > {self.ctx.max_year}",
                    _q(f"year in the future (after {self.ctx.max_year})"),
                    "cast(year as varchar)",
                )
            )
            if not contract.year.derive and not any(
                c.name == "year" and c.required for c in contract.columns
            ):
                rules.append(
                    Rule(
                        MISSING,
                        "year",
                        "year is null and t__year is null",
                        _q("year is missing: no «Год» value and none in the file name"),
                        "null",
                    )
                )
        for check in contract.checks:
            rules.append(
                Rule(
                    CHECK,
                    check.column,
                    f"not coalesce({check.expr}, true)",
                    _q(f"{check.reason} ({check.expr})"),
                    _ident("t__" + check.column),
                )
            )
        if contract.school_column and self.ctx.known_school_codes_table:
            col = _ident(contract.school_column)
            why = "unknown school code: not in the school registry nor in the code crosswalk" + (
                " (the registry raw.schools is empty: load «Реестр ОО» first)"
                if self.ctx.registry_empty
                else ""
            )
            rules.append(
                Rule(
                    UNKNOWN_SCHOOL,
                    contract.school_column,
                    f"{col} is not null and not ({col} in (select code from {self.ctx.known_school_codes_table}))",
                    _q(why),
                    _ident("t__" + contract.school_column),
                )
            )
        return rules

    def typed_sql(self, relation: str) -> str:
        broken = " or ".join(f"coalesce({r.condition}, false)" for r in self.rules())
        columns = ", ".join(_ident(c) for c in self.contract.table_columns)
        return (
            f"select _row_number, {columns}, _extra, "
            f"(_overflow is null and not ({broken}) and not ({self.not_data_sql()})) as _ok "
            f"from ({self._parsed_layer(relation)})"
        )

    def _text_columns(self) -> list[Column]:
        """Mapped columns whose values are free text: where a total row or a header can pass as data."""
        return [
            c
            for c in self.contract.columns
            if c.type in ("string", "code") and c.name in self.by_name
        ]

    def _header_need(self) -> int:
        return max(2, math.ceil(len(self.layout.mapping) / 2))

    def not_data_sql(self) -> str:
        """Main-pass test for rows that pass every column rule but are not data: a total row with
        «Итого» in a text column, or the header repeated in a source of text columns only. Every
        row it catches is also caught, with its reason, by :meth:`_row_flag`."""
        text = self._text_columns()
        # t__ values are trimmed: only a text starting with И/и/В/в/T/t can be a total (ascii() is the first code point)
        starts = ", ".join(str(ord(ch)) for ch in "ИиВвTt")
        tests = [
            f"(case when ascii({_ident('t__' + c.name)}) in ({starts}) "
            f"then coalesce(regexp_matches({_ident('t__' + c.name)}, {_q(TOTAL_ROW_PATTERN)}), false) else false end)"
            for c in text
        ]
        if len(text) >= self._header_need():
            hits = [
                f"coalesce({_ident('t__' + c.name)} = {_q(self.layout.headers[self.by_name[c.name]].strip())}, false)::int"
                for c in text
            ]
            tests.append(f"({' + '.join(hits)}) >= {self._header_need()}")
        return " or ".join(tests) or "false"

    def _row_flag(self) -> str:
        """SQL classifying a failing row that is not data at all (NULL for an ordinary bad row)."""
        cells = [f"c{i}" for i in range(self.layout.width)]
        header_hits = []
        for i in sorted(self.layout.mapping):
            header = self.layout.headers[i]
            same = f"{text_expr(f'c{i}')} = {_q(header.strip())} or {_normalise_sql(f'c{i}')} = {_q(normalise_label(header))}"
            header_hits.append(f"coalesce({same}, false)::int")
        required = [
            _ident("t__" + c.name)
            for c in self.contract.columns
            if c.required and c.name in self.by_name
        ]
        no_required = " and ".join(f"{r} is null" for r in required) if required else "false"
        filled = (
            f"len(list_filter([{', '.join(cells)}], lambda x: nullif(trim(x), '') is not null))"
        )
        return (
            f"case when {filled} = 0 then '{BLANK}' "
            f"when _overflow is not null then '{OVERFLOW}' "
            f"when {' + '.join(header_hits) or '0'} >= {self._header_need()} then '{REPEATED_HEADER}' "
            f"when _total_cell is not null then '{TOTAL_ROW}' "
            f"when {no_required} or {filled} = 1 then '{NOT_DATA}' end"
        )

    def row_reasons(self) -> list[tuple[str, str, str]]:
        """Reasons about a whole row: (flag, SQL of the value shown, reason text)."""
        required = ", ".join(
            header_ru(c) for c in self.contract.columns if c.required and c.name in self.by_name
        )
        delimiter = {";": "«;»", ",": "«,»", "\t": "tab"}.get(
            self.layout.delimiter or "", "the delimiter"
        )
        return [
            (BLANK, "null", "blank row"),
            (
                OVERFLOW,
                "cast(_overflow as varchar)",
                (
                    f"row has more cells than the {self.layout.width} columns of the header: a value probably "
                    f"contains the delimiter {delimiter} (e.g. a decimal comma in a comma-separated file); "
                    "not loaded, to avoid shifted columns"
                ),
            ),
            (
                REPEATED_HEADER,
                "null",
                "repeated header row (the header appears again inside the data)",
            ),
            (
                TOTAL_ROW,
                "_total_cell",
                "итоговая строка: a total row («Итого»/«Всего») is not data",
            ),
            (
                NOT_DATA,
                "_first_cell",
                (
                    "not a data row (a note, a heading or a signature): at most one cell is filled, "
                    f"or none of the required columns ({required})"
                ),
            ),
        ]

    def failure_sql(self, bad_relation: str) -> str:
        """One row per (row, column, reason) for the rows of ``bad_relation`` (the failing ones)."""
        cells = ", ".join(f"c{i}" for i in range(self.layout.width))
        cells_sql = (
            f"select *, list_filter([{cells}], lambda x: regexp_matches(x, {_q(TOTAL_ROW_PATTERN)}))[1] as _total_cell, "
            f"list_filter([{cells}], lambda x: nullif(trim(x), '') is not null)[1] as _first_cell "
            f"from ({self._parsed_layer(bad_relation, keep_cells=True)})"
        )
        flagged = f"select *, {self._row_flag()} as _flag from ({cells_sql})"
        parts = [
            f"select _row_number, '{ROW_LEVEL}', {value}, '{flag}', {_q(reason)} from flagged where _flag = '{flag}'"
            for flag, value, reason in self.row_reasons()
        ]
        parts += [
            f"select _row_number, {_q(rule.column)}, cast({rule.value} as varchar), {_q(rule.code)}, "
            f"{rule.reason} from flagged where _flag is null and coalesce({rule.condition}, false)"
            for rule in self.rules()
        ]
        columns = "_row_number, column_name, value, reason_code, reason"
        return f"with flagged as ({flagged}) select * from ({' union all '.join(parts)}) as f({columns})"

    def row_values_sql(self, relation: str) -> str:
        """The delivered row as JSON (canonical names and the file's other columns)."""
        pairs = [
            f"{_q(c.name)}: c{self.by_name[c.name]}"
            for c in self.contract.columns
            if c.name in self.by_name
        ]
        pairs += [f"{_q(k)}: c{i}" for i, k in self.extra_keys.items()]
        return f"select _row_number, to_json({{{', '.join(pairs)}}}) as row_values from {relation}"


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def validate(
    con: duckdb.DuckDBPyConnection,
    contract: Contract,
    staged: StagedFile,
    layout: FileLayout,
    ctx: ValidationContext,
    prefix: str,
) -> Validated:
    """Type and check a staged file; create ``<prefix>_typed`` and ``<prefix>_failures``."""
    validator = Validator(contract, layout, ctx, staged.plain_cells)
    validator.inspect(con, staged.relation)
    typed, failures = f"{prefix}_typed", f"{prefix}_failures"
    con.execute(f"create or replace temp table {typed} as {validator.typed_sql(staged.relation)}")
    bad_count = con.execute(f"select count(*) from {typed} where not _ok").fetchone()[0]
    if bad_count:
        bad = f"(select * from {staged.relation} where _row_number in (select _row_number from {typed} where not _ok))"
        con.execute(f"create or replace temp table {failures} as {validator.failure_sql(bad)}")
    else:
        con.execute(
            f"create or replace temp table {failures} (_row_number bigint, column_name varchar, value varchar, "
            "reason_code varchar, reason varchar)"
        )
    blank_by_part: Counter[int] = Counter()
    if bad_count:  # the blank rows' parts (the file of a batch), as they leave the failures
        blank_by_part.update(
            int(part)
            for (part,) in con.execute(
                f"delete from {failures} where reason_code = '{BLANK}' "
                f"returning _row_number // {PART}"
            ).fetchall()
        )
    blank = sum(blank_by_part.values())
    if blank:  # empty rows are not data: not read, not loaded, not quarantined
        con.execute(
            f"delete from {typed} where _row_number not in (select _row_number from {failures}) and not _ok"
        )
    repeated = _duplicates(con, contract, typed, failures)
    return Validated(
        typed,
        failures,
        staged.rows_read - blank,
        [typed, failures],
        validator.extra_keys,
        has_failures=bool(bad_count) or repeated,
        blank_by_part=dict(blank_by_part),
        value_maps_complete=all(d is not None for d in validator.distinct.values()),
    )


def _duplicates(
    con: duckdb.DuckDBPyConnection, contract: Contract, typed: str, failures: str
) -> bool:
    """Rows of the file with the same key (grain): an exact copy of an earlier row is quarantined;
    rows that share a key but differ are all quarantined (which one is right is not ours to guess).
    Returns whether any key is held twice (hashes: a collision only adds a candidate)."""
    grain = ", ".join(_ident(g) for g in contract.grain)
    grain = f"_row_number // {PART}, {grain}"  # duplicates are within a file of a batch
    # one hash per key first (cheaper to group than the key columns); a hash collision only
    # adds a candidate that the exact window below then clears. Counted first: most files have
    # none, and then no table is made
    repeated = (
        f"(select hash({grain}) as _h from {typed} where _ok) group by _h having count(*) > 1"
    )
    if not con.execute(f"select count(*) from (select _h from {repeated})").fetchone()[0]:
        return False
    candidates = f"{typed}_dupkeys"
    con.execute(f"create or replace temp table {candidates} as select _h from {repeated}")
    try:
        _insert_duplicates(con, contract, typed, failures, candidates)
    finally:
        con.execute(f"drop table if exists {candidates}")
    return True


def _insert_duplicates(
    con: duckdb.DuckDBPyConnection, contract: Contract, typed: str, failures: str, candidates: str
) -> None:
    grain = f"_row_number // {PART}, " + ", ".join(_ident(g) for g in contract.grain)
    values = ", ".join(_ident(c) for c in contract.table_columns)
    key_label = ", ".join(contract.grain)
    con.execute(
        f"""
        insert into {failures}
        with rows as (
            select _row_number, {grain}, row({values}) as _all,
                   count(*) over (partition by {grain}) as _n
            from {typed} where _ok and hash({grain}) in (select _h from {candidates})
        ), dups as (
            select *, min(_row_number) over (partition by {grain}) as _first,
                   count(distinct _all) over (partition by {grain}) as _variants,
                   string_agg((_row_number % {PART})::varchar, ', ' order by _row_number)
                       over (partition by {grain}) as _rows
            from rows where _n > 1
        )
        select _row_number, {_q(contract.grain[-1])}, cast({_ident(contract.grain[-1])} as varchar),
               case when _variants = 1 then '{DUPLICATE_ROW}' else '{DUPLICATE_KEY}' end,
               case when _variants = 1 then 'duplicate row: the same values as row ' || (_first % {PART})
                    else 'duplicate key ({key_label}) with different values in rows ' || _rows
                         || ': none of them is loaded, correct the file and resend' end
        from dups
        where _variants > 1 or _row_number <> _first
        """
    )
