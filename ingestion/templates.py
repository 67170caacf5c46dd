"""Empty XLSX templates for the people who send files (``eduq templates --out DIR``).

One workbook per contract (``ingestion/contracts/*.yaml``), generated from it, so a template
always matches what the loader accepts:

* sheet «Данные»: a title row, a hint row, the Russian headers (required ones in bold on a
  coloured fill, each with a note saying what goes in), drop-down lists for the enumerated
  columns (Этап, Статус, Тип местности, …) and да/нет columns, number checks for the columns
  with a range, text format for codes (so «01» stays «01»);
* sheet «Инструкция»: how to fill it in, the year, what a correction replaces, and one row
  per column (required, type, allowed values, other accepted header spellings);
* a hidden sheet «Списки» with the values of the drop-down lists.

A filled template is an ordinary delivery: the loader finds the header under the title, and the
other sheets are not taken for data.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from openpyxl import Workbook
from openpyxl.comments import Comment
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.worksheet import Worksheet

from ingestion.contract import COLUMN_BY_COLUMN, Column, Contract, load_contracts

DATA_SHEET = "Данные"
INSTRUCTIONS_SHEET = "Инструкция"
LISTS_SHEET = "Списки"
HEADER_ROW = 3
FIRST_DATA_ROW = HEADER_ROW + 1
VALIDATED_ROWS = 5000  # rows below the header that get the drop-down lists and number checks
BOOLEAN_VALUES = ("да", "нет")

TYPE_RU = {
    "string": "текст",
    "code": "код",
    "integer": "целое число",
    "number": "число (десятичная запятая)",
    "percent": "процент (12,5%)",
    "boolean": "да / нет",
    "date": "дата (ДД.ММ.ГГГГ)",
    "enum": "значение из списка",
    "academic_year": "учебный год (2023/2024)",
}
REQUIRED_FILL = PatternFill("solid", fgColor="FFF2CC")
HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")
BOLD = Font(bold=True)


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value).replace(".", ",")


def range_ru(column: Column) -> str:
    if not column.range:
        return ""
    lo, hi = column.range
    if lo is not None and hi is not None:
        return f"от {_num(lo)} до {_num(hi)}"
    return f"не меньше {_num(lo)}" if lo is not None else f"не больше {_num(hi)}"


def list_values(column: Column) -> tuple[str, ...]:
    """The values a drop-down list offers: the first spelling of each enum value, or да/нет."""
    if column.type == "boolean":
        return BOOLEAN_VALUES
    if column.type == "enum":
        return tuple(spellings[0] for spellings in column.values.values())
    return ()


def allowed_ru(column: Column) -> str:
    values = list_values(column)
    if values:
        text = ", ".join(f"«{v}»" for v in values)
        if column.default:
            text += f" (пусто = «{column.values[column.default][0]}»)"
        return text
    return range_ru(column)


def _required(contract: Contract, column: Column) -> bool:
    year_elsewhere = column.name == "year" and bool(
        contract.year.from_filename or contract.year.derive
    )
    return column.required and not year_elsewhere


def year_ru(contract: Contract) -> str:
    rule = contract.year
    if rule.none:
        return "Год не нужен: файл не относится к одному году."
    if rule.derive:
        return "Год берётся из столбца «Учебный год»: год его окончания (2023/2024 → 2024)."
    if rule.from_filename:
        return (
            "Год: столбец «Год» или год в имени файла "
            f"(например, {contract.source}_2024.xlsx), если столбца нет."
        )
    return "Год: столбец «Год» (в одном файле может быть несколько лет)."


def _headers(contract: Contract, names: Iterable[str]) -> str:
    columns = {c.name: c for c in contract.columns}
    return ", ".join(f"«{columns[n].header}»" if n in columns else "год" for n in names)


# --------------------------------------------------------------------------- sheets


def _data_sheet(sheet: Worksheet, contract: Contract, lists: Worksheet) -> None:
    width = len(contract.columns)
    last = get_column_letter(width)
    sheet["A1"] = contract.title_ru
    sheet["A1"].font = Font(bold=True, size=14)
    sheet["A2"] = (
        f"Шаблон eduq ({contract.source}). Заполняйте с {FIRST_DATA_ROW}-й строки, одна строка — "
        f"одно сочетание: {_headers(contract, contract.grain)}. Обязательные столбцы выделены "
        f"цветом. Названия столбцов не меняйте; подробности — на листе «{INSTRUCTIONS_SHEET}»."
    )
    sheet["A2"].alignment = Alignment(wrap_text=True, vertical="top")
    if width > 1:
        sheet.merge_cells(f"A1:{last}1")
        sheet.merge_cells(f"A2:{last}2")
    sheet.row_dimensions[2].height = 45
    list_column = 0
    for index, column in enumerate(contract.columns, start=1):
        letter = get_column_letter(index)
        cell = sheet.cell(row=HEADER_ROW, column=index, value=column.header)
        cell.alignment = Alignment(wrap_text=True, vertical="center")
        required = _required(contract, column)
        cell.font = BOLD if required else Font()
        cell.fill = REQUIRED_FILL if required else HEADER_FILL
        note = [column.description or column.name, f"Тип: {TYPE_RU[column.type]}."]
        if allowed := allowed_ru(column):
            note.append(f"Допустимо: {allowed}.")
        note.append("Обязательный." if required else "Можно оставить пустым.")
        cell.comment = Comment("\n".join(note), "eduq", width=320, height=160)
        sheet.column_dimensions[letter].width = max(12, min(40, len(column.header) + 4))
        cells = f"{letter}{FIRST_DATA_ROW}:{letter}{HEADER_ROW + VALIDATED_ROWS}"
        if column.type in ("code", "string", "academic_year"):
            sheet.column_dimensions[letter].number_format = "@"  # «01» stays «01»
        validation = _validation(column, lists, list_column)
        if column.type in ("enum", "boolean"):
            list_column += 1
        if validation is not None:
            validation.add(cells)
            sheet.add_data_validation(validation)
    sheet.row_dimensions[HEADER_ROW].height = 45
    sheet.freeze_panes = f"A{FIRST_DATA_ROW}"


def _validation(column: Column, lists: Worksheet, list_column: int) -> DataValidation | None:
    values = list_values(column)
    if values:
        letter = get_column_letter(list_column + 1)
        for row, value in enumerate(values, start=1):
            lists.cell(row=row, column=list_column + 1, value=value)
        return DataValidation(
            type="list",
            formula1=f"'{LISTS_SHEET}'!${letter}$1:${letter}${len(values)}",
            allow_blank=True,
            showErrorMessage=True,
            errorTitle="Недопустимое значение",
            error=f"«{column.header}»: выберите значение из списка: {', '.join(values)}"[:255],
        )
    if column.type in ("integer", "number", "percent") and column.range:
        lo, hi = column.range
        kind = "whole" if column.type == "integer" else "decimal"
        if lo is not None and hi is not None:
            operator, first, second = "between", lo, hi
        elif lo is not None:
            operator, first, second = "greaterThanOrEqual", lo, None
        else:
            operator, first, second = "lessThanOrEqual", hi, None
        return DataValidation(
            type=kind,
            operator=operator,
            formula1=_num(first).replace(",", "."),
            formula2=_num(second).replace(",", ".") if second is not None else None,
            allow_blank=True,
            showErrorMessage=True,
            errorTitle="Недопустимое значение",
            error=f"«{column.header}»: {TYPE_RU[column.type]}, {range_ru(column)}"[:255],
        )
    return None


def _instructions(sheet: Worksheet, contract: Contract) -> None:
    lines = [
        f"Инструкция: {contract.title_ru}",
        "",
        (
            f"1. Заполните лист «{DATA_SHEET}» начиная с {FIRST_DATA_ROW}-й строки: одна строка — одно "
            f"сочетание {_headers(contract, contract.grain)}. Строки с названием и подсказкой можно "
            "оставить, названия столбцов не меняйте (порядок столбцов не важен)."
        ),
        (
            "2. Не добавляйте под таблицей строку «Итого», примечания и подписи: такие строки не "
            "загружаются."
        ),
        f"3. {year_ru(contract)}",
        (
            "4. Данные можно прислать несколькими файлами (например, по муниципалитетам): они "
            "складываются. Исправленный файл заменяет прежние данные по сочетанию "
            f"{_headers(contract, contract.latest_delivery_per)}, остальное остаётся."
            + (
                " Заменяются только заполненные ячейки: в исправлении достаточно Года, Кода ОО, "
                "обязательных столбцов и исправленных значений; пустая ячейка прежнее значение не "
                "стирает."
                if contract.source in COLUMN_BY_COLUMN
                else ""
            )
        ),
        (
            "5. Строки с ошибками (неизвестный код ОО, значение вне списка или диапазона, пропуск "
            "обязательного значения) не загружаются и попадают в карантин с указанием строки и "
            "причины; остальные строки загружаются."
        ),
        (
            "6. Сохраните файл в формате .xlsx (или CSV с разделителем «;»). Проверить файл до "
            "загрузки: eduq check-files <папка с файлами>."
        ),
        "",
    ]
    for row, text in enumerate(lines, start=1):
        sheet.cell(row=row, column=1, value=text or None)
    sheet["A1"].font = Font(bold=True, size=14)
    top = len(lines) + 1
    titles = (
        "Столбец",
        "Обязательный",
        "Тип",
        "Допустимые значения",
        "Другие написания заголовка",
        "Имя в хранилище",
        "Пояснение (англ.)",
    )
    for index, title in enumerate(titles, start=1):
        cell = sheet.cell(row=top, column=index, value=title)
        cell.font = BOLD
        cell.fill = HEADER_FILL
    for offset, column in enumerate(contract.columns, start=1):
        values = (
            column.header,
            "да" if _required(contract, column) else "нет",
            TYPE_RU[column.type],
            allowed_ru(column),
            "; ".join(column.aliases[1:]),
            column.name,
            column.description,
        )
        for index, value in enumerate(values, start=1):
            cell = sheet.cell(row=top + offset, column=index, value=value or None)
            cell.alignment = Alignment(wrap_text=True, vertical="top")
    row = top + len(contract.columns) + 2
    if contract.checks:
        sheet.cell(row=row, column=1, value="Проверки по строке:").font = BOLD
        for offset, check in enumerate(contract.checks, start=1):
            sheet.cell(row=row + offset, column=1, value=f"{check.expr}: {check.reason}")
    for letter, width in zip("ABCDEFG", (34, 14, 24, 40, 40, 24, 60), strict=True):
        sheet.column_dimensions[letter].width = width


def template_workbook(contract: Contract) -> Workbook:
    workbook = Workbook()
    data = workbook.active
    data.title = DATA_SHEET
    instructions = workbook.create_sheet(INSTRUCTIONS_SHEET)
    lists = workbook.create_sheet(LISTS_SHEET)
    lists.sheet_state = "hidden"
    _data_sheet(data, contract, lists)
    _instructions(instructions, contract)
    workbook.active = 0
    return workbook


def template_name(contract: Contract) -> str:
    """``<source>.xlsx``: the name matches the source's file-name pattern."""
    return f"{contract.source}.xlsx"


def write_templates(out_dir: Path, sources: Iterable[str] | None = None) -> list[Path]:
    """Write one template per contract (or per listed source) into ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    contracts = load_contracts()
    written = []
    for source in sources or contracts:
        contract = contracts[source]
        path = out_dir / template_name(contract)
        template_workbook(contract).save(path)
        written.append(path)
    return written
