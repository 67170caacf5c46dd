"""The files bench/increment.py delivers are files the loader takes as a region's: the one-school
correction (the whole latest-delivery partition again, one mark 3 → 2, Windows-1251 with «;» and
CRLF as the results arrive) loads whole and wins in the latest-delivery rule; one region's next
year is the set's region (same crosswalk, same schools) without the schools the set closed. The
timings themselves are printed by `make bench-increment`, never asserted."""

from __future__ import annotations

import importlib.util
import json
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from synthetic import headers as h
from synthetic.country import CountrySpec, generate_country
from tests.fixtures.ingestion.harness import Region, open_region

BENCH = Path(__file__).resolve().parents[2] / "bench"


def _increment() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_increment", BENCH / "increment.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


inc = _increment()


@pytest.fixture()
def region(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Region]:
    yield from open_region(tmp_path, monkeypatch)


def _row(school: str, subject: str, participant: str, mark: str, status: str = "явка") -> list:
    return ["2024", school, "5", subject, participant, "" if not mark else "10", mark, status]


# sch001 Русский язык: 6 sat the work (P2 is the first mark 3), P4 absent; 1 mark 2
RU_SCH001 = [
    _row("sch001", "Русский язык", "P1", "4"),
    _row("sch001", "Русский язык", "P2", "3"),
    _row("sch001", "Русский язык", "P3", "2"),
    _row("sch001", "Русский язык", "P4", "", "неявка"),
    _row("sch001", "Русский язык", "P5", "5"),
    _row("sch001", "Русский язык", "P6", "3"),
    _row("sch001", "Русский язык", "P7", "4"),
]
OTHER = [
    _row("sch001", "Математика", "M1", "2"),
    _row("sch001", "Математика", "M2", "3"),
    _row("sch002", "Русский язык", "Q1", "3"),  # sch002: too few participants to be chosen
    _row("sch002", "Русский язык", "Q2", "2"),
]

# the latest delivery per (year, school, subject, grade): the staging rule as plain SQL
LATEST_FAILING = """
select school_id, subject, count(*) filter (where mark = 2) as failing, count(mark) as marked
from (
    select * from raw.vpr_results
    qualify _file_id = max(_file_id) over (partition by year, school_id, subject, grade)
)
group by all order by all
"""


def test_the_correction_loads_whole_and_replaces_the_schools_subject_and_grade(
    region: Region,
) -> None:
    delivered = region.settings.home / "delivered" / "vpr_results_2024.csv"
    table = inc.CsvTable("vpr_results", list(h.VPR_RESULTS), RU_SCH001 + OTHER)
    inc.write_table(delivered, table)
    shutil.copyfile(delivered, region.settings.landing_dir / delivered.name)
    first = region.run().outcome("vpr_results_2024.csv")
    assert (first.status, first.rows_loaded, first.rows_quarantined) == ("loaded", 11, 0)

    correction = inc.write_correction(delivered, region.settings.landing_dir, 2024)

    assert {k: correction[k] for k in ("school_id", "participant_code", "rows", "file")} == {
        "school_id": "sch001",
        "participant_code": "P2",
        "rows": 7,
        "file": "vpr_results_2024_sch001_исправление.csv",
    }
    data = (region.settings.landing_dir / correction["file"]).read_bytes()
    assert data.count(b"\r\n") == 8 and "Русский язык".encode("cp1251") in data  # as results arrive
    second = region.run().outcome(correction["file"])
    assert (second.status, second.rows_read, second.rows_loaded, second.rows_quarantined) == (
        "loaded",
        7,
        7,
        0,
    )
    assert second.file_id > first.file_id
    assert region.query(LATEST_FAILING) == [
        ("sch001", "Математика", 1, 2),
        ("sch001", "Русский язык", 2, 6),  # was 1 of 6: P2's 3 became 2
        ("sch002", "Русский язык", 1, 2),
    ]
    mark = region.query(
        "select mark from raw.vpr_results where participant_code = 'P2' and _file_id = ?",
        [second.file_id],
    )
    assert mark == [(2,)]


def test_no_school_to_correct_is_said_not_guessed(tmp_path: Path) -> None:
    path = tmp_path / "vpr_results_2024.csv"
    inc.write_table(path, inc.CsvTable("vpr_results", list(h.VPR_RESULTS), OTHER))
    with pytest.raises(inc.BenchError, match="no school with 5\\+ participants and a mark 3"):
        inc.write_correction(path, tmp_path, 2024)


def test_the_next_year_of_a_region_is_the_sets_region_without_its_closed_schools(
    tmp_path: Path,
) -> None:
    spec = CountrySpec(regions=1, schools_per_region=40, seed=5, years=(2023, 2024))
    generate_country(tmp_path / "set", spec)
    generate_country(
        tmp_path / "next", CountrySpec(regions=1, schools_per_region=40, seed=5, years=(2025,))
    )
    closed, codes = inc.closed_codes(tmp_path / "set" / "region_01")
    assert len(closed) == 3 and closed < codes  # their РЦОИ and ОКПО codes too

    landing = tmp_path / "landing"
    delivery = inc.deliver_region_year(
        tmp_path / "set", tmp_path / "next", 2025, tmp_path / "staged", landing
    )

    def registry(path: Path) -> set[tuple[str, ...]]:
        return inc.registry_schools(inc.read_table(path, "schools"))

    schools = registry(tmp_path / "set" / "region_01" / "schools" / "schools_2024.csv")
    assert registry(landing / "region_01" / "schools" / "schools_2025.csv") == schools
    assert len(schools) == 37 and not {s[0] for s in schools} & closed
    assert sorted(f["source"] for f in delivery["files"]) == [
        "academic_debt",
        "gia_results",
        "resource_survey",
        "risk_questionnaire",
        "schools",
        "social_passport",
        "vpr_results",
    ]
    manifest = json.loads((tmp_path / "next" / "region_manifest.json").read_text())
    generated = {f["path"]: f["rows"] for f in manifest["files"]}
    for f in delivery["files"]:
        assert f["rows"] + f["rows_left_out"] == generated[f["path"]]
        assert (landing / f["path"]).read_bytes() == (tmp_path / "staged" / f["path"]).read_bytes()
    gia = inc.read_table(landing / "region_01" / "gia" / "gia_results_2025.csv", "gia_results")
    assert gia.rows and not {r[1] for r in gia.rows} & codes  # ГИА files carry РЦОИ codes
    marks = inc.vpr_mark_counts(landing / "region_01" / "vpr" / "vpr_results_2025.csv")
    assert not {school for school, *_ in marks} & closed
    assert sum(f["rows_left_out"] for f in delivery["files"]) > 0


def test_another_region_is_refused(tmp_path: Path) -> None:
    generate_country(
        tmp_path / "set", CountrySpec(regions=1, schools_per_region=40, seed=5, years=(2023, 2024))
    )
    generate_country(
        tmp_path / "other", CountrySpec(regions=1, schools_per_region=40, seed=6, years=(2025,))
    )
    with pytest.raises(inc.BenchError, match="not the same region"):
        inc.deliver_region_year(
            tmp_path / "set", tmp_path / "other", 2025, tmp_path / "s", tmp_path / "l"
        )
    assert not (tmp_path / "l").exists()
