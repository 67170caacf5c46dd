"""`eduq withdraw` (ingestion.withdraw): a delivered file taken back leaves the raw facts as if it had
never been delivered, keeps its bytes aside, may be delivered again, is never loaded again by a
release, and is withdrawn again where it was by a rebuild. That a build after a withdrawal gives the marts of the facts alone is
tests/integration/test_delivery_shapes.py::test_files_withdrawn_after_a_build_leave_the_marts_of_the_facts_alone."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from ingestion.loader import FileOutcome
from ingestion.withdraw import Withdrawal, WithdrawRefused, withdraw
from tests.fixtures.ingestion.harness import CORPUS, Region, open_region

CROSSWALK_HEADER = "Система;Код в системе;Код ОО\n"


@pytest.fixture()
def region(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Region]:
    yield from open_region(tmp_path, monkeypatch)


def _withdraw(region: Region, file: str, reason: str = "не тот файл", **kwargs) -> Withdrawal:
    """withdraw() with the test's own connection closed meanwhile (the command opens its own)."""
    region.con.close()
    try:
        return withdraw(region.settings, file, reason, **kwargs)
    finally:
        region.con = duckdb.connect(str(region.settings.candidate_db))


def _delivered_results(region: Region) -> FileOutcome:
    """The corpus's ОГЭ/ЕГЭ file delivered and loaded: its outcome."""
    region.deliver("gia_results_2024.csv")
    return region.run().outcome("gia_results_2024.csv")


def _results(region: Region) -> list[tuple]:
    return region.query(
        "select year, school_id, subject, participant_code, mark, _source_file, _row_number "
        "from raw.gia_results order by all"
    )


def test_a_withdrawn_file_leaves_the_facts_as_before_it_and_may_be_delivered_again(
    region: Region,
) -> None:
    first = _delivered_results(region)
    facts = _results(region)
    # a wrong «correction» of the same results: it replaces them (the latest delivery)
    wrong = (CORPUS / "gia_results_2024.csv").read_bytes().replace(b";10;;3;", b";10;;2;")
    region.write("gia_results_2024_исправление.csv", wrong)
    bad = region.run().outcome("gia_results_2024_исправление.csv")
    assert bad.status == "loaded" and bad.rows_loaded > 0
    archived = next((region.settings.archive_dir / "gia_results").glob(f"{bad.file_id:06d}_*"))

    region.con.execute("checkpoint")
    stat = region.settings.candidate_db.stat()
    dry = _withdraw(region, "gia_results_2024_исправление.csv", dry_run=True)
    after = region.settings.candidate_db.stat()
    assert (after.st_size, after.st_mtime_ns) == (stat.st_size, stat.st_mtime_ns)
    assert dry.rows_removed == bad.rows_loaded and dry.dry_run
    assert "Nothing was changed" in dry.render()
    assert archived.exists()
    assert region.query("select status from raw._load_log where file_id = ?", [bad.file_id]) == [
        ("loaded",)
    ]

    done = _withdraw(region, str(bad.file_id), reason="отметки не из этой выгрузки")
    assert (done.file_id, done.rows_removed) == (bad.file_id, bad.rows_loaded)
    assert _results(region) == facts  # the original delivery counts again
    assert not archived.exists() and done.archived_to == (
        region.settings.withdrawn_dir / "gia_results" / archived.name
    )
    assert done.archived_to.read_bytes() == wrong  # nothing is lost
    assert region.query(
        "select status, rows_read, rows_loaded, withdrawn_reason, archived_path from raw._load_log "
        "where file_id = ?",
        [bad.file_id],
    ) == [
        (
            "withdrawn",
            bad.rows_read,
            bad.rows_loaded,
            "отметки не из этой выгрузки",
            str(done.archived_to),
        )
    ]
    # the first delivery is untouched
    assert region.query("select status from raw._load_log where file_id = ?", [first.file_id]) == [
        ("loaded",)
    ]
    # the same bytes delivered again (now meant): a delivery, not a duplicate of a withdrawn file
    region.write("gia_results_2024_исправление_верное.csv", wrong)
    again = region.run().outcome("gia_results_2024_исправление_верное.csv")
    assert again.status == "loaded" and again.rows_loaded == bad.rows_loaded
    # and the rebuild's list of archived deliveries does not hold the withdrawn one
    from orchestration.rebuild import archived_files

    assert bad.file_id not in [fid for fid, _, _ in archived_files(region.settings.archive_dir)]


