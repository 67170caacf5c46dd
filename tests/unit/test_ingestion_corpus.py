"""The corpus of real-looking bad files (tests/fixtures/ingestion/): for each file, exactly which
rows load, which are quarantined with which reason, and which files are rejected with which
message. Row numbers are the rows a person sees when opening the file in Excel. The expected
values are written out from the files themselves (see the comments in make_fixtures.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fixtures.ingestion.harness import Region, open_region


@pytest.fixture()
def region(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Region]:
    yield from open_region(tmp_path, monkeypatch)


def test_cp1251_csv_with_title_block_line_breaks_total_and_signature(region: Region) -> None:
    region.deliver("ВПР_2024_участники_Кировский.csv")
    f = region.run().outcome("ВПР_2024_участники_Кировский.csv")
    assert (f.source, f.status) == ("vpr_results", "loaded")
    assert (f.rows_read, f.rows_loaded, f.rows_quarantined) == (11, 4, 7)
    # row 6 holds a quoted line break; row 7 is a blank line; rows 3 and 16 are empty cells
    assert region.loaded_rows(f) == [5, 6, 8, 13]
    assert region.quarantined(f) == [
        (9, "mark", "6", "above_max"),
        (10, "school_id", "sch999", "unknown_school"),
        (11, "primary_score", "-1", "below_min"),
        (12, "year", "2026", "future_year"),
        (14, "participant_code", "P008", "duplicate_row"),
        (15, "*", "Итого", "total_row"),
        (17, "*", "Исполнитель: Петрова А. А.", "not_data"),
    ]
    reasons = region.reasons(f)
    assert reasons[(15, "*")].startswith("итоговая строка")
    assert reasons[(14, "participant_code")] == "duplicate row: the same values as row 13"
    assert reasons[(9, "mark")] == "above the allowed maximum 5 («Отметка»)"
    rows = region.query(
        "select _row_number, year, school_id, grade, subject, participant_code, primary_score, mark, status, "
        "_extra->>'Примечание' from raw.vpr_results where _file_id = ? order by 1",
        [f.file_id],
    )
    assert rows == [
        (5, 2024, "sch001", 4, "Математика", "P001", 12.5, 5, "present", None),
        (
            6,
            2024,
            "sch001",
            4,
            "Математика",
            "P002",
            7.0,
            3,
            "present",
            "переведён\r\nиз другой школы",
        ),  # CRLF file
        (8, 2024, "sch002", 4, "Математика", "P003", None, None, "absent", None),
        (13, 2024, "sch003", 4, "Математика", "P008", 10.0, 4, "present", None),
    ]
    layout = region.query("select layout from raw._load_log where file_id = ?", [f.file_id])[0][0]
    assert '"encoding":"cp1251"' in layout.replace(" ", "") and '"header_row":4' in layout.replace(
        " ", ""
    )


def test_utf8_bom_comma_separated_with_an_unquoted_decimal_comma(region: Region) -> None:
    region.deliver("vpr_results_4kl_rus.csv")
    f = region.run().outcome("vpr_results_4kl_rus.csv")
    assert (f.rows_read, f.rows_loaded, f.rows_quarantined) == (5, 4, 1)
    assert region.loaded_rows(f) == [2, 3, 5, 6]
    assert region.quarantined(f) == [(4, "*", "9", "overflow")]
    assert "delimiter «,»" in region.reasons(f)[(4, "*")]
    assert region.query(
        "select participant_code, primary_score, mark, status from raw.vpr_results where _file_id = ? order by 1",
        [f.file_id],
    ) == [
        ("P101", 12.5, 4, "present"),
        ("P102", 12.5, 4, "present"),
        ("P104", 15.0, 3, "present"),
        ("P105", None, None, "absent"),
    ]


def test_utf16_tab_separated_unicode_text_export(region: Region) -> None:
    region.deliver("vpr_results_unicode.txt")
    f = region.run().outcome("vpr_results_unicode.txt")
    assert (f.status, f.rows_read, f.rows_loaded, f.rows_quarantined) == ("loaded", 2, 2, 0)
    assert region.query(
        "select _row_number, school_id, subject, mark from raw.vpr_results where _file_id = ? order by 1",
        [f.file_id],
    ) == [(2, "sch004", "История", 4), (3, "sch004", "История", 2)]


def test_xlsx_second_sheet_merged_title_two_row_header_merged_codes_and_total(
    region: Region,
) -> None:
    region.deliver("vpr_school_stats_2024.xlsx")
    f = region.run().outcome("vpr_school_stats_2024.xlsx")
    assert (f.source, f.rows_read, f.rows_loaded, f.rows_quarantined) == (
        "vpr_school_stats",
        5,
        3,
        2,
    )
    assert region.query(
        "select _row_number, school_id, grade, subject, participants, mark_2, mark_3, mark_4, mark_5 "
        "from raw.vpr_school_stats where _file_id = ? order by 1",
        [f.file_id],
    ) == [
        (6, "sch001", 4, "Математика", 20, 2, 8, 7, 3),
        (7, "sch001", 4, "Русский язык", 20, 1, 9, 6, 4),  # code merged down from row 6
        (9, "sch003", 5, "Математика", 12, 0, 4, 5, 3),
    ]
    assert region.quarantined(f) == [
        (8, "participants", "15", "check"),
        (11, "*", "Итого", "total_row"),
    ]
    layout = region.query(
        "select layout->>'sheet', layout->>'header_rows' from raw._load_log where file_id = ?",
        [f.file_id],
    )
    assert layout == [("Данные", "2")]


def test_xlsx_unusual_header_spellings_text_counts_and_duplicates(region: Region) -> None:
    region.deliver("Социальный паспорт 2024.xlsx")
    f = region.run().outcome("Социальный паспорт 2024.xlsx")
    assert (f.source, f.rows_read, f.rows_loaded, f.rows_quarantined) == (
        "social_passport",
        10,
        3,
        7,
    )
    assert region.query(
        "select _row_number, school_id, students_total, prevention_register, _extra->>'Примечание' "
        "from raw.social_passport where _file_id = ? order by 1",
        [f.file_id],
    ) == [
        (4, "sch001", 500, 3, None),
        (5, "sch002", 1034, 5, "данные уточнены"),
        (8, "sch005", 200, 2, None),
    ]
    assert region.quarantined(f) == [
        (6, "low_income", "150", "check"),
        (7, "disabilities", "-3", "below_min"),
        (9, "school_id", "sch005", "duplicate_row"),
        (10, "school_id", "sch006", "duplicate_key"),
        (11, "school_id", "sch006", "duplicate_key"),
        (12, "school_id", "sch777", "unknown_school"),
        (13, "*", "Всего по району", "total_row"),
    ]
    assert "rows 10, 11: none of them is loaded" in region.reasons(f)[(10, "school_id")]


def test_booleans_enums_and_decimal_separators(region: Region) -> None:
    region.deliver("resource_survey_2024.csv")
    f = region.run().outcome("resource_survey_2024.csv")
    assert (f.rows_read, f.rows_loaded, f.rows_quarantined) == (5, 2, 3)
    assert region.query(
        "select school_id, avg_teacher_load, has_psychologist, has_speech_therapist, broadband_ok, "
        "building_condition, has_tochka_rosta, has_cos from raw.resource_survey where _file_id = ? order by 1",
        [f.file_id],
    ) == [
        ("sch001", 1.25, True, False, True, "normal", True, False),
        ("sch002", 1.5, True, False, False, "needs_capital_repair", True, False),
    ]
    assert region.quarantined(f) == [
        (4, "teachers_retirement_age", "30", "check"),
        (5, "has_psychologist", "может быть", "invalid"),
        (6, "avg_teacher_load", "1 234,5", "above_max"),
        (6, "building_condition", "отличное", "invalid"),
    ]
    assert region.reasons(f)[(6, "building_condition")] == (
        "not one of: «норма», «требует капремонта», «аварийное» («Состояние здания»)"
    )


def test_school_codes_of_another_system_are_known_through_the_crosswalk(region: Region) -> None:
    region.deliver("gia_results_2024.csv")
    f = region.run().outcome("gia_results_2024.csv")
    assert region.loaded_rows(f) == [2, 4]
    assert region.quarantined(f) == [(3, "school_id", "R-9999", "unknown_school")]
    assert region.query(
        "select school_id, exam, category, wave, test_score, mark, status from raw.gia_results order by 1"
    ) == [
        ("R-0001", "EGE", "current_year_graduate", "main", 75.0, None, "present"),
        ("sch002", "OGE", "current_year_graduate", "reserve", None, 3, "present"),
    ]


def test_dates_as_excel_dates_and_as_text(region: Region) -> None:
    region.deliver("school_successors.xlsx")
    f = region.run().outcome("school_successors.xlsx")
    assert region.query(
        "select _row_number, old_school_id, new_school_id, effective_date::varchar from raw.school_successors "
        "order by 1"
    ) == [(2, "sch905", "sch001", "2023-09-01"), (3, "sch906", "sch002", "2022-09-01")]
    assert region.quarantined(f) == [(4, "effective_date", "31.02.2023", "invalid")]


def test_registry_booleans_and_file_name_year(region: Region) -> None:
    assert region.query(
        "select school_id, year, locality, is_small, has_grade_9, has_grade_11, enrolment from raw.schools "
        "where school_id in ('sch002', 'sch006') order by 1"
    ) == [
        ("sch002", 2024, "urban", False, True, True, 1034),
        ("sch006", 2024, "rural", True, False, False, 18),
    ]


REJECTED = [
    # (file, folder it arrives in, source recognised, the message after «<file>: »)
    ("empty.csv", None, None, "the file is empty (0 bytes)"),
    (
        "scan.pdf",
        None,
        None,
        "unsupported file type «.pdf»: send .xlsx, .csv (UTF-8 or Windows-1251) or .parquet",
    ),
    (
        "vpr_results_header_only.csv",
        None,
        "vpr_results",
        "the header (row 1) has no data rows below it: an empty template? Fill it in and resend",
    ),
    (
        "vpr_results_truncated.xlsx",
        None,
        "vpr_results",
        (
            "cannot be opened as an Excel workbook, it is damaged or incomplete (invalid Zip archive: Could not find "
            "EOCD); open it in Excel, save it again and resend"
        ),
    ),
    (
        "vpr_results_unclosed_quote.csv",
        None,
        "vpr_results",
        'cannot be parsed as CSV near row 2: unexpected end of data (an unclosed quote «"»?)',
    ),
    (
        "vpr_results_mixed_encoding.csv",
        None,
        "vpr_results",
        (
            "the file mixes UTF-8 and Windows-1251 text (was it pasted together from several files?); save it again "
            "in one encoding and resend"
        ),
    ),
    (
        "vpr_results_no_participant.csv",
        "vpr_results",
        "vpr_results",
        (
            "the header in row 1 looks like «Результаты ВПР (по участникам)» (vpr_results) but lacks required "
            "columns: participant_code (accepted headers: «Код участника», «Код обучающегося», «participant_code»). "
            "Recognised columns: «Год», «Код ОО», «Класс», «Предмет», «Первичный балл», «Отметка»"
        ),
    ),
    (
        "vpr_school_stats_two_sheets.xlsx",
        None,
        "vpr_school_stats",
        (
            "sheets «Кировский», «Заречный» all hold a table of «Результаты ВПР (статистика по ОО)» "
            "(vpr_school_stats) with data; only one sheet per file is loaded. Keep the data in one sheet (or send "
            "one file per sheet) and resend"
        ),
    ),
]


@pytest.mark.parametrize(
    ("name", "folder", "source", "message"), REJECTED, ids=[r[0] for r in REJECTED]
)
def test_rejected_files(
    region: Region, name: str, folder: str | None, source: str | None, message: str
) -> None:
    region.deliver(name, folder)
    f = region.run().outcome(name)
    assert (f.status, f.source) == ("rejected", source)
    assert f.message == f"{name}: {message}"
    assert not (region.settings.landing_dir / (folder or "") / name).exists()
    assert (region.settings.rejected_dir / name).exists(), "kept for inspection"
    lines = region.rejected_reason(name).splitlines()
    assert lines[:2] == [name, f.message]
    logged = region.query(
        "select source, status, message, rows_read from raw._load_log where file_name = ?", [name]
    )
    assert logged == [(source, "rejected", f.message, 0)]


def test_wrong_delimiter_names_the_delimiter_and_the_accepted_headers(region: Region) -> None:
    region.deliver("vpr_results_pipe.csv")
    f = region.run().outcome("vpr_results_pipe.csv")
    assert f.status == "rejected"
    assert f.message.startswith(
        "vpr_results_pipe.csv: no header row of «Результаты ВПР (по участникам)» (vpr_results) in the first 30 "
        "rows (the file seems to use «|» as delimiter; accepted: «;», «,» or tab). Required columns: "
        "year (accepted headers: «Год», «year»); school_id (accepted headers: «Код ОО»"
    )


def test_a_file_that_is_not_a_table_at_all(region: Region) -> None:
    region.deliver("письмо.csv")
    f = region.run().outcome("письмо.csv")
    assert (f.status, f.source) == ("rejected", None)
    assert "no header row of any known source in the first 30 rows" in f.message
    assert "The first non-empty row reads: «Уважаемые коллеги!»" in f.message


def test_a_rejected_file_does_not_stop_the_others(region: Region) -> None:
    region.deliver("vpr_results_truncated.xlsx")
    region.deliver("empty.csv")
    region.deliver("resource_survey_2024.csv")
    run = region.run()
    assert sorted((f.file_name, f.status) for f in run.files) == [
        ("empty.csv", "rejected"),
        ("resource_survey_2024.csv", "loaded"),
        ("vpr_results_truncated.xlsx", "rejected"),
    ]


def test_a_subtotal_row_that_passes_every_column_rule_is_still_not_data(region: Region) -> None:
    region.write(
        "vpr_school_stats_2024_subtotals.csv",
        "Год;Код ОО;Класс;Предмет;Количество участников;«2»;«3»;«4»;«5»\n"
        "2024;sch001;4;Математика;20;2;8;7;3\n"  # 2 loads
        "2024;sch001;4;Итого по ОО:;20;2;8;7;3\n"  # 3 a subtotal: every column is valid
        "2024;sch002;11;Итоговое сочинение;10;0;2;4;4\n",  # 4 loads: a real subject
    )
    f = region.run().outcome("vpr_school_stats_2024_subtotals.csv")
    assert region.loaded_rows(f) == [2, 4]
    assert region.quarantined(f) == [(3, "*", "Итого по ОО:", "total_row")]


def test_a_repeated_header_in_a_source_of_text_columns(region: Region) -> None:
    region.write(
        "school_codes_2.csv",
        "Система;Код в системе;Код ОО\nРИС ГИА;R-0003;sch003\nСистема;Код в системе;Код ОО\nРИС ГИА;R-0004;sch004\n",
    )
    f = region.run().outcome("school_codes_2.csv")
    assert region.loaded_rows(f) == [2, 4]
    assert region.quarantined(f) == [(3, "*", None, "repeated_header")]
