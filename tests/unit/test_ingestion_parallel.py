"""Files of one source are checked ahead, several at once (EDUQ_LOAD_WORKERS), and written in
delivery order: the warehouse must be exactly what loading them one after the other gives — the
same file ids (the latest delivery wins by them), rows, quarantine, rejections and load log — for
a batch that mixes good files, quarantined rows, rejected files and a correction."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.fixtures.ingestion.harness import Region, open_region

# delivery order (modification times one minute apart): results files of every shape the corpus
# has, among them files rejected whole and files with quarantined rows, and the first file again
# under a new name with one row changed (a correction: a new delivery, a new file id)
BATCH = (
    "ВПР_2024_участники_Кировский.csv",
    "vpr_results_header_only.csv",
    "vpr_results_4kl_rus.csv",
    "vpr_results_mixed_encoding.csv",
    "vpr_results_no_participant.csv",
    "vpr_results_pipe.csv",
    "vpr_results_truncated.xlsx",
    "vpr_results_unclosed_quote.csv",
    "vpr_results_unicode.txt",
    "gia_results_2024.csv",
)

RAW = "select * exclude (_loaded_at) from raw.{} order by _file_id, _row_number"
LOG = (
    "select file_id, source, file_name, file_hash, status, rows_read, rows_loaded, "
    "rows_quarantined, message, years from raw._load_log order by file_id"
)
QUARANTINE = (
    "select * exclude (quarantined_at) from raw._quarantine "
    "order by file_id, row_number, column_name"
)


def _load(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, workers: int) -> dict[str, list]:
    monkeypatch.setenv("EDUQ_LOAD_WORKERS", str(workers))
    regions = open_region(tmp_path / f"w{workers}", monkeypatch)
    region: Region = next(regions)
    try:
        assert region.settings.load_workers == workers
        delivered = [region.deliver(name, folder="vpr") for name in BATCH]
        correction = region.write(
            "ВПР_2024_участники_Кировский_исправление.csv",
            delivered[0].read_bytes().replace(b";4;", b";3;", 1),
            folder="vpr",
        )
        for minute, path in enumerate([*delivered, correction]):
            os.utime(path, (1_700_000_000 + 60 * minute,) * 2)
        run = region.run()
        statuses = sorted({f.status for f in run.files})
        return {
            "statuses": statuses,
            "log": region.query(LOG),
            "vpr": region.query(RAW.format("vpr_results")),
            "gia": region.query(RAW.format("gia_results")),
            "quarantine": region.query(QUARANTINE),
        }
    finally:
        next(regions, None)


def test_files_checked_at_once_load_exactly_as_one_after_the_other(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    one = _load(tmp_path, monkeypatch, 1)
    three = _load(tmp_path, monkeypatch, 3)
    assert one["statuses"] == ["loaded", "rejected"]  # the batch has both kinds
    assert len(one["quarantine"]) > 0 and len(one["vpr"]) > 0
    for part in ("log", "vpr", "gia", "quarantine"):
        assert three[part] == one[part], part
    # the correction came last and carries the highest file id of the results
    log = one["log"]
    assert log[-1][2] == "ВПР_2024_участники_Кировский_исправление.csv"
    assert [row[0] for row in log] == sorted(row[0] for row in log)