def test_a_file_is_refused_when_it_cannot_be_withdrawn(region: Region) -> None:
    loaded = _delivered_results(region)
    region.deliver("gia_results_2024.csv", as_name="gia_results_2024_копия.csv")
    duplicate = region.run().outcome("gia_results_2024_копия.csv")
    assert duplicate.status == "duplicate"
    cases = {
        "999": "no delivered file '999'",
        "нет_такого.csv": "no delivered file 'нет_такого.csv'",
        str(duplicate.file_id): "was not loaded (status duplicate)",
    }
    for file, said in cases.items():
        with pytest.raises(WithdrawRefused, match=said.replace("(", r"\(").replace(")", r"\)")):
            _withdraw(region, file)
    with pytest.raises(WithdrawRefused, match="say why"):
        _withdraw(region, str(loaded.file_id), reason="  ")
    # two loaded files of one name (folders of two municipalities): named by id only
    (region.settings.landing_dir / "mo2").mkdir()
    other = (CORPUS / "gia_results_2024.csv").read_bytes().replace(b";10;;3;", b";10;;4;")
    region.write("gia_results_2024.csv", other, folder="mo2")
    region.run()
    with pytest.raises(WithdrawRefused, match="2 loaded files are named"):
        _withdraw(region, "gia_results_2024.csv")
    assert region.query("select count(*) from raw._load_log where status = 'withdrawn'") == [(0,)]


def test_a_withdrawal_that_fails_changes_nothing(
    region: Region, monkeypatch: pytest.MonkeyPatch
) -> None:
    loaded = _delivered_results(region)
    facts = _results(region)
    archived = next((region.settings.archive_dir / "gia_results").glob(f"{loaded.file_id:06d}_*"))
    import ingestion.withdraw as module

    def fail(con, withdrawal):
        con.execute("delete from raw.gia_results")
        raise duckdb.IOException("disk full")

    monkeypatch.setattr(module, "_write", fail)
    with pytest.raises(duckdb.IOException):
        _withdraw(region, str(loaded.file_id))
    assert archived.exists() and not any(region.settings.withdrawn_dir.rglob("*.csv"))
    assert _results(region) == facts
    assert region.query("select status from raw._load_log where file_id = ?", [loaded.file_id]) == [
        ("loaded",)
    ]


def test_rows_released_from_a_withdrawn_files_quarantine_go_with_it_and_wait_no_more(
    region: Region,
) -> None:
    """A file whose unknown-code rows were released once the crosswalk named the school: withdrawn
    (by the release's id too), its released rows leave with it; and its rows still waiting for a
    code are never released, even when a later crosswalk names theirs."""
    region.write(
        "gia_results_2024_поздние.csv",
        "Год;Код ОО в РИС;Экзамен;Предмет;Код участника;Категория участника;Этап;"
        "Первичный балл;Тестовый балл;Отметка;Статус\n"
        "2024;R-7777;ОГЭ;Математика;G101;;;15;;4;явка\n"
        "2024;R-8888;ОГЭ;Математика;G102;;;15;;4;явка\n"
        "2024;sch001;ОГЭ;Математика;G103;;;15;;5;явка\n",
        folder="gia",
    )
    delivered = region.run().outcome("gia_results_2024_поздние.csv")
    assert delivered.rows_quarantined == 2
    region.write("school_codes_2.csv", CROSSWALK_HEADER + "РИС ГИА;R-7777;sch004\n")
    (release,) = next(r for r in region.run().reports if r.source == "gia_results").released
    assert release.rows_released == 1

    done = _withdraw(region, str(release.file_id))  # the release's id: its delivered file
    assert done.file_id == delivered.file_id and done.released_lines == [release.file_id]
    assert done.rows_removed == 2 and done.rows_quarantined == 1
    assert region.query("select count(*) from raw.gia_results") == [(0,)]
    assert region.query(
        "select file_id, status from raw._load_log where source = 'gia_results' order by 1"
    ) == [(delivered.file_id, "withdrawn"), (release.file_id, "withdrawn")]
    # named again by its name: the delivered file (not its release's line), withdrawn already
    assert _withdraw(region, "gia_results_2024_поздние.csv").finishing
    # the crosswalk now names the other school: the withdrawn file's row stays where it is
    region.write("school_codes_3.csv", CROSSWALK_HEADER + "РИС ГИА;R-8888;sch005\n")
    night = region.run()
    assert all(not r.released for r in night.reports)
    assert region.query("select count(*) from raw.gia_results") == [(0,)]


