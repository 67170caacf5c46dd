"""Independent random streams.

Every random draw comes from a numpy Generator seeded with (seed, stream, *keys), e.g.
(42, Stream.VPR, school index, year). A school's data therefore do not depend on the order
in which schools or years are generated, nor on which other years are requested: the 2023
results of school 17 are the same whether the region is generated for 2021-2024 or 2023 only.
"""

from __future__ import annotations

from enum import IntEnum

import numpy as np


class Stream(IntEnum):
    MUNICIPALITY = 1
    SCHOOL = 2
    STATE = 3
    COHORT = 4
    VPR = 5
    GIA = 6
    SOCIAL = 7
    RESOURCE = 8
    RISK = 9
    DEBT = 10
    REORGANISATION = 11
    PROGRAMMES = 12
    TARGETS = 13


def rng(seed: int, stream: Stream, *keys: int) -> np.random.Generator:
    return np.random.default_rng([int(seed) % (1 << 64), int(stream), *(int(k) for k in keys)])
