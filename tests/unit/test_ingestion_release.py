"""Rows quarantined for an unknown school code load once a later delivery makes the code known
(ingestion.release): results that arrive a night before the crosswalk or registry line naming their
school give the same raw facts as a single run in which the reference files loaded first."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fixtures.ingestion.harness import Region, open_region

CROSSWALK_HEADER = "Система;Код в системе;Код ОО\n"
# the facts of a row, whatever delivery brought them (the file id and load time say which)
FACTS = (
    "year, school_id, exam, subject, participant_code, category, wave, primary_score, test_score, "
    "mark, status, _extra, _source_file, _file_hash, _row_number"
)


@pytest.fixture()
def region(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Region]:
    yield from open_region(tmp_path, monkeypatch)


def _facts(region: Region) -> list[tuple]:
    return region.query(f"select {FACTS} from raw.gia_results order by all")


def test_rows_waiting_for_a_school_code_load_when_the_crosswalk_gives_it(
    region: Region, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    region.deliver("gia_results_2024.csv")
    first = region.run().outcome("gia_results_2024.csv")
    waiting = region.quarantined(first)
    assert [(column, value, code) for _, column, value, code in waiting] == [
        ("school_id", "R-9999", "unknown_school")
    ]
    (row,) = {r for r, *_ in waiting}
    before = _facts(region)

    # a night later: the crosswalk line that names the school
    region.write("school_codes_дополнение.csv", CROSSWALK_HEADER + "РИС ГИА;R-9999;sch003\n")
    night = region.run()
    crosswalk = night.outcome("school_codes_дополнение.csv")
    (report,) = [r for r in night.reports if r.source == "gia_results"]
    (release,) = report.released
    assert (release.from_file_id, release.rows_released, release.rows_still_quarantined) == (
        first.file_id,
        1,
        0,
    )
    assert release.file_id > crosswalk.file_id  # a later delivery than everything before it
    assert release.codes == ("R-9999",)

    # the row as delivered: the file's name, hash and row number, under the release's file id
    assert region.query(
        "select _file_id, _source_file, _row_number, school_id from raw.gia_results "
        "where _file_id not in (select file_id from raw._load_log where status = 'loaded')"
    ) == [(release.file_id, "gia_results_2024.csv", row, "R-9999")]
    assert len(_facts(region)) == len(before) + 1
    # the delivered file's line is what it was (read = loaded + quarantined); the release has its own
    assert region.query(
        "select status, rows_read, rows_loaded, rows_quarantined, released_from_file_id, years "
        "from raw._load_log where source = 'gia_results' order by file_id"
    ) == [
        ("loaded", first.rows_read, first.rows_loaded, first.rows_quarantined, None, "2024"),
        ("released", 1, 1, 0, first.file_id, "2024"),
    ]
    # the quarantine keeps the line, resolved by the release
    assert region.query(
        "select row_number, reason_code, resolved_in_file_id from raw._quarantine where file_id = ?",
        [first.file_id],
    ) == [(row, "unknown_school", release.file_id)]

    # nothing waits any more: the next night releases nothing
    again = region.run()
    assert all(not r.released for r in again.reports)
    assert region.query("select count(*) from raw._load_log where status = 'released'") == [(1,)]

    # the same facts as one run in which the crosswalk line came first
    fresh = Region(tmp_path / "fresh", monkeypatch)
    try:
        for name in ("schools_2024.csv", "school_codes.csv"):
            fresh.deliver(name)
        fresh.write("school_codes_дополнение.csv", CROSSWALK_HEADER + "РИС ГИА;R-9999;sch003\n")
        assert fresh.run().files
        fresh.deliver("gia_results_2024.csv")
        at_once = fresh.run().outcome("gia_results_2024.csv")
        assert at_once.rows_quarantined == 0
        assert _facts(fresh) == _facts(region)
    finally:
        fresh.close()


def test_a_row_that_breaks_another_rule_stays_quarantined_and_is_not_checked_again(
    region: Region,
) -> None:
    region.write(
        "gia_results_2024_поздние.csv",
        "Год;Код ОО в РИС;Экзамен;Предмет;Код участника;Категория участника;Этап;"
        "Первичный балл;Тестовый балл;Отметка;Статус\n"
        "2024;R-7777;ОГЭ;Математика;G101;;;15;;7;явка\n"  # unknown code and a mark out of range
        "2024;R-7777;ОГЭ;Математика;G102;;;15;;4;явка\n"  # unknown code only
        "2024;sch001;ОГЭ;Математика;G103;;;15;;5;явка\n",
        folder="gia",
    )
    first = region.run().outcome("gia_results_2024_поздние.csv")
    assert (first.rows_loaded, first.rows_quarantined) == (1, 2)
    region.write("school_codes_2.csv", CROSSWALK_HEADER + "РИС ГИА;R-7777;sch004\n")
    (release,) = next(r for r in region.run().reports if r.source == "gia_results").released
    assert (release.rows_released, release.rows_still_quarantined) == (1, 0)
    assert region.query(
        "select participant_code from raw.gia_results where _file_id = ?", [release.file_id]
    ) == [("G102",)]
    # the row with a broken mark was never waiting for its code alone: left as it was
    assert region.query(
        "select row_number, reason_code, resolved_in_file_id from raw._quarantine "
        "where file_id = ? order by all",
        [first.file_id],
    ) == [
        (2, "above_max", None),
        (2, "unknown_school", None),
        (3, "unknown_school", release.file_id),
    ]
    assert all(not r.released for r in region.run().reports)


def test_rows_whose_archived_file_is_gone_stay_quarantined_and_say_why(region: Region) -> None:
    region.deliver("gia_results_2024.csv")
    first = region.run().outcome("gia_results_2024.csv")
    (archived,) = region.query(
        "select archived_path from raw._load_log where file_id = ?", [first.file_id]
    )
    Path(archived[0]).unlink()
    region.write("school_codes_дополнение.csv", CROSSWALK_HEADER + "РИС ГИА;R-9999;sch003\n")
    (release,) = next(r for r in region.run().reports if r.source == "gia_results").released
    assert release.file_id is None and release.rows_released == 0
    assert "gia_results_2024.csv" in release.message and "missing" in release.message
    assert "R-9999" in release.message and "put the delivered file" in release.message
    assert "skipped as already delivered" in release.message  # why not simply send it again
    assert region.query("select count(*) from raw._load_log where status = 'released'") == [(0,)]
    assert region.query(
        "select count(*) from raw._quarantine where resolved_in_file_id is not null"
    ) == [(0,)]


def test_a_file_that_fails_its_recheck_stays_quarantined_and_the_new_files_load(
    region: Region, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Re-checking an earlier file can fail in ways a delivery cannot (a disk error reading the
    archive): its rows stay as they were, the night says why and the source's new files load all
    the same."""
    import ingestion.readers

    region.deliver("gia_results_2024.csv")
    region.run()
    real = ingestion.readers.stage

    def failing(con, path, *args, **kwargs):
        if "eduq-release-" in str(path):
            raise OSError(5, "Input/output error", str(path))
        return real(con, path, *args, **kwargs)

    monkeypatch.setattr(ingestion.readers, "stage", failing)
    region.write("school_codes_дополнение.csv", CROSSWALK_HEADER + "РИС ГИА;R-9999;sch003\n")
    region.write(
        "gia_results_2024_поздние.csv",
        "Год;Код ОО в РИС;Экзамен;Предмет;Код участника;Категория участника;Этап;"
        "Первичный балл;Тестовый балл;Отметка;Статус\n"
        "2024;sch001;ОГЭ;Математика;G201;;;15;;5;явка\n",
        folder="gia",
    )
    night = region.run()
    (release,) = next(r for r in night.reports if r.source == "gia_results").released
    assert release.file_id is None and "re-checking it failed" in release.message
    assert night.outcome("gia_results_2024_поздние.csv").rows_loaded == 1
    assert region.query(
        "select count(*) from raw._quarantine where resolved_in_file_id is not null"
    ) == [(0,)]