def test_the_command_says_what_it_withdrew_and_refuses_without_a_traceback(
    region: Region, capsys: pytest.CaptureFixture
) -> None:
    from orchestration.cli import main

    loaded = _delivered_results(region)
    region.con.close()
    try:
        assert main(["withdraw", "12345", "--reason", "x"]) == 2
        err = capsys.readouterr().err
        assert err.startswith("eduq withdraw: no delivered file '12345'") and "Traceback" not in err
        assert main(["withdraw", "gia_results_2024.csv", "--reason", "чужой регион"]) == 0
        out = capsys.readouterr().out
        assert (
            f"Withdrawn: file {loaded.file_id} «gia_results_2024.csv» (gia_results, years 2024)"
            in out
        )
        assert f"{loaded.rows_loaded} rows removed from raw.gia_results" in out
        assert "until the next `eduq run`" in out
    finally:
        region.con = duckdb.connect(str(region.settings.candidate_db))
    shutil.rmtree(region.settings.withdrawn_dir)  # (tmp_path: nothing to keep)


def test_the_duplicates_of_a_withdrawn_file_leave_the_archive_with_it(region: Region) -> None:
    """The same bytes sent twice: the second copy was skipped as a duplicate and archived. Withdrawn,
    the first takes its duplicate's copy along, so that `eduq rebuild` (which loads every archived
    delivery again, duplicates included) cannot bring the withdrawn facts back through it."""
    from orchestration.rebuild import archived_files

    loaded = _delivered_results(region)
    region.deliver("gia_results_2024.csv", as_name="gia_results_2024_повторно.csv")
    duplicate = region.run().outcome("gia_results_2024_повторно.csv")
    assert duplicate.status == "duplicate"
    done = _withdraw(region, "gia_results_2024.csv")
    archived = {fid for fid, _, _ in archived_files(region.settings.archive_dir)}
    assert loaded.file_id not in archived and duplicate.file_id not in archived
    kept = region.settings.withdrawn_dir / "_duplicates"
    assert [p.name for p in kept.iterdir()] == [
        f"{duplicate.file_id:06d}_gia_results_2024_повторно.csv"
    ]
    assert region.query(
        "select archived_path from raw._load_log where file_id = ?", [duplicate.file_id]
    ) == [(str(kept / f"{duplicate.file_id:06d}_gia_results_2024_повторно.csv"),)]
    assert "archived copies moved to" in done.render()


def test_a_copy_that_could_not_be_moved_is_said_and_withdrawing_again_moves_it(
    region: Region, monkeypatch: pytest.MonkeyPatch
) -> None:
    loaded = _delivered_results(region)
    archived = next((region.settings.archive_dir / "gia_results").glob(f"{loaded.file_id:06d}_*"))
    real_move = shutil.move

    def refuse(src, dst, *args, **kwargs):
        raise PermissionError("read-only archive")

    monkeypatch.setattr(shutil, "move", refuse)
    done = _withdraw(region, str(loaded.file_id))
    assert done.not_moved and "NOT MOVED" in done.render() and archived.exists()
    assert region.query("select status from raw._load_log where file_id = ?", [loaded.file_id]) == [
        ("withdrawn",)
    ]
    monkeypatch.setattr(shutil, "move", real_move)
    finished = _withdraw(region, str(loaded.file_id), reason="")  # the reason is the first one's
    assert finished.finishing and not finished.not_moved and not archived.exists()
    assert finished.render().startswith(
        f"File {loaded.file_id} «gia_results_2024.csv» was withdrawn before (не тот файл)"
    )
    assert (region.settings.withdrawn_dir / "gia_results" / archived.name).exists()


def test_a_reason_that_names_a_participant_is_refused(region: Region) -> None:
    loaded = _delivered_results(region)
    with pytest.raises(WithdrawRefused, match="names 1 participant code"):
        _withdraw(region, str(loaded.file_id), reason="строка участника G003 неверна")
    assert region.query("select status from raw._load_log where file_id = ?", [loaded.file_id]) == [
        ("loaded",)
    ]


