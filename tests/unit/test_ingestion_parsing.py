"""Readers and value parsing in isolation: header spellings, encodings, row numbers on both
CSV paths, spreadsheet offsets, and how each contract type reads the texts regions write."""

from __future__ import annotations

import codecs
import datetime as dt
import math
from pathlib import Path

import duckdb
import openpyxl
import pytest

from ingestion import readers
from ingestion.contract import Column, get_contract, normalise_label
from ingestion.validate import parse_expr, text_expr

# --------------------------------------------------------------------------- labels and headers


@pytest.mark.parametrize(
    ("label", "expected"),
    [
        ("  КОД\nОО ", "код оо"),  # case, a line break inside the cell (Alt+Enter), spaces
        ("Код OO", "код оо"),  # Latin O typed in a Cyrillic header
        ("Состоят на учёте:", "состоят на учете"),  # ё/е, trailing colon
        ("Отметка «2»", "отметка 2"),  # quotes
        ("Отметка (2–5)", "отметка (2-5)"),  # en dash
        ("Код\u00a0ОО", "код оо"),  # no-break space
        ("\ufeffГод", "год"),  # a BOM stuck to the first header
        ("school_id", "school_id"),  # canonical names are not folded
    ],
)
def test_normalise_label(label: str, expected: str) -> None:
    assert normalise_label(label) == expected


def test_two_row_header_under_a_merged_group_title() -> None:
    contract = get_contract("vpr_school_stats")
    rows = [
        ["Статистика ВПР", None, None, None, None, None, None, None, None],
        [
            "Год",
            "Код ОО",
            "Класс",
            "Предмет",
            "Количество участников",
            "Количество отметок",
            None,
            None,
            None,
        ],
        [None, None, None, None, None, "«2»", "«3»", "«4»", "«5»"],
        [2024, "sch001", 4, "Математика", 20, 2, 8, 7, 3],
    ]
    match = readers.best_header(rows, contract)
    assert match is not None and match.complete
    assert (match.row_index, match.header_rows) == (2, 2)
    assert match.mapping == {
        0: "year",
        1: "school_id",
        2: "grade",
        3: "subject",
        4: "participants",
        5: "mark_2",
        6: "mark_3",
        7: "mark_4",
        8: "mark_5",
    }


def test_a_data_row_of_marks_is_not_taken_for_a_header() -> None:
    contract = get_contract("vpr_school_stats")
    rows = [
        ["Год", "Код ОО", "Класс", "Предмет", "Участников", "2", "3", "4", "5"],
        [2024, "sch001", 4, "Математика", 14, 2, 3, 4, 5],
    ]
    match = readers.best_header(rows, contract)
    assert (match.row_index, match.header_rows, match.score) == (0, 1, 9)


# --------------------------------------------------------------------------- encodings


def test_detect_encoding(tmp_path: Path) -> None:
    text = "Год;Код ОО\n2024;школа\n"
    assert readers.detect_encoding(text.encode("utf-8")) == "utf-8"
    assert readers.detect_encoding(codecs.BOM_UTF8 + text.encode("utf-8")) == "utf-8-sig"
    assert readers.detect_encoding(text.encode("utf-16")) == "utf-16"
    assert readers.detect_encoding(text.encode("cp1251")) == "cp1251"
    # a UTF-8 character cut by the end of the sniffed block is still UTF-8
    assert readers.detect_encoding(text.encode("utf-8")[:-9]) == "utf-8"


def test_cp1251_after_a_long_ascii_head(tmp_path: Path) -> None:
    path = tmp_path / "late.csv"
    ascii_part = b"2024;sch001;4;P;10\n" * 20_000  # 380 KB: more than the sniffed head
    path.write_bytes(ascii_part + "2024;sch001;4;Математика;10\n".encode("cp1251"))
    head = path.read_bytes()[: readers.SNIFF_BYTES]
    assert head.isascii()
    assert readers.detect_encoding(head, path) == "cp1251"


def test_mixed_encodings_are_recognised() -> None:
    utf8 = "Год;Код ОО;Класс;Предмет\n2024;МБОУ СОШ;4;Математика\n".encode()
    assert readers.mixes_utf8(utf8 + "Русский язык\n".encode("cp1251"))
    assert not readers.mixes_utf8(
        "Год;Код ОО;Класс;Предмет;Русский язык «СОШ»\n".encode("cp1251") * 50
    )


