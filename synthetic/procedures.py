"""Assessment procedures the generator simulates, their score scales and failing rates.

`base_logit` is the failing logit of an average school (latent quality 0) before the
school's own effects and the calibration shift (`RegionSpec.fail_shift`). With the defaults
the region-wide failing shares are about: ВПР 5-8 19-24%, ВПР 4 7-11%, ОГЭ русский 8-9%,
ОГЭ математика 14%, ЕГЭ русский 3%, ЕГЭ профильная математика 10%, ЕГЭ базовая 7%.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

RU, MA, OM = "Русский язык", "Математика", "Окружающий мир"
MA_PROF, MA_BASE = "Математика (профильная)", "Математика (базовая)"


@dataclass(frozen=True)
class Scale:
    """A primary-score scale: maximum and the lowest score of the marks 3, 4 and 5."""

    maximum: int
    cuts: tuple[int, int, int]

    def bands(self) -> tuple[np.ndarray, np.ndarray]:
        """Lowest and highest primary score of each mark, indexed by mark (0 and 1 unused)."""
        c3, c4, c5 = self.cuts
        lo = np.array([0, 0, c3 // 3, c3, c4, c5])  # failing scores cluster below the threshold
        hi = np.array([0, 0, c3 - 1, c4 - 1, c5 - 1, self.maximum])
        return lo, hi

    def mark(self, score: int) -> int:
        c3, c4, c5 = self.cuts
        return 2 if score < c3 else 3 if score < c4 else 4 if score < c5 else 5


@dataclass(frozen=True)
class Procedure:
    code: str
    exam: str  # ВПР | ОГЭ | ЕГЭ
    subject: str
    grade: int
    base_logit: float
    scale: Scale | None  # None: the result is a test score (ЕГЭ русский, профильная математика)


PROCEDURES: tuple[Procedure, ...] = (
    Procedure("VPR_RU_4", "ВПР", RU, 4, -2.6, Scale(38, (14, 24, 33))),
    Procedure("VPR_MA_4", "ВПР", MA, 4, -2.8, Scale(20, (6, 10, 15))),
    Procedure("VPR_OM_4", "ВПР", OM, 4, -3.1, Scale(32, (8, 18, 26))),
    Procedure("VPR_RU_5", "ВПР", RU, 5, -1.75, Scale(45, (18, 29, 39))),
    Procedure("VPR_MA_5", "ВПР", MA, 5, -1.9, Scale(20, (7, 11, 15))),
    Procedure("VPR_RU_6", "ВПР", RU, 6, -1.6, Scale(51, (22, 33, 44))),
    Procedure("VPR_MA_6", "ВПР", MA, 6, -1.75, Scale(16, (6, 10, 14))),
    Procedure("VPR_RU_7", "ВПР", RU, 7, -1.6, Scale(47, (20, 29, 39))),
    Procedure("VPR_MA_7", "ВПР", MA, 7, -1.75, Scale(19, (7, 12, 16))),
    Procedure("VPR_RU_8", "ВПР", RU, 8, -1.7, Scale(51, (20, 30, 42))),
    Procedure("VPR_MA_8", "ВПР", MA, 8, -1.85, Scale(25, (7, 13, 19))),
    Procedure("OGE_RU", "ОГЭ", RU, 9, -2.9, Scale(33, (15, 23, 29))),
    Procedure("OGE_MA", "ОГЭ", MA, 9, -2.2, Scale(31, (8, 15, 22))),
    Procedure("EGE_RU", "ЕГЭ", RU, 11, -4.2, None),
    Procedure("EGE_MA_PROF", "ЕГЭ", MA_PROF, 11, -2.4, None),
    Procedure("EGE_MA_BASE", "ЕГЭ", MA_BASE, 11, -3.4, Scale(21, (7, 12, 17))),
)
INDEX: dict[str, int] = {p.code: i for i, p in enumerate(PROCEDURES)}
BY_CODE: dict[str, Procedure] = {p.code: p for p in PROCEDURES}
VPR_BY_GRADE: dict[int, tuple[Procedure, ...]] = {
    g: tuple(p for p in PROCEDURES if p.exam == "ВПР" and p.grade == g) for g in range(4, 9)
}
# failing thresholds of the test-score procedures (the methodology's seed)
TEST_SCORE_MIN: dict[str, int] = {"EGE_RU": 24, "EGE_MA_PROF": 27}
