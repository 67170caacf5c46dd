"""The delivery history in the serving warehouse (meta.quarantine, meta.load_log) never carries a
participant code, whatever shape the bad row has: the code in its own column, a note row whose only
filled cell is the code, a row wider than the header, a code in a column where a mark belongs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from gate.promote import add_load_log
from tests.fixtures.ingestion.harness import Region, open_region
from tests.personal_data import scan_duckdb

CODES = {"P-7731-0001", "P-7731-0002", "P-7731-0003", "P-7731-0004", "P-7731-0005", "P-7731-0006"}
# participant code first, as some exports order it
VPR = (
    "Код участника;Год;Код ОО;Класс;Предмет;Первичный балл;Отметка;Статус\n"
    "P-7731-0001;2024;sch001;4;Математика;12;4;явка\n"
    "P-7731-0002;2024;sch001;4;Математика;12;7;явка\n"  # mark outside 2–5
    "P-7731-0003;;;;;;;\n"  # a note row: only the code is filled
    "P-7731-0004;2024;sch001;4;Математика;12;4;явка;лишнее;P-7731-0004\n"  # wider than the header
    ";2024;sch001;4;Математика;12;4;явка\n"  # the code missing
    "P-7731-0005;2024;sch999;4;Математика;12;4;явка\n"  # unknown school
    "P-7731-0006;2024;sch001;4;Математика;12;P-7731-0006;явка\n"  # the code where the mark is
    "Итого;;;;;;;\n"
)


@pytest.fixture()
def region(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Region]:
    yield from open_region(tmp_path, monkeypatch)


@pytest.mark.parametrize("words_listed", [5000, 0], ids=["words-as-literals", "words-joined"])
def test_quarantine_in_serving_has_no_participant_code(
    region: Region, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, words_listed: int
) -> None:
    """The codes among the quarantined values' and messages' words are found the same way whether
    the words are matched as a list of literals (few) or joined (many)."""
    import gate.promote

    monkeypatch.setattr(gate.promote, "WORDS_LISTED", words_listed)
    region.write("vpr_results_2024.csv", VPR, folder="vpr_results")
    # a file without its header row: rejected (today's messages quote header cells only)
    region.write(
        "vpr_results_2024_b.csv",
        "2024;sch001;4;Математика;P-7731-0001;12;4;явка\n" * 3,
        folder="vpr_results",
    )
    run = region.run()
    assert run.outcome("vpr_results_2024_b.csv").status == "rejected"
    outcome = run.outcome("vpr_results_2024.csv")
    # should a message ever quote a data cell, the export masks it
    region.con.execute(
        "update raw._load_log set message = message || ' (first row: P-7731-0005;2024)' "
        "where file_name = 'vpr_results_2024_b.csv'"
    )
    # and a withdrawal's reason typed with a participant code of another file (`eduq withdraw`
    # refuses one of the withdrawn file's own)
    region.con.execute(
        "update raw._load_log set withdrawn_reason = 'дубль строки P-7731-0005' "
        "where file_name = 'vpr_results_2024_b.csv'"
    )
    assert (outcome.rows_read, outcome.rows_loaded, outcome.rows_quarantined) == (8, 1, 7)
    region.con.execute("checkpoint")
    # the candidate's quarantine keeps the delivered values (raw, for the people who fix the file)
    leaked_in_raw = {v for (v,) in region.query("select value from raw._quarantine") if v in CODES}
    assert leaked_in_raw
    serving = tmp_path / "serving.duckdb"
    region.con.close()
    add_load_log(serving, region.settings.candidate_db)
    findings, columns = scan_duckdb(serving, CODES)
    assert columns > 10
    assert not findings, "\n".join(map(str, findings))
    with duckdb.connect(str(serving), read_only=True) as con:
        (message, reason) = con.execute(
            "select message, withdrawn_reason from meta.load_log "
            "where file_name = 'vpr_results_2024_b.csv'"
        ).fetchone()
        withheld = con.execute(
            "select row_number, column_name from meta.quarantine where value is null "
            "and file_name = 'vpr_results_2024.csv' order by 1, 2"
        ).fetchall()
    assert message.endswith("(first row: ‹код участника скрыт›;2024)")
    assert reason == "дубль строки ‹код участника скрыт›"
    # rows 4 (note row), 5 (wider), 6 (code missing), 8 (code in the mark column)
    assert {(4, "*"), (5, "*"), (8, "mark")} <= set(withheld)
    region.con = duckdb.connect(str(region.settings.candidate_db))


def test_failing_rows_of_a_check_carry_no_participant_code(tmp_path: Path) -> None:
    """A failed dbt test on the participant grain (a participant twice) keeps its failing rows for
    inspection, with the participant code withheld."""
    import pandas as pd

    from gate.audit import save_failing_rows
    from tests.personal_data import scan_files

    frame = pd.DataFrame(
        {
            "year": [2024, 2024],
            "school_code": ["sch001", "sch002"],
            "participant_code": ["P-7731-0001", None],
            "n_records": [2, 3],
        }
    )
    name = save_failing_rows(tmp_path, "dbt__unique_stg_vpr__results", frame)
    findings, scanned = scan_files(tmp_path, CODES)
    assert scanned == 1 and not findings
    saved = pd.read_parquet(tmp_path / name)
    assert saved["participant_code"].tolist() == ["‹код участника скрыт›", None]
    assert saved["school_code"].tolist() == ["sch001", "sch002"]