# --------------------------------------------------------------------------- CSV row numbers


def _staged(con: duckdb.DuckDBPyConnection, staged: readers.StagedFile) -> list[tuple]:
    return con.execute(f"select * from {staged.relation} order by _row_number").fetchall()


def test_both_csv_paths_give_the_same_rows(tmp_path: Path) -> None:
    contract = get_contract("vpr_results")
    lines = ["Отчёт;;", "Год;Код ОО;Класс;Предмет;Код участника"] + [
        f"2024;sch{i:03d};4;Математика;P{i}" for i in range(50)
    ]
    path = tmp_path / "clean.csv"
    path.write_bytes("\r\n".join(lines).encode("cp1251"))  # no newline at the end
    _, layout = readers.sniff(path, [contract])
    con = duckdb.connect()
    fast = readers._stage_csv_duckdb(con, path, layout, "fast")
    exact = readers._stage_csv_python(con, path, layout, "exact")
    assert fast is not None and fast.method == "duckdb" and exact.method == "python"
    assert _staged(con, fast) == _staged(con, exact)
    assert _staged(con, fast)[0] == (3, None, "2024", "sch000", "4", "Математика", "P0")
    assert fast.rows_read == exact.rows_read == 50


def test_line_breaks_in_cells_and_blank_lines_take_the_exact_path(tmp_path: Path) -> None:
    contract = get_contract("vpr_results")
    text = (
        '"Отчёт\nпо ВПР"\n'  # rows 1 (two lines)
        "Год;Код ОО;Класс;Предмет;Код участника;Примечание\n"  # row 2
        '2024;sch001;4;Математика;P1;"a\nb\nc"\n'  # row 3 (three lines)
        "\n"  # row 4: blank
        "2024;sch001;4;Математика;P2;\n"  # row 5
        "\n\n"  # trailing blank lines
    )
    path = tmp_path / "breaks.csv"
    path.write_text(text, encoding="utf-8")
    _, layout = readers.sniff(path, [contract])
    assert (layout.header_row, layout.header_lines) == (2, 3)
    con = duckdb.connect()
    assert readers._stage_csv_duckdb(con, path, layout, "fast") is None
    staged = readers.stage(con, path, layout, "t")
    assert staged.method == "python"
    assert [(r[0], r[6], r[7]) for r in _staged(con, staged)] == [
        (3, "P1", "a\nb\nc"),
        (5, "P2", None),
    ]


def test_trailing_blank_lines_keep_the_fast_path(tmp_path: Path) -> None:
    contract = get_contract("vpr_results")
    path = tmp_path / "tail.csv"
    path.write_text(
        "Год;Код ОО;Класс;Предмет;Код участника\n2024;sch001;4;М;P1\n\n\n", encoding="utf-8"
    )
    _, layout = readers.sniff(path, [contract])
    staged = readers.stage(duckdb.connect(), path, layout, "t")
    assert (staged.method, staged.rows_read) == ("duckdb", 1)


def test_old_mac_line_endings(tmp_path: Path) -> None:
    contract = get_contract("vpr_results")
    path = tmp_path / "mac.csv"
    path.write_bytes(
        "Год;Код ОО;Класс;Предмет;Код участника\r2024;sch001;4;М;P1\r2024;sch001;4;М;P2\r".encode()
    )
    _, layout = readers.sniff(path, [contract])
    con = duckdb.connect()
    staged = readers.stage(con, path, layout, "t")
    assert [(r[0], r[6]) for r in _staged(con, staged)] == [(2, "P1"), (3, "P2")]


# --------------------------------------------------------------------------- XLSX row numbers


def test_xlsx_rows_are_numbered_from_row_1_when_the_table_starts_lower(tmp_path: Path) -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws["C3"] = "Результаты ВПР"  # the used area starts at C3
    for col, label in zip("CDEFG", ["Год", "Код ОО", "Класс", "Предмет", "Код участника"]):
        ws[f"{col}5"] = label
    for col, value in zip("CDEFG", [2024, "sch001", 4, "Математика", "P1"]):
        ws[f"{col}6"] = value
    for col, value in zip("CDEFG", [2024, "sch001", 4, "Математика", "P2"]):
        ws[f"{col}8"] = value
    path = tmp_path / "offset.xlsx"
    wb.save(path)
    _, layout = readers.sniff(path, [get_contract("vpr_results")])
    assert (layout.header_row, layout.sheet) == (5, "Sheet")
    con = duckdb.connect()
    staged = readers.stage(con, path, layout, "t")
    rows = _staged(con, staged)
    assert [(r[0], r[2 + 2], r[2 + 6]) for r in rows] == [(6, "2024", "P1"), (8, "2024", "P2")]


