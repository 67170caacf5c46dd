"""The benchmark's baselines compute what the pipeline computes: bench/floor.sql (DuckDB) and
bench/pandas_list.py give the N and F of tests/integration/expected.py (the independent pandas
reading of the methodology that the end-to-end tests hold the warehouse to) and its default
ШНОР list, on a two-region set; and a region of a country set is calibrated like the demo
region (15-40% of its schools listed, every FIOKO cluster present). The comparison with the
warehouse itself runs in `make bench`, before any timing counts."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pandas as pd
import pytest

from synthetic.country import CountrySpec, generate_country
from tests.integration import expected

BENCH = Path(__file__).resolve().parents[2] / "bench"
SPEC = CountrySpec(
    regions=2, schools_per_region=200, seed=11, years=(2023, 2024), vpr_grades=(5, 6)
)
COUNT_KEYS = ["school_id", "procedure_code", "year", "participants", "failing"]
LIST_KEYS = ["school_id", "list_year", "fioko_cluster"]


def _module(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCH / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def country(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("bench_set")
    generate_country(out, SPEC)
    return out


@pytest.fixture(scope="module")
def independent(country: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(counts, list) of tests/integration/expected.py, region by region."""
    counts, lists = [], []
    for folder in sorted(p for p in country.glob("region_*") if p.is_dir()):
        region_counts = expected.procedure_counts(folder)
        successors = pd.read_csv(
            folder / "school_successors.csv", sep=";", encoding="utf-8-sig", dtype=str
        )
        dates = pd.to_datetime(successors["Дата реорганизации"], format="%d.%m.%Y")
        continued = {
            old: (new, d.year + (1 if d.month >= 7 else 0))
            for old, new, d in zip(
                successors["Код ОО (прежний)"], successors["Код ОО (правопреемник)"], dates
            )
        }
        counts.append(region_counts)
        lists.append(expected.shnor_list(region_counts, continued))
    return pd.concat(counts, ignore_index=True), pd.concat(lists, ignore_index=True)


def _rows(frame: pd.DataFrame, keys: list[str]) -> list[tuple]:
    return sorted(frame[keys].astype(str).itertuples(index=False, name=None))


def test_floor_and_pandas_compute_the_independent_counts_and_list(
    country: Path, independent: tuple[pd.DataFrame, pd.DataFrame], tmp_path: Path
) -> None:
    counts, listed = independent
    _module("floor").run_floor(country, tmp_path / "floor")
    results, shnor = _module("pandas_list").compute(country)
    floor_results = pd.read_parquet(tmp_path / "floor" / "fct_procedure_results.parquet")
    floor_list = pd.read_parquet(tmp_path / "floor" / "shnor_list.parquet")
    assert _rows(floor_results, COUNT_KEYS) == _rows(counts, COUNT_KEYS)
    assert _rows(results, COUNT_KEYS) == _rows(counts, COUNT_KEYS)
    assert len(listed) > 0
    assert _rows(floor_list, LIST_KEYS) == _rows(listed, LIST_KEYS)
    assert _rows(shnor, LIST_KEYS) == _rows(listed, LIST_KEYS)


def test_a_region_of_a_country_is_calibrated_like_the_demo(
    country: Path, independent: tuple[pd.DataFrame, pd.DataFrame]
) -> None:
    _, listed = independent
    assert set(listed["list_year"]) == {2025}  # 2023 results have no previous year here
    for folder in sorted(p for p in country.glob("region_*") if p.is_dir()):
        registry = pd.read_csv(folder / "schools/schools_2024.csv", sep=";", encoding="utf-8-sig")
        ids = set(registry["Код ОО (логин ФИС ОКО)"])
        share = listed["school_id"].isin(ids).sum() / len(ids)
        assert 0.15 <= share <= 0.40, (folder.name, share)
    assert set(listed["fioko_cluster"]) == {"basic", "moderate", "severe"}


def test_measure_sees_the_memory_of_child_processes(tmp_path: Path) -> None:
    """bench/measure.py sums the resident memory of the whole process tree (a parent that only
    waits for a child holding 300 MB) and keeps the output's last lines."""
    measure = _module("measure")
    child = "x = bytearray(300_000_000); import time; time.sleep(0.5); print('child done')"
    parent = (
        f"import subprocess, sys; subprocess.run([sys.executable, '-c', {child!r}], check=True)"
    )
    result = measure.run("tree", [sys.executable, "-c", parent], log=tmp_path / "log.txt")
    assert result.exit_code == 0
    assert result.peak_rss_bytes >= 300_000_000
    assert result.output_tail == "child done"
    failed = measure.run("fails", [sys.executable, "-c", "raise SystemExit(4)"])
    assert failed.exit_code == 4
