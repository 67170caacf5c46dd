"""Fictional names of the synthetic region: municipalities, settlements and schools.

Every name here is invented for the generator (any likeness to a real place is accidental).
The lists are finite; when a large region needs more names than they hold, prefixes and
numbers make new ones, so names stay unique however many municipalities are requested.
"""

from __future__ import annotations

from collections.abc import Iterator

BIG_CITY = "Северск-на-Волге"

TOWNS: tuple[str, ...] = (
    "Озерогорск",
    "Новоречинск",
    "Светлоборск",
    "Каменноярск",
    "Лесногорск-Северный",
    "Краснохолмск-Южный",
    "Белоозёрск",
    "Ветлужинск",
    "Тихоречинск",
    "Черноборск",
)

# district stems in the masculine adjective form used in «... МР»
DISTRICT_STEMS: tuple[str, ...] = (
    "Заречный",
    "Ольховский",
    "Верхнелуговской",
    "Ключеводский",
    "Светлоярский",
    "Тихоструйский",
    "Боровлянский",
    "Черёмушкинский",
    "Рябиновский",
    "Калиноярский",
    "Белоключевской",
    "Сосноборовский",
    "Медвежьеозёрский",
    "Приовражный",
    "Ручейковский",
    "Дубравинский",
    "Залесский",
    "Гореловский",
    "Травинский",
    "Камышовоярский",
    "Осиновский",
    "Липоворецкий",
    "Пригорный",
    "Кленовский",
)

# settlement stems in the feminine adjective form used in «МОУ ... средняя школа»
VILLAGE_STEMS: tuple[str, ...] = (
    "Покровская",
    "Никольская",
    "Знаменская",
    "Троицкая",
    "Успенская",
    "Воскресенская",
    "Ильинская",
    "Михайловская",
    "Петровская",
    "Ивановская",
    "Александровская",
    "Сергиевская",
    "Березняковская",
    "Дубровская",
    "Липовская",
    "Ольховская",
    "Каменская",
    "Песчанская",
    "Луговская",
    "Полянская",
    "Озерская",
    "Ключевская",
    "Родниковская",
    "Сосновская",
    "Еловская",
    "Рябиновская",
    "Калиновская",
    "Вишнёвская",
    "Высоковская",
    "Боровская",
    "Медведковская",
    "Тальниковская",
    "Ракитинская",
    "Гремячинская",
    "Криволукская",
    "Черемшанская",
    "Заовражная",
    "Старосельская",
    "Новосельская",
    "Подгорненская",
    "Широкополянская",
    "Журавлёвская",
    "Лебяжинская",
    "Красноярковская",
)

_PREFIXES: tuple[str, ...] = ("", "Верхне", "Нижне", "Ново", "Старо", "Мало", "Больше")


def _with_prefix(prefix: str, stem: str) -> str:
    return stem if not prefix else prefix + stem[0].lower() + stem[1:]


def town_names() -> Iterator[str]:
    """Town names, endless: the list first, then prefixed variants, then numbered ones."""
    n = 0
    while True:
        for prefix in _PREFIXES:
            for stem in TOWNS:
                yield _with_prefix(prefix, stem) + (f"-{n + 1}" if n else "")
        n += 1


def district_names() -> Iterator[str]:
    """District stems (without «МР»), endless in the same way."""
    n = 0
    while True:
        for prefix in _PREFIXES:
            for stem in DISTRICT_STEMS:
                yield _with_prefix(prefix, stem) + (f"-{n + 1}" if n else "")
        n += 1


def district_centre(stem: str) -> str:
    """The urban-type settlement at the centre of a district: «Заречный» -> «пгт Заречный»."""
    return f"пгт {stem}"


def village_school_name(stem: str, kind: str) -> str:
    level = {"secondary": "средняя школа", "basic": "основная школа", "primary": "начальная школа"}[
        kind
    ]
    return f"МОУ {stem} {level}"


def urban_school_name(
    number: int, kind: str, place: str, *, gymnasium: bool = False, lyceum: bool = False
) -> str:
    if gymnasium:
        level = "Гимназия"
    elif lyceum:
        level = "Лицей"
    else:
        level = {
            "secondary": "Средняя школа",
            "basic": "Основная школа",
            "primary": "Начальная школа",
        }[kind]
    return f"МОУ {level} № {number} {place}"