def test_a_hidden_template_sheet_does_not_make_a_workbook_ambiguous(tmp_path: Path) -> None:
    wb = openpyxl.Workbook()
    data = wb.active
    data.title = "Данные"
    template = wb.create_sheet("Шаблон")
    for ws in (data, template):
        ws.append(["Год", "Код ОО", "Класс", "Предмет", "Код участника"])
    data.append([2024, "sch001", 4, "Математика", "P1"])
    template.sheet_state = "hidden"
    path = tmp_path / "template.xlsx"
    wb.save(path)
    _, layout = readers.sniff(path, [get_contract("vpr_results")])
    assert layout.sheet == "Данные"


# --------------------------------------------------------------------------- values


def _parse(column: Column, texts: list[str | None], distinct: bool = False) -> list[object]:
    con = duckdb.connect()
    con.execute("create table v (i integer, raw varchar)")
    con.executemany("insert into v values (?, ?)", list(enumerate(texts)))
    found = [t for t in dict.fromkeys(texts) if t is not None] if distinct else None
    expr = parse_expr(column, "t", found, "raw")
    return [
        r[0]
        for r in con.execute(
            f"select {expr} from (select i, raw, {text_expr('raw')} as t from v) order by i"
        ).fetchall()
    ]


def _column(type_: str, **kwargs) -> Column:
    return Column(name="x", type=type_, aliases=(), **kwargs)


def test_numbers() -> None:
    texts = [
        "12,5",
        "12.5",
        "1 234,5",
        "1\u00a0234,5",
        "1\u202f234",
        " 7 ",
        "1.234,5",
        "1,234.5",
        "abc",
        "1e3",
        None,
    ]
    assert _parse(_column("number"), texts) == [
        12.5,
        12.5,
        1234.5,
        1234.5,
        1234.0,
        7.0,
        None,
        None,
        None,
        1000.0,
        None,
    ]


def test_integers_are_whole_numbers_only() -> None:
    texts = ["5", "5,0", "12.0", "1 034", "-3", "5.5", "5,5", "0x10", "пять"]
    assert _parse(_column("integer"), texts) == [5, 5, 12, 1034, -3, None, None, None, None]


def test_percentages() -> None:
    texts = ["12,5%", "12,5 %", "12.5", "0.125", "100%", "0,5", "abc"]
    values = _parse(_column("percent"), texts)
    expected = [0.125, 0.125, 0.125, 0.125, 1.0, 0.5, None]
    assert all(
        (v is None and e is None) or math.isclose(v, e)
        for v, e in zip(values, expected, strict=True)
    )


@pytest.mark.parametrize("distinct", [True, False], ids=["mapped-in-python", "sql-fallback"])
def test_booleans(distinct: bool) -> None:
    texts = [
        "да",
        "Нет",
        "ДА ",
        "+",
        "−",
        "-",
        "1",
        "0",
        "true",
        "FALSE",
        "Есть",
        "отсутствует",
        "может быть",
        None,
    ]
    expected = [
        True,
        False,
        True,
        True,
        False,
        False,
        True,
        False,
        True,
        False,
        True,
        False,
        None,
        None,
    ]
    assert _parse(_column("boolean"), texts, distinct) == expected


def test_enums_with_a_default() -> None:
    wave = get_contract("gia_results").column("wave")
    texts = ["Основной период", "резервные дни", "ПЕРЕСДАЧА", None, "летний"]
    assert _parse(wave, texts, distinct=True) == ["main", "reserve", "additional", "main", None]


def test_codes() -> None:
    assert _parse(_column("code"), [" sch 001 ", "123456.0", "R-0001", "12.05"]) == [
        "sch001",
        "123456",
        "R-0001",
        "12.05",
    ]


