"""Parquet deliveries: DuckDB reads them natively, the columns are the header (canonical English or
Russian names), every cell goes through the same validation as CSV and XLSX, and the row number of a
quarantined row is its position in the file."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.fixtures.ingestion.harness import Region, open_region


@pytest.fixture()
def region(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Region]:
    yield from open_region(tmp_path, monkeypatch)


def _write(region: Region, name: str, table: pa.Table) -> Path:
    path = region.settings.landing_dir / name
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path)
    return path


def test_a_parquet_file_with_canonical_columns_loads_and_quarantines_by_row(region: Region) -> None:
    rows = 6
    table = pa.table(
        {
            "year": pa.array([2024] * rows, pa.int32()),
            "school_id": ["sch001", "sch001", "sch002", "sch002", "sch999", "sch001"],
            "grade": pa.array([5] * rows, pa.int64()),
            "subject": ["Математика"] * rows,
            "participant_code": [f"P{i}" for i in range(rows)],
            "primary_score": [10.0, 12.5, 3.0, 8.0, 7.0, 9.0],
            "mark": pa.array([4, 5, 2, 7, 3, 3], pa.int64()),
            "status": ["явка"] * rows,
            "comment": ["extra column kept"] * rows,
        }
    )
    _write(region, "vpr_results_2024.parquet", table)
    outcome = region.run().outcome("vpr_results_2024.parquet")
    assert (outcome.status, outcome.rows_read, outcome.rows_loaded, outcome.rows_quarantined) == (
        "loaded",
        6,
        4,
        2,
    )
    # row 4 holds the mark 7, row 5 an unknown school: positions in the file, 1-based
    assert [(r, c, code) for r, c, _, code in region.quarantined(outcome)] == [
        (4, "mark", "above_max"),
        (5, "school_id", "unknown_school"),
    ]
    assert region.loaded_rows(outcome) == [1, 2, 3, 6]
    assert region.query(
        "select primary_score, mark, _extra->>'comment' from raw.vpr_results where _row_number = 2"
    ) == [(12.5, 5, "extra column kept")]


def test_parquet_columns_may_carry_the_russian_headers(region: Region) -> None:
    table = pa.table(
        {
            "Год": [2024, 2024],
            "Код ОО": ["sch001", "sch002"],
            "Класс": [5, 5],
            "Предмет": ["Русский язык", "Русский язык"],
            "Код участника": ["A1", "A2"],
            "Отметка": [3, 2],
        }
    )
    _write(region, "results.parquet", table)
    outcome = region.run().outcome("results.parquet")
    assert (outcome.source, outcome.rows_loaded, outcome.rows_quarantined) == ("vpr_results", 2, 0)


def test_a_parquet_file_without_the_required_columns_is_rejected_naming_them(
    region: Region,
) -> None:
    _write(region, "vpr_results_2024.parquet", pa.table({"year": [2024], "school_id": ["sch001"]}))
    outcome = region.run().outcome("vpr_results_2024.parquet")
    assert outcome.status == "rejected"
    assert "participant_code" in outcome.message and "Parquet columns" in outcome.message


def test_a_truncated_parquet_file_is_rejected_not_raised(region: Region) -> None:
    path = _write(region, "vpr_results_2024.parquet", pa.table({"year": [2024] * 1000}))
    path.write_bytes(path.read_bytes()[:200])
    outcome = region.run().outcome("vpr_results_2024.parquet")
    assert outcome.status == "rejected"
    assert "Parquet" in outcome.message
