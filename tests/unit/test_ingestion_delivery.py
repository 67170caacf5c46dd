"""Delivery rules: exactly once by content, several files add up, a corrected file wins in
staging while raw keeps both, every file is archived or rejected, and for every file
rows read = rows loaded + rows quarantined."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fixtures.ingestion.harness import CORPUS, Region, open_region


@pytest.fixture()
def region(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Region]:
    yield from open_region(tmp_path, monkeypatch)


# the dbt macro latest_delivery(['year', 'school_id']) as plain SQL
LATEST_STATS = (
    "select school_id, subject, participants, _file_id from raw.vpr_school_stats "
    "qualify _file_id = max(_file_id) over (partition by year, school_id) order by school_id, subject"
)


def _age(path: Path, seconds_ago: int) -> None:
    then = time.time() - seconds_ago
    os.utime(path, (then, then))


def test_same_content_twice_loads_once_whatever_the_name(region: Region) -> None:
    _age(region.deliver("vpr_school_stats_2024.xlsx"), 7200)
    _age(
        region.deliver(
            "vpr_school_stats_2024.xlsx", folder="vpr_school_stats", as_name="копия.xlsx"
        ),
        3600,
    )
    run = region.run()
    statuses = sorted((f.file_name, f.status) for f in run.files)
    assert statuses == [("vpr_school_stats_2024.xlsx", "loaded"), ("копия.xlsx", "duplicate")]
    assert region.query("select count(*) from raw.vpr_school_stats") == [(3,)]

    # a later delivery of the same bytes, in another run
    region.deliver("vpr_school_stats_2024.xlsx", as_name="vpr_school_stats_2024 (2).xlsx")
    again = region.run()
    assert [(f.file_name, f.status, f.message) for f in again.files] == [
        (
            "vpr_school_stats_2024 (2).xlsx",
            "duplicate",
            "same content as a file already delivered: skipped",
        )
    ]
    assert region.query("select count(*) from raw.vpr_school_stats") == [(3,)]
    assert region.query("select status, count(*) from raw._load_log group by 1 order by 1") == [
        ("duplicate", 2),
        ("loaded", 3),
    ]
    archived = sorted(p.name for p in (region.settings.archive_dir / "_duplicates").iterdir())
    assert [name.split("_", 1)[1] for name in archived] == [
        "копия.xlsx",
        "vpr_school_stats_2024 (2).xlsx",
    ]
    assert list(region.settings.landing_dir.rglob("*.xlsx")) == []


def test_a_corrected_file_wins_in_staging_and_raw_keeps_both(region: Region) -> None:
    region.deliver("vpr_school_stats_2024.xlsx")
    first = region.run().outcome("vpr_school_stats_2024.xlsx")
    region.deliver("vpr_school_stats_2024_sch001_исправление.csv")
    second = region.run().outcome("vpr_school_stats_2024_sch001_исправление.csv")
    assert (second.rows_read, second.rows_loaded, second.rows_quarantined) == (1, 1, 0)
    assert second.file_id > first.file_id

    raw = region.query(
        "select school_id, subject, participants, _file_id from raw.vpr_school_stats order by all"
    )
    assert raw == [
        ("sch001", "Математика", 20, first.file_id),
        ("sch001", "Математика", 21, second.file_id),
        ("sch001", "Русский язык", 20, first.file_id),
        ("sch003", "Математика", 12, first.file_id),
    ]
    # the latest delivery replaces everything the earlier one said for (2024, sch001)
    assert region.query(LATEST_STATS) == [
        ("sch001", "Математика", 21, second.file_id),
        ("sch003", "Математика", 12, first.file_id),
    ]


def test_files_of_one_batch_load_in_the_order_they_were_saved(region: Region) -> None:
    original = region.deliver(
        "vpr_school_stats_2024.xlsx", folder="vpr_school_stats", as_name="z_original.xlsx"
    )
    correction = region.deliver(
        "vpr_school_stats_2024_sch001_исправление.csv",
        folder="vpr_school_stats",
        as_name="a_correction.csv",
    )
    _age(original, 7200)
    _age(correction, 3600)
    run = region.run()
    assert run.outcome("a_correction.csv").file_id > run.outcome("z_original.xlsx").file_id
    assert [r[2] for r in region.query(LATEST_STATS) if r[0] == "sch001"] == [21]


@pytest.mark.parametrize(
    "correction",
    ["vpr_school_stats_2024 (исправленный).csv", "vpr_school_stats_2024_2.csv"],
)
def test_files_saved_at_the_same_time_load_a_name_after_the_name_it_extends(
    region: Region, correction: str
) -> None:
    """Unpacked from one archive, a file and its correction have the same modification time: the
    name that extends the other («… (исправленный)», «…_2») is the later delivery (the whole path
    compared, a space sorted before the dot and the original won)."""
    original = region.deliver("vpr_school_stats_2024.xlsx", folder="vpr_school_stats")
    later = region.deliver(
        "vpr_school_stats_2024_sch001_исправление.csv",
        folder="vpr_school_stats",
        as_name=correction,
    )
    then = time.time() - 3600
    for path in (original, later):
        os.utime(path, (then, then))
    run = region.run()
    assert run.outcome(correction).file_id > run.outcome("vpr_school_stats_2024.xlsx").file_id
    assert [r[2] for r in region.query(LATEST_STATS) if r[0] == "sch001"] == [21]


def test_several_files_of_one_source_and_year_add_up(region: Region) -> None:
    header = "Год;Код ОО;Всего обучающихся;Из неполных семей\n"
    region.write(
        "Социальный паспорт 2024 Кировский.csv",
        header + "2024;sch001;500;40\n2024;sch002;1034;80\n",
    )
    region.write("Социальный паспорт 2024 Заречный.csv", header + "2024;sch004;120;10\n")
    run = region.run()
    assert sorted((f.file_name, f.rows_loaded) for f in run.files) == [
        ("Социальный паспорт 2024 Заречный.csv", 1),
        ("Социальный паспорт 2024 Кировский.csv", 2),
    ]
    latest = region.query(
        "select school_id, students_total from raw.social_passport "
        "qualify _file_id = max(_file_id) over (partition by year, school_id) order by 1"
    )
    assert latest == [("sch001", 500), ("sch002", 1034), ("sch004", 120)]


def test_rows_read_equal_loaded_plus_quarantined_for_every_file(region: Region) -> None:
    for name in (
        "ВПР_2024_участники_Кировский.csv",
        "vpr_results_4kl_rus.csv",
        "vpr_results_unicode.txt",
        "vpr_school_stats_2024.xlsx",
        "Социальный паспорт 2024.xlsx",
        "resource_survey_2024.csv",
        "gia_results_2024.csv",
        "school_successors.xlsx",
        "empty.csv",
        "vpr_results_truncated.xlsx",
    ):
        region.deliver(name)
    region.run()
    logged = region.query(
        "select file_id, source, file_name, rows_read, rows_loaded, rows_quarantined from raw._load_log "
        "where status = 'loaded'"
    )
    assert len(logged) == 10  # 2 reference files + 8 of this delivery
    for file_id, source, name, read, loaded, quarantined in logged:
        assert read == loaded + quarantined, name
        assert region.query(f"select count(*) from raw.{source} where _file_id = ?", [file_id]) == [
            (loaded,)
        ], name
        assert region.query(
            "select count(distinct row_number) from raw._quarantine where file_id = ?", [file_id]
        ) == [(quarantined,)], name
        loaded_rows = {
            r[0]
            for r in region.query(
                f"select _row_number from raw.{source} where _file_id = ?", [file_id]
            )
        }
        quarantined_rows = {
            r[0]
            for r in region.query(
                "select row_number from raw._quarantine where file_id = ?", [file_id]
            )
        }
        assert not loaded_rows & quarantined_rows, name
    assert region.query("select count(*) from raw._load_log where status = 'rejected'") == [(2,)]


def test_accepted_files_are_archived_and_the_landing_folder_is_left_empty(region: Region) -> None:
    region.deliver("gia_results_2024.csv", folder="gia_results")
    outcome = region.run().outcome("gia_results_2024.csv")
    archived = region.query(
        "select archived_path from raw._load_log where file_id = ?", [outcome.file_id]
    )[0][0]
    assert (
        Path(archived)
        == region.settings.archive_dir
        / "gia_results"
        / f"{outcome.file_id:06d}_gia_results_2024.csv"
    )
    assert Path(archived).read_bytes() == (CORPUS / "gia_results_2024.csv").read_bytes()
    assert [p for p in region.settings.landing_dir.rglob("*") if p.is_file()] == []


def test_quarantine_keeps_the_delivered_row(region: Region) -> None:
    region.deliver("resource_survey_2024.csv")
    outcome = region.run().outcome("resource_survey_2024.csv")
    row = region.query(
        "select row_values from raw._quarantine where file_id = ? and row_number = 5",
        [outcome.file_id],
    )[0][0]
    values = json.loads(row)
    assert values["school_id"] == "sch004"
    assert values["has_psychologist"] == "может быть"
    assert values["avg_teacher_load"] == "1,1"


def test_unknown_schools_when_the_registry_was_never_loaded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bare = Region(tmp_path, monkeypatch)
    try:
        bare.deliver("gia_results_2024.csv")
        outcome = bare.run().outcome("gia_results_2024.csv")
        assert (outcome.rows_loaded, outcome.rows_quarantined) == (0, 3)
        reasons = set(bare.reasons(outcome).values())
        assert reasons == {
            (
                "unknown school code: not in the school registry nor in the code crosswalk "
                "(the registry raw.schools is empty: load «Реестр ОО» first)"
            )
        }
    finally:
        bare.close()


def test_a_year_in_the_file_name_or_a_rejection(region: Region) -> None:
    header = "Код ОО;Наименование ОО;Код МО;МО;Тип местности\n"
    region.write("schools.csv", header + "sch010;Школа;01;Район;город\n", folder="schools")
    outcome = region.run().outcome("schools.csv")
    assert outcome.status == "rejected"
    assert outcome.message == (
        "schools.csv: «Реестр общеобразовательных организаций» (schools) needs the year: put it in the file "
        "name (e.g. schools_2024.xlsx) or add a «Год» column"
    )


def test_nothing_new_means_nothing_loaded(region: Region) -> None:
    before = region.query("select count(*) from raw._load_log")
    run = region.run()
    assert run.files == []
    assert region.query("select count(*) from raw._load_log") == before


def test_the_same_registry_under_two_years_loads_for_both(region: Region) -> None:
    """A registry without a «Год» column takes its year from the file name: the same bytes named
    for another year are a delivery for that year, not a duplicate; named for the same year again,
    they are."""
    content = "Код ОО;Наименование ОО;Код МО;МО;Тип местности\nsch010;Школа;01;Район;город\n"
    for name in ("schools_2023.csv", "schools_2024.csv"):
        region.write(name, content, folder="schools")
    run = region.run()
    assert sorted((f.file_name, f.status) for f in run.files) == [
        ("schools_2023.csv", "loaded"),
        ("schools_2024.csv", "loaded"),
    ]
    assert region.query(
        "select year, school_id from raw.schools where school_id = 'sch010' order by 1"
    ) == [(2023, "sch010"), (2024, "sch010")]
    region.write("Реестр ОО на 2024 год.csv", content, folder="schools")
    again = region.run()
    assert [(f.file_name, f.status) for f in again.files] == [
        ("Реестр ОО на 2024 год.csv", "duplicate")
    ]


def test_a_file_unchanged_since_the_survey_is_not_hashed_again_at_writing(
    region: Region, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ingestion import loader

    monkeypatch.setattr(loader, "RECENT_CHANGE_SECONDS", 0.0)  # copied in just now: no wait
    _age(region.deliver("resource_survey_2024.csv"), 7200)
    loader.survey_landing(region.con, region.settings)
    hashed: list[Path] = []
    real = loader.file_sha256
    monkeypatch.setattr(loader, "file_sha256", lambda p: hashed.append(p) or real(p))
    report = loader.load_source(region.con, region.settings, "resource_survey")
    assert [f.status for f in report.files] == ["loaded"] and hashed == []


def test_a_file_rewritten_after_the_survey_with_its_size_and_time_kept_is_not_loaded(
    region: Region, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its identity (the change time no program sets back) tells it changed: hashed again, differs."""
    from ingestion import loader

    monkeypatch.setattr(loader, "RECENT_CHANGE_SECONDS", 0.0)
    path = region.deliver("resource_survey_2024.csv")
    _age(path, 7200)
    loader.survey_landing(region.con, region.settings)
    stat = path.stat()
    time.sleep(0.05)  # past the kernel's clock tick: the rewrite gets another change time
    data = bytearray(path.read_bytes())
    at = data.index(b"\n", len(data) // 2) + 1  # a digit of a later row changed: the same size
    at = next(i for i in range(at, len(data)) if chr(data[i]).isdigit())
    data[at] = ord("1") if data[at] != ord("1") else ord("2")
    path.write_bytes(bytes(data))
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert path.stat().st_size == stat.st_size and path.stat().st_mtime_ns == stat.st_mtime_ns
    assert path.stat().st_ctime_ns != stat.st_ctime_ns
    report = loader.load_source(region.con, region.settings, "resource_survey")
    assert report.files == [] and report.deferred == ["resource_survey_2024.csv"]
    assert region.query("select count(*) from raw.resource_survey") == [(0,)]


def test_a_file_changed_just_before_the_survey_keeps_no_identity_and_is_hashed_again(
    region: Region, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A write in the same clock tick as the survey's stat would leave the change time equal: a
    file changed within RECENT_CHANGE_SECONDS is hashed again when it is written."""
    from ingestion import loader

    path = region.deliver("resource_survey_2024.csv")  # its change time: now
    _age(path, 7200)
    file_hash, identity = loader.hash_with_identity(path)
    assert identity is None and file_hash == loader.file_sha256(path)
    loader.survey_landing(region.con, region.settings)
    hashed: list[Path] = []
    real = loader.file_sha256
    monkeypatch.setattr(loader, "file_sha256", lambda p: hashed.append(p) or real(p))
    report = loader.load_source(region.con, region.settings, "resource_survey")
    assert [f.status for f in report.files] == ["loaded"] and hashed == [path]


def test_a_survey_stopped_before_queueing_queues_every_file_next_time(
    region: Region, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The surveyed files are queued in one transaction at the end: a survey stopped before (here
    the queueing itself fails half-way) queues none and leaves every file in the landing folder,
    and the next survey queues each of them once, as a survey never stopped would."""
    from ingestion import loader

    for name, age in (("resource_survey_2024.csv", 7200), ("vpr_school_stats_2024.xlsx", 3600)):
        _age(region.deliver(name), age)
    calls = []
    real_insert_rows = loader.insert_rows

    class Stopped(Exception):
        pass

    def stop_after_first_row(con, sql, rows):  # the first row written, then the process "dies"
        calls.append(len(rows))
        real_insert_rows(con, sql, rows[:1])
        raise Stopped

    with monkeypatch.context() as patch:
        patch.setattr(loader, "insert_rows", stop_after_first_row)
        with pytest.raises(Stopped):
            loader.survey_landing(region.con, region.settings)
    assert calls == [2]
    assert region.query("select count(*) from raw._landing_queue") == [(0,)]
    assert len(list(region.settings.landing_dir.rglob("*.*"))) == 2
    report = loader.survey_landing(region.con, region.settings)
    assert sorted(o.status for o in report.outcomes) == ["queued", "queued"]
    assert region.query(
        "select source, count(*) from raw._landing_queue group by 1 order by 1"
    ) == [("resource_survey", 1), ("vpr_school_stats", 1)]
    run = region.run()
    assert sorted((f.file_name, f.status) for f in run.files) == [
        ("resource_survey_2024.csv", "loaded"),
        ("vpr_school_stats_2024.xlsx", "loaded"),
    ]


def test_a_write_stopped_half_way_leaves_the_file_queued_and_nothing_written(
    region: Region, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file leaves raw._landing_queue in the transaction that writes its rows and its load-log
    line: stopped before the commit, none of them is kept and the file is still queued; the next
    load writes it once."""
    from ingestion import loader

    monkeypatch.setattr(loader, "RECENT_CHANGE_SECONDS", 0.0)
    _age(region.deliver("resource_survey_2024.csv"), 7200)
    loader.survey_landing(region.con, region.settings)

    def killed(*_args: object) -> bool:
        raise RuntimeError("killed before the commit")

    with monkeypatch.context() as patch:
        patch.setattr(loader, "unchanged_since", killed)
        with pytest.raises(RuntimeError, match="killed"):
            loader.load_source(region.con, region.settings, "resource_survey")
    assert region.query("select count(*) from raw._landing_queue") == [(1,)]
    assert region.query("select count(*) from raw.resource_survey") == [(0,)]
    assert region.query("select count(*) from raw._load_log where source = 'resource_survey'") == [
        (0,)
    ]
    report = loader.load_source(region.con, region.settings, "resource_survey")
    assert [f.status for f in report.files] == ["loaded"]
    assert region.query("select count(*) from raw._landing_queue") == [(0,)]
    assert region.query("select count(*) from raw.resource_survey") == [
        (report.files[0].rows_loaded,)
    ]


def test_a_survey_stopped_by_an_error_queues_the_files_recognised_before_it(
    region: Region, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An error the survey does not expect (here reading the second file fails) stops the run, as
    before, and the files recognised before it are queued, as a survey that queued each file at
    once had left them; the next survey queues the rest."""
    from ingestion import loader, readers

    first = region.deliver("resource_survey_2024.csv")
    second = region.deliver("vpr_school_stats_2024.xlsx")
    _age(first, 7200)
    _age(second, 3600)
    real_sniff = readers.sniff

    def unreadable(path: Path, contracts):  # type: ignore[no-untyped-def]
        if path.name == second.name:
            raise OSError("input/output error")
        return real_sniff(path, contracts)

    with monkeypatch.context() as patch:
        patch.setattr(readers, "sniff", unreadable)
        with pytest.raises(OSError, match="input/output"):
            loader.survey_landing(region.con, region.settings)
    assert region.query("select source from raw._landing_queue") == [("resource_survey",)]
    loader.survey_landing(region.con, region.settings)
    assert region.query("select source from raw._landing_queue order by 1") == [
        ("resource_survey",),
        ("vpr_school_stats",),
    ]