def test_strings_count_a_run_of_inner_spaces_as_one() -> None:
    texts = ["Русский  язык", "Математика   (профильная)", "Математика", "a b", None]
    assert _parse(_column("string"), texts) == [
        "Русский язык",
        "Математика (профильная)",
        "Математика",
        "a b",
        None,
    ]


def test_dates() -> None:
    texts = [
        "2023-09-01",
        "01.09.2023",
        "01/09/2023",
        "45170",
        "2023-09-01T00:00:00",
        "31.02.2023",
        "сентябрь",
        "01.09.2023 0:00",  # Russian Excel's date-time in a CSV
        "01.09.2023 00:00:00",
    ]
    sept_1 = dt.date(2023, 9, 1)
    assert _parse(_column("date"), texts) == [sept_1] * 5 + [None, None, sept_1, sept_1]


def test_academic_years() -> None:
    texts = [
        "2022/2023",
        "2022-2023",
        "2022–2023",
        "2022/23",
        "2022 / 2023 уч. г.",
        "2022/2024",
        "2023",
    ]
    assert _parse(_column("academic_year"), texts) == [
        "2022/2023",
        "2022/2023",
        "2022/2023",
        "2022/2023",
        "2022/2023",
        None,
        None,
    ]


def test_a_large_utf8_file_with_a_windows_1251_tail_is_rejected_with_the_line(
    tmp_path: Path,
) -> None:
    from ingestion.errors import EncodingError

    contract = get_contract("vpr_results")
    path = tmp_path / "big.csv"
    head = "Год;Код ОО;Класс;Предмет;Код участника\n" + "2024;sch001;4;Математика;P1\n" * 20_000
    path.write_bytes(head.encode() + "2024;sch001;4;Математика;P2\n".encode("cp1251"))
    _, layout = readers.sniff(path, [contract])
    assert layout.encoding == "utf-8"  # the head is valid UTF-8
    with pytest.raises(EncodingError) as error:
        readers.stage(duckdb.connect(), path, layout, "t")
    offset = len(head.encode()) + len(b"2024;sch001;4;")
    assert error.value.message == (
        f"byte {offset} (line 20002) is not valid utf-8: the file mixes encodings; "
        "save it again as UTF-8 or Windows-1251"
    )


def test_a_utf16_file_cut_in_the_middle_of_a_character(tmp_path: Path) -> None:
    from ingestion.errors import EncodingError

    contract = get_contract("vpr_results")
    path = tmp_path / "cut.txt"
    text = "Год\tКод ОО\tКласс\tПредмет\tКод участника\n2024\tsch001\t4\tМатематика\tP1\n"
    path.write_bytes(text.encode("utf-16")[:-1])
    with pytest.raises(EncodingError) as error:
        readers.sniff(path, [contract])
    assert error.value.message == "the text is not valid utf-16 (truncated data at byte 134)"


def test_compact_number_parsing_equals_the_rule_spelled_out() -> None:
    """The integer and number parsers are written compactly (one translate, the number once) so that
    a file's SQL plans fast; on 100,000 random texts of digits, separators and letters they give
    what the rule spelled out step by step gives (each separator replaced on its own, the number
    written three times)."""
    import random

    from ingestion.validate import _integer, _number

    def spelled_text(t: str) -> str:
        return (
            f"replace(replace(replace(replace({t}, ' ', ''), chr(8239), ''), '''', ''), ',', '.')"
        )

    def spelled_integer(t: str) -> str:
        plain = (
            f"not contains({t}, '.') and not contains({t}, ',') and not contains(lower({t}), 'x')"
        )
        num = f"try_cast({spelled_text(t)} as double)"
        whole = (
            f"case when {num} = floor({num}) and abs({num}) < 1e15 then cast({num} as bigint) end"
        )
        return f"coalesce(case when {plain} then try_cast({t} as bigint) end, {whole})"

    def spelled_number(t: str) -> str:
        first = f"try_cast(replace({t}, ',', '.') as double)"
        return f"coalesce({first}, try_cast({spelled_text(t)} as double))"

    rng = random.Random(7)
    parts = [
        *"0123456789" * 3,
        ",",
        ".",
        " ",
        "\u202f",
        "'",
        "-",
        "+",
        "e",
        "x",
        "a",
        "inf",
        "1e15",
    ]
    texts = ["".join(rng.choice(parts) for _ in range(rng.randint(0, 8))) for _ in range(100_000)]
    texts += [None, "", "5,0", "5,5", "1 234", "1\u202f234", "1'234", "1e3", "1e20", "-0", "12."]
    con = duckdb.connect()
    con.execute("create table t (t varchar)")
    con.execute("insert into t select unnest(?)", [texts])
    differ = con.execute(
        f"select t, {_integer('t')}, {spelled_integer('t')}, {_number('t')}, {spelled_number('t')} "
        f"from t where ({_integer('t')}) is distinct from ({spelled_integer('t')}) "
        f"or ({_number('t')}) is distinct from ({spelled_number('t')}) limit 5"
    ).fetchall()
    assert differ == []
    assert con.execute(f"select {_integer('t')} from (select '1 234,0' as t)").fetchone() == (1234,)


