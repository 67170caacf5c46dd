"""How wide a line of text is in DejaVu Sans, the font of the report, the cards and their charts, so
that the card's chart can wrap a procedure's name before it runs into the next panel.

The advance widths below are DejaVu Sans 2.37's (Debian's ``fonts-dejavu-core``, which
scripts/install_report_tools.sh installs; 2048 units to the em), written here rather than read from
the font file at run time, so that the charts are the same bytes on every machine. Kerning is left
out (it only narrows a line). A character not listed counts as wider than any listed one, so a text
is never measured narrower than it is drawn. tests/unit/test_card_chart.py checks the table against
the installed font.
"""

from __future__ import annotations

UNITS_PER_EM = 2048

_ADVANCES: dict[str, tuple[int, ...]] = {
    # printable ASCII, U+0020 … U+007E
    (
        " !\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`"
        "abcdefghijklmnopqrstuvwxyz{|}~"
    ): (
        651, 821, 942, 1716, 1303, 1946, 1597, 563, 799, 799, 1024, 1716, 651, 739, 651, 690,
        1303, 1303, 1303, 1303, 1303, 1303, 1303, 1303, 1303, 1303, 690, 690, 1716, 1716, 1716,
        1087, 2048, 1401, 1405, 1430, 1577, 1294, 1178, 1587, 1540, 604, 604, 1343, 1141, 1767,
        1532, 1612, 1235, 1612, 1423, 1300, 1251, 1499, 1401, 2025, 1403, 1251, 1403, 799, 690,
        799, 1716, 1024, 1024, 1255, 1300, 1126, 1300, 1260, 721, 1300, 1298, 569, 569, 1186,
        569, 1995, 1298, 1253, 1300, 1300, 842, 1067, 803, 1298, 1212, 1675, 1212, 1212, 1075,
        1303, 690, 1303, 1716,
    ),
    # Russian: А … я (U+0410 … U+044F), Ё, ё
    (
        "АБВГДЕЖЗИЙКЛМНОПРСТУФХЦЧШЩЪЫЬЭЮЯабвгдежзийклмнопрстуфхцчшщъыьэюяЁё"
    ): (
        1401, 1405, 1405, 1249, 1600, 1294, 2206, 1313, 1532, 1532, 1454, 1540, 1767, 1540, 1612,
        1540, 1235, 1430, 1251, 1248, 1763, 1403, 1590, 1404, 2190, 2240, 1705, 1807, 1405, 1430,
        2211, 1423, 1255, 1263, 1207, 1076, 1416, 1260, 1845, 1089, 1331, 1331, 1237, 1309, 1545,
        1339, 1253, 1339, 1300, 1126, 1193, 1212, 1751, 1212, 1394, 1210, 1874, 1929, 1447, 1617,
        1207, 1124, 1724, 1232, 1294, 1260,
    ),
    # typography of Russian texts: no-break space, « », dashes, ellipsis, №, quotes, bullet
    "\u00a0«»–—…№’“”•": (651, 1253, 1253, 1024, 2048, 2048, 2130, 651, 1061, 1061, 1208),
}  # fmt: skip
ADVANCES: dict[str, int] = {
    char: width
    for chars, widths in _ADVANCES.items()
    for char, width in zip(chars, widths, strict=True)
}
UNKNOWN = 2560  # 1.25 em: wider than any character above (the widest, «Щ», is 2240)


def text_width(text: str, size: float) -> float:
    """The width of ``text`` set in DejaVu Sans at ``size`` (in the unit of ``size``)."""
    return sum(ADVANCES.get(char, UNKNOWN) for char in text) * size / UNITS_PER_EM