def test_nothing_is_published_from_the_serving_warehouse_until_a_build_without_the_file(
    region: Region,
) -> None:
    from core.withdrawals import pending_withdrawals
    from gate.errors import PublicationRefused
    from gate.publishable import require_intact

    loaded = _delivered_results(region)
    serving = region.settings.serving_db
    require_intact(serving, record_required=False)  # nothing withdrawn: no objection
    _withdraw(region, str(loaded.file_id), reason="чужой регион")
    assert [(w["file_id"], w["reason"]) for w in pending_withdrawals(serving)] == [
        (loaded.file_id, "чужой регион")
    ]
    with pytest.raises(PublicationRefused, match="withdrawn after the serving warehouse was built"):
        require_intact(serving, record_required=False)


def test_a_run_that_loads_a_withdrawn_files_bytes_again_says_so(region: Region) -> None:
    """The same wrong bytes sent again under another name load (a withdrawn file is no delivery the
    duplicate check knows), and the run's summary names the withdrawn file and its reason."""
    from orchestration.runner import RunSummary, loaded_again

    loaded = _delivered_results(region)
    _withdraw(region, str(loaded.file_id), reason="чужой регион")
    region.deliver("gia_results_2024.csv", as_name="gia_2024_ещё_раз.csv")
    again = region.run().outcome("gia_2024_ещё_раз.csv")
    assert again.status == "loaded"
    run_id = "night-2"  # (the harness loads without a run id)
    region.con.execute(
        "update raw._load_log set run_id = ? where file_id = ?", [run_id, again.file_id]
    )
    region.con.execute("create schema meta")
    region.con.execute("create view meta.load_log as select * from raw._load_log")
    found = loaded_again(region.con, run_id)
    assert found == [
        ("gia_2024_ещё_раз.csv", loaded.file_id, "gia_results_2024.csv", "чужой регион")
    ]
    said = RunSummary(run_id, None, None, loaded_again=found).render()
    assert (
        f"NOTE gia_2024_ещё_раз.csv: the same bytes as file {loaded.file_id} «gia_results_2024.csv», "
        "withdrawn (чужой регион): loaded again" in said
    )


def test_withdrawing_a_crosswalk_says_which_rows_it_leaves_without_a_school(region: Region) -> None:
    """The ОГЭ/ЕГЭ rows delivered under the exam system's codes load through the crosswalk; the
    crosswalk withdrawn, they would count for no school: the withdrawal says how many, of which
    files, in the dry run as after it."""
    loaded = _delivered_results(region)
    under_crosswalk = region.query(
        "select count(*) from raw.gia_results where school_id like 'R-%'"
    )[0][0]
    assert under_crosswalk > 0
    for dry_run in (True, False):
        done = _withdraw(region, "school_codes.csv", dry_run=dry_run)
        assert done.orphaned == [("gia_results", under_crosswalk, 1)], dry_run
        assert f"WARNING: {under_crosswalk} rows of 1 gia_results file(s)" in done.render()
    assert (
        region.query("select count(*) from raw.gia_results where _file_id = ?", [loaded.file_id])[
            0
        ][0]
        == loaded.rows_loaded
    )  # they stay, as delivered


def test_a_pending_withdrawal_makes_a_run_and_holds_postgres_and_unreadable_notes_hold_too(
    region: Region,
) -> None:
    from core.withdrawals import describe_pending, pending_path
    from gate.errors import PublicationRefused
    from orchestration.plan import nothing_new, requested_list_refusal
    from publishing.postgres import require_passed_audit

    loaded = _delivered_results(region)
    _withdraw(region, str(loaded.file_id))
    settings, serving = region.settings, region.settings.serving_db
    assert nothing_new(settings) == (
        None,
        "a file was withdrawn since the serving build (`eduq withdraw`)",
    )
    assert requested_list_refusal(settings, 2025) is None  # the run decides, without the file
    with pytest.raises(PublicationRefused, match="Nothing was published to PostgreSQL"):
        require_passed_audit(None, serving)
    for damaged in ("{not json", '["a list"]', '{"withdrawals": [1]}'):
        pending_path(serving).write_text(damaged, encoding="utf-8")
        said = describe_pending(serving)
        assert said is not None and "cannot be read" in said, damaged