# --------------------------------------------------------------------------- plain cells


def _needs_trimming(con: duckdb.DuckDBPyConnection, path: Path, delimiter: str) -> bool:
    """Whether any cell DuckDB reads from ``path`` differs from its trimmed text (text_expr)."""
    rows = con.execute(
        "select * from read_csv(?, delim = ?, header = false, quote = '\"', escape = '\"', "
        "all_varchar = true, auto_detect = false, null_padding = true, strict_mode = false, "
        "columns = {'c0': 'VARCHAR', 'c1': 'VARCHAR', 'c2': 'VARCHAR', 'c3': 'VARCHAR'})",
        [str(path), delimiter],
    ).fetchall()
    return any(
        cell is not None and (cell.startswith(" ") or cell.endswith(" ") or "\u00a0" in cell)
        for row in rows
        for cell in row
    )


def test_cell_edges_never_call_a_file_plain_that_has_a_cell_to_trim(tmp_path: Path) -> None:
    """Validation skips the trimming of every cell when CellEdges saw no space at a cell's edge
    and no no-break space. On 600 random CSV texts (spaces inside and around cells, quoted cells
    with the delimiter or a quote inside, no-break spaces, Cyrillic, CRLF or LF, a space at the
    very start or end) fed in random chunk sizes: whenever it calls a text plain, no cell DuckDB
    reads from it starts or ends with a space or holds a no-break space; the chunking never
    changes its answer, nor does reading the Windows-1251 bytes instead of the UTF-8 ones; and it
    calls most texts without such cells plain (it is of use)."""
    import random

    from ingestion.readers import CellEdges

    rng = random.Random(11)
    pieces = ["7", "12,5", "Русский язык", "sch0001", "P 01", "а", " ", "\u00a0", "x y", "Итого"]
    con = duckdb.connect()
    plain_without_cells = total_without_cells = 0
    for case in range(600):
        delimiter = rng.choice([";", ",", "\t"])
        newline = rng.choice(["\n", "\r\n"])
        lines = []
        for _ in range(rng.randint(1, 6)):
            cells = []
            for _ in range(rng.randint(1, 4)):
                text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 3)))
                if rng.random() < 0.2:  # quoted, maybe holding the delimiter or a quote
                    inner = text + rng.choice(["", delimiter, '""', " " + delimiter + " "])
                    text = '"' + inner + '"'
                cells.append(text)
            lines.append(delimiter.join(cells))
        text = newline.join(lines) + rng.choice(["", newline, " "])
        data = text.encode("utf-8")
        path = tmp_path / f"case{case}.csv"
        path.write_bytes(data)
        answers = set()
        for windows_1251, raw in ((False, data), (True, text.encode("cp1251"))):
            whole = CellEdges(delimiter, windows_1251)
            whole.feed(raw)
            chunked, at = CellEdges(delimiter, windows_1251), 0
            while at < len(raw):
                step = rng.randint(1, 7)
                chunked.feed(raw[at : at + step])
                at += step
            answers |= {whole.plain(), chunked.plain()}
        assert len(answers) == 1, text  # the same in either encoding and any chunking
        try:
            trim = _needs_trimming(con, path, delimiter)
        except duckdb.Error:
            continue  # a text DuckDB refuses goes to the exact reader (plain_cells False)
        if whole.plain():
            assert not trim, text
        if not trim:
            total_without_cells += 1
            plain_without_cells += whole.plain()
    assert total_without_cells > 50
    assert plain_without_cells / total_without_cells > 0.3, (
        plain_without_cells,
        total_without_cells,
    )


