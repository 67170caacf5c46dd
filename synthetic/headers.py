"""File layouts: paths, sheet names and the Russian headers of the contracts (docs/contracts.md)."""

from __future__ import annotations

SCHOOLS = (
    "Код ОО (логин ФИС ОКО)",
    "Наименование ОО",
    "Код МО",
    "Муниципальное образование",
    "Тип местности",
    "Малокомплектная",
    "Есть 9 класс",
    "Есть 11 класс",
    "Численность обучающихся",
)
SCHOOL_CODES = ("Система", "Код в системе", "Код ОО")
SUCCESSORS = ("Код ОО (прежний)", "Код ОО (правопреемник)", "Дата реорганизации")
VPR_RESULTS = (
    "Год",
    "Код ОО",
    "Класс",
    "Предмет",
    "Код участника",
    "Первичный балл",
    "Отметка",
    "Статус",
)
VPR_STATS = (
    "Год",
    "Код ОО",
    "Класс",
    "Предмет",
    "Количество участников",
    "«2»",
    "«3»",
    "«4»",
    "«5»",
)
GIA_RESULTS = (
    "Год",
    "Код ОО",
    "Экзамен",
    "Предмет",
    "Код участника",
    "Категория участника",
    "Этап",
    "Первичный балл",
    "Тестовый балл",
    "Отметка",
    "Статус",
)
SOCIAL_PASSPORT = (
    "Год",
    "Код ОО",
    "Всего обучающихся",
    "Оба родителя с высшим образованием",
    "Из неполных семей",
    "Из малообеспеченных семей",
    "Состоят на учёте",
    "Русский язык не родной",
    "Обучающиеся с ОВЗ",
    "Из многодетных семей",
    "Родители безработные",
)
RESOURCE_SURVEY = (
    "Год",
    "Код ОО",
    "Всего педагогов",
    "Вакансии",
    "Педагоги пенсионного возраста",
    "Средняя нагрузка (ставок)",
    "Русский язык и математику ведут неспециалисты",
    "Есть педагог-психолог",
    "Есть логопед",
    "Скоростной интернет",
    "Состояние здания",
    "Есть водоснабжение, канализация, отопление",
    "Есть спортзал",
    "Количество компьютеров",
    "Есть лаборатория",
    "Точка роста",
    "ЦОС",
)
RISK_QUESTIONNAIRE = ("Год", "Код ОО", "Код вопроса", "Ответ")
ACADEMIC_DEBT = (
    "Код ОО",
    "Период",
    "Учебный год",
    "Всего обучающихся",
    "Имеют академическую задолженность",
    "Посещают дополнительные занятия",
    "Имеют ИОМ",
    "Ликвидировали задолженность",
)
SUPPORT_PROGRAMMES = ("Код ОО", "Программа", "Год")
PROGRAMME_TARGETS = (
    "Код ОО",
    "Показатель",
    "Единица измерения",
    "Базовое значение",
    "Целевое значение",
    "Год",
    "Год достижения",
)

SHEET_SCHOOLS = "Реестр ОО"
SHEET_SUCCESSORS = "Реорганизация"
SHEET_VPR_STATS = "Статистика по ОО"
SHEET_SOCIAL = "Социальный паспорт"
SHEET_DEBT = "Академическая задолженность"

SYSTEM_FIS_OKO, SYSTEM_RCOI, SYSTEM_OKPO = "ФИС ОКО", "РЦОИ", "ОКПО"


def path_of(source: str, year: int | None = None) -> str:
    """Path of a source's file relative to the output folder."""
    return {
        "schools": f"schools/schools_{year}.xlsx",
        "school_codes": "school_codes.csv",
        "school_successors": "school_successors.xlsx",
        "vpr_results": f"vpr/vpr_results_{year}.csv",
        "vpr_school_stats": f"vpr/vpr_school_stats_{year}.xlsx",
        "gia_results": f"gia/gia_results_{year}.csv",
        "social_passport": f"social_passport/social_passport_{year}.xlsx",
        "resource_survey": f"resource_survey/resource_survey_{year}.csv",
        "risk_questionnaire": f"risk_questionnaire/risk_questionnaire_{year}.csv",
        "academic_debt": f"academic_debt/academic_debt_{year}.xlsx",
        "support_programmes": "support_programmes.csv",
        "programme_targets": "programme_targets.csv",
    }[source]