def test_withdrawing_again_writes_a_lost_note_while_the_serving_warehouse_holds_the_file(
    region: Region,
) -> None:
    from core.withdrawals import pending_path, pending_withdrawals

    loaded = _delivered_results(region)
    serving = region.settings.serving_db
    with duckdb.connect(str(serving)) as con:  # built before the withdrawal: the file loaded
        con.execute("create schema meta")
        con.execute(
            "create table meta.load_log as select file_id, status from values (?, 'loaded') "
            "as t(file_id, status)",
            [loaded.file_id],
        )
    _withdraw(region, str(loaded.file_id))
    pending_path(serving).unlink()  # lost (a crash after the commit)
    again = _withdraw(region, str(loaded.file_id))
    assert again.finishing
    assert [w["file_id"] for w in pending_withdrawals(serving)] == [loaded.file_id]


def test_a_dry_run_on_a_warehouse_from_before_withdrawals_leaves_it_as_it_was(
    region: Region,
) -> None:
    loaded = _delivered_results(region)
    for column in ("withdrawn_at", "withdrawn_reason"):
        region.con.execute(f"alter table raw._load_log drop column {column}")
    region.con.execute("checkpoint")
    before = region.settings.candidate_db.stat()
    dry = _withdraw(region, str(loaded.file_id), dry_run=True)
    after = region.settings.candidate_db.stat()
    assert dry.rows_removed == loaded.rows_loaded
    assert (after.st_size, after.st_mtime_ns) == (before.st_size, before.st_mtime_ns)
    columns = {r[0] for r in region.query("describe raw._load_log")}
    assert "withdrawn_reason" not in columns


def test_withdrawing_the_only_registry_of_a_results_year_says_the_lists_wait_for_one(
    region: Region,
) -> None:
    _delivered_results(region)
    dry = _withdraw(region, "schools_2024.csv", dry_run=True)
    assert dry.years_without_registry == [2024]
    assert (
        "WARNING: results of 2024 are loaded and no registry of 2024 would be left" in dry.render()
    )


def _withdrawn_and_delivered_again(region: Region) -> Withdrawal:
    """A wrong correction (with a duplicate copy) withdrawn, then its bytes delivered again, meant."""
    _delivered_results(region)
    wrong = (CORPUS / "gia_results_2024.csv").read_bytes().replace(b";10;;3;", b";10;;2;")
    region.write("gia_results_2024_исправление.csv", wrong)
    region.run()
    region.write("gia_results_2024_исправление_повторно.csv", wrong)  # sent twice
    assert region.run().outcome("gia_results_2024_исправление_повторно.csv").status == "duplicate"
    done = _withdraw(region, "gia_results_2024_исправление.csv", reason="не из этой выгрузки")
    region.write("gia_results_2024_исправление_верное.csv", wrong)  # now meant
    assert region.run().outcome("gia_results_2024_исправление_верное.csv").status == "loaded"
    return done


LOAD_LOG = (
    "select file_id, file_name, status, rows_read, rows_loaded, withdrawn_at, withdrawn_reason "
    "from raw._load_log order by file_id"
)


def _set_aside(settings, aside: Path) -> None:
    """What `eduq rebuild` moves aside before it replays."""
    aside.mkdir()
    for path, name in (
        (settings.candidate_db, "candidate.duckdb"),
        (settings.archive_dir, "archive"),
        (settings.withdrawn_dir, "withdrawn"),
    ):
        shutil.move(str(path), aside / name)
    settings.archive_dir.mkdir()