def test_plain_cells_give_the_table_the_trimming_gives(tmp_path: Path) -> None:
    """Files as regions send them — Windows-1251, UTF-8 with a BOM, UTF-16 (scanned as the UTF-8
    it is transcoded to) — are staged as plain when no cell is padded, and not plain with one
    padded cell or one no-break space; either way the rows typed with the flag are the rows typed
    with the trimming of every cell (empty cells and a title line above the header included)."""
    from ingestion.validate import ValidationContext, Validator

    contract = get_contract("vpr_results")
    title = "ВПР 2024, результаты участников"  # a title line above the header
    header = "Год;Код ОО;Класс;Предмет;Код участника;Первичный балл;Отметка;Статус"
    rows = [
        f"2024;sch0001;4;Русский язык;P{i:04d};{i % 20},5;{2 + i % 4};явка" for i in range(48)
    ] + ["2024;sch0001;4;Русский язык;P0048;;;неявка", "2024;sch0001;4;Математика;P0049;7;3;"]
    padded = [*rows[:-1], rows[-1].replace(";Математика;", "; Математика;")]
    nbsp = [*rows[:-1], rows[-1].replace(";Математика;", ";Математика\u00a0;")]
    cases = []
    for encoding in ("cp1251", "utf-8-sig", "utf-16"):
        for label, body, plain in (
            ("clean", rows, True),
            ("padded", padded, False),
            ("nbsp", nbsp, False),
        ):
            path = tmp_path / f"{label}_{encoding}" / "vpr_results_2024.csv"
            path.parent.mkdir()
            path.write_text("\r\n".join([title, header, *body]) + "\r\n", encoding=encoding)
            cases.append((path, plain))
    con = duckdb.connect()
    for n, (path, expected) in enumerate(cases):
        _, layout = readers.sniff(path, [contract])
        staged = readers.stage(con, path, layout, f"_s_{n}")
        assert staged.method == "duckdb" and staged.plain_cells is expected, path
        ctx = ValidationContext(max_year=2025)
        typed = [
            con.execute(
                Validator(contract, layout, ctx, plain_cells=flag).typed_sql(staged.relation)
                + " order by _row_number"
            ).fetchall()
            for flag in (True, False)
        ]
        if expected:  # the flag's rows are the trimming's
            assert typed[0] == typed[1] and len(typed[0]) == 50, path
            assert all(row[-1] for row in typed[0])  # every row valid
            assert typed[0][48][6:9] == (None, None, "absent")  # empty cells are NULL
        else:  # (what the flag would get wrong if it were set: the padded or spaced mark)
            assert typed[0] != typed[1], path
            assert all(row[-1] for row in typed[1])


@pytest.mark.parametrize(
    ("name", "year"),
    [
        ("schools_2024.xlsx", 2024),
        # a letter's date in the name is not the file's year (it gave 2025)
        ("Реестр ОО 2024 (письмо от 15.01.2025).xlsx", 2024),
        ("Социальный паспорт 2023, выгрузка 2024-02-01.csv", 2023),
        ("Реестр ОО 2024 (на 01-09-2025).csv", 2024),
        # a date's year when the name has no other
        ("Реестр на 01.09.2024.xlsx", 2024),
        ("schools_2023-2024.xlsx", 2024),
        ("000012_resource_survey_2023.csv", 2023),
        ("реестр.xlsx", None),
    ],
)
def test_the_year_of_a_file_name(name: str, year: int | None) -> None:
    from ingestion.loader import year_from_filename

    assert year_from_filename(Path(name)) == year


def test_a_zip_archive_is_not_called_a_damaged_workbook(tmp_path: Path) -> None:
    import zipfile

    from ingestion import readers
    from ingestion.errors import UnreadableFileError
    from tests.fixtures.ingestion.harness import CORPUS

    archive = tmp_path / "ВПР_2024.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("resource_survey/resource_survey_2024.csv", "Год;Код ОО\n2024;sch001\n")
    with pytest.raises(UnreadableFileError, match="a ZIP archive of 1 file.*resource_survey_2024"):
        readers.check_archive(archive)
    readers.check_archive(CORPUS / "vpr_school_stats_2024.xlsx")  # a workbook is one too