def test_a_rebuild_withdraws_a_file_again_where_it_was_withdrawn(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`eduq rebuild` loads the archive again (orchestration.rebuild.replay_archive): the withdrawn
    file and the withdrawal come back in their places, with its reason and time, so the same bytes
    delivered again after the withdrawal load as they did (withdrawn at the end instead, they would
    be a duplicate of the withdrawn file and leave with it), and the load log that the lists'
    manifests read keeps the withdrawal."""
    from core.withdrawals import pending_withdrawals
    from ingestion.withdraw import withdrawal_records
    from orchestration.rebuild import replay_archive
    from tests.fixtures.ingestion.harness import Region

    region = Region(tmp_path, monkeypatch).with_reference()  # archived too: a rebuild needs them
    settings = region.settings
    try:
        done = _withdrawn_and_delivered_again(region)
        facts, log = _results(region), region.query(LOAD_LOG)
        assert [r[2] for r in log].count("withdrawn") == 1
        region.con.close()
        settings.serving_db.with_name("withdrawals-pending.json").unlink()  # promoted since

        _set_aside(settings, tmp_path / "aside")
        replay = replay_archive(
            settings, tmp_path / "aside" / "archive", tmp_path / "aside" / "withdrawn"
        )
        region.con = duckdb.connect(str(settings.candidate_db))
        assert replay.withdrawn_again == [
            "«gia_results_2024_исправление.csv» (не из этой выгрузки)"
        ]
        assert not replay.left
        assert _results(region) == facts
        assert region.query(LOAD_LOG) == log
        # withdrawn again: its copies are aside, recorded for the next rebuild; the serving file
        # (built without it) is not held back by the replay
        (record,) = withdrawal_records(settings.withdrawn_dir)
        assert record["reason"] == "не из этой выгрузки"
        assert record["withdrawn_at"] == done.withdrawn_at.isoformat()
        assert len(record["copies"]) == 2  # its own and its duplicate's
        assert all((settings.withdrawn_dir / c).is_file() for c in record["copies"])
        assert pending_withdrawals(settings.serving_db) == []
    finally:
        region.close()


def test_a_rebuild_that_cannot_withdraw_a_file_again_stops_and_puts_everything_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its rows would count: nothing is built or published, and the home is as before the rebuild."""
    import ingestion.withdraw
    from orchestration.rebuild import RebuildFailed, rebuild
    from tests.fixtures.ingestion.harness import Region

    region = Region(tmp_path, monkeypatch).with_reference()
    settings = region.settings
    try:
        _withdrawn_and_delivered_again(region)
        region.con.close()
        before = {
            p.relative_to(settings.home): p.read_bytes()
            for folder in (settings.archive_dir, settings.withdrawn_dir)
            for p in folder.rglob("*")
            if p.is_file()
        }
        candidate = settings.candidate_db.read_bytes()

        def refuse(*args, **kwargs):
            raise WithdrawRefused("the disk is read-only")

        monkeypatch.setattr(ingestion.withdraw, "withdraw_on", refuse)
        with pytest.raises(RebuildFailed, match="could not be withdrawn again") as failed:
            rebuild(settings)
        assert "Nothing was rebuilt" in str(failed.value)
        after = {
            p.relative_to(settings.home): p.read_bytes()
            for folder in (settings.archive_dir, settings.withdrawn_dir)
            for p in folder.rglob("*")
            if p.is_file()
        }
        assert after == before and settings.candidate_db.read_bytes() == candidate
        (aside,) = settings.warehouse_dir.glob("before-rebuild-*")
        assert (aside / "unfinished" / "candidate.duckdb").exists()
    finally:
        region.con = duckdb.connect(str(settings.candidate_db))
        region.close()


def test_withdrawal_records_that_cannot_be_read_are_skipped(tmp_path: Path) -> None:
    """A line edited by hand or cut short: its copies stay aside (never loaded), the rest count."""
    import json

    from ingestion.withdraw import RECORDS, withdrawal_records

    good = {
        "file_id": 4,
        "file_name": "a.csv",
        "source": "gia_results",
        "reason": "не тот файл",
        "withdrawn_at": "2025-05-01T10:00:00",
        "after_file_id": 5,
        "copies": ["gia_results/000004_a.csv"],
    }
    bad = [
        {**good, "file_id": 6, "withdrawn_at": "12.05.2024"},
        {**good, "file_id": 7, "after_file_id": "5"},
        {**good, "file_id": True},
        {**good, "file_id": 8, "copies": ["/etc/passwd"]},
        {**good, "file_id": 9, "copies": ["../archive/x.csv"]},
        {**good, "file_id": 10, "reason": " "},
        {key: value for key, value in good.items() if key != "copies"},
    ]
    lines = [json.dumps(r) for r in [good, *bad]] + ['{"file_id": 11', "[]"]
    lines.append(json.dumps({**good, "copies": ["_duplicates/000005_b.csv"]}))  # withdrawn again
    (tmp_path / RECORDS).write_text("\n".join(lines) + "\n", encoding="utf-8")
    (record,) = withdrawal_records(tmp_path)
    assert record["file_id"] == 4
    assert record["copies"] == ["gia_results/000004_a.csv", "_duplicates/000005_b.csv"]
