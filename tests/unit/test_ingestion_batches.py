"""Small files of one source with the same layout are checked and written together
(ingestion/batches.py, EDUQ_LOAD_BATCH_FILES): the warehouse must be exactly what loading them
one by one gives — the same file ids in delivery order, rows and row numbers, quarantined values
and reasons, rejections, load-log lines and archived names — for deliveries that mix clean files,
quarantined rows (bad values, a repeated row, an unknown school, a total row), a file with no
data rows, a file whose rows all fail, a file the DuckDB reader cannot stage (a blank line inside),
files of another layout between them, and a registry whose year comes from the file name."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import ingestion.batches
import ingestion.loader
from tests.fixtures.ingestion.harness import Region, open_region

VPR_HEAD = (
    "Результаты ВПР по участникам;;;;;;;;\n"
    "Кировский муниципальный район;;;;;;;;\n"
    ";;;;;;;;\n"
    "Год;КОД ОО;Класс;Предмет;Код участника;Первичный балл;Отметка (2–5);Статус;Примечание\n"
)
SCHOOLS_HEAD = (
    "Код ОО (логин ФИС ОКО);Наименование ОО;Код МО;Муниципальное образование;Тип местности;"
    "Малокомплектная;Есть 9 класс;Есть 11 класс;Численность обучающихся\n"
)
SURVEY_HEAD = (
    "Год;Код ОО;Всего педагогов;Вакансии;Педагоги пенсионного возраста;Средняя нагрузка (ставок);"
    "Есть педагог-психолог;Есть логопед;Скоростной интернет;Состояние здания;Точка роста;ЦОС\n"
)


def _vpr(*rows: str) -> bytes:
    """A ВПР file of one template (a title, a column «Примечание» outside the contract)."""
    cells = [r if r.count(";") == 8 else r + ";" for r in rows]
    return (VPR_HEAD + "".join(r + "\n" for r in cells)).encode("cp1251")


# (folder, name, content) in delivery order (modification times one minute apart)
DELIVERIES: tuple[tuple[str, str, bytes], ...] = (
    (
        "vpr",
        "vpr_a.csv",
        _vpr(
            "2024;sch001;4;Математика;P001;12,5;5;явка",
            "2024;sch001;4;Математика;P002;7;3;явка;переведён",
            "2024;sch002;4;Математика;P003;;;неявка",
        ),
    ),
    (
        "vpr",
        "vpr_b.csv",
        _vpr(
            "2024;sch002;4;Русский язык;P010;9;6;явка",  # a mark out of range
            "2024;sch999;4;Русский язык;P011;9;4;явка",  # an unknown school
            "2024;sch003;4;Русский язык;P012;10;4;явка",
            "2024;sch003;4;Русский язык;P012;10;4;явка",  # the row again
            "2024;sch003;4;Русский язык;P013;11;4;Явка",
            ";;;;;;;;",  # a row of empty cells, in the batch's second file: not read
            "Итого;;;;;;;",
        ),
    ),
    (
        "vpr",
        "vpr_e.csv",  # a later delivery of school sch001's mathematics
        _vpr(
            "2024;sch001;4; Математика;P001;12;4;явка;исправлено",
            "2026;sch001;4;Математика;P002;7;3;явка",
        ),
    ),
    (
        "vpr",
        "vpr_f.csv",  # another layout (UTF-8, no title): loaded alone between the others
        "Год;КОД ОО;Класс;Предмет;Код участника;Первичный балл;Отметка (2–5);Статус\n"
        "2024;sch002;5;Математика;P030;8;4;явка\n".encode(),
    ),
    ("vpr", "vpr_c.csv", _vpr()),  # the header only: rejected
    (
        "vpr",
        "vpr_d.csv",  # every row fails (unknown schools)
        _vpr("2024;sch998;4;Математика;P020;9;4;явка", "2024;sch997;4;Математика;P021;9;4;явка"),
    ),
    (
        "vpr",
        "vpr_g.csv",
        _vpr(
            "2024;sch002;5;Русский язык;P031;8;4;явка", "2024;sch003;5;Русский язык;P032;3;2;явка"
        ),
    ),
    (
        "schools",
        "schools_2023.csv",
        (
            SCHOOLS_HEAD
            + "sch001;МБОУ «СОШ № 1»;01;Кировский район;город;нет;да;да;790\n"
            + "sch002;МБОУ «СОШ № 2»;01;Кировский район;город;нет;да;да;абв\n"
        ).encode(),
    ),
    (
        "schools",
        "schools_2025.csv",
        (
            SCHOOLS_HEAD + "sch003;МКОУ «Ивановская ООШ»;01;Кировский район;село;да;да;нет;70\n"
        ).encode(),
    ),
    (
        "resource_survey",
        "resource_survey_2024_a.csv",
        (SURVEY_HEAD + "2024;sch001;30;2;5;1,25;да;нет;+;норма;1;0\n").encode("cp1251"),
    ),
    (
        "resource_survey",
        "resource_survey_2024_b.csv",  # a blank line inside: staged by Python's reader, alone
        (
            SURVEY_HEAD + "2024;sch002;20;0;3;1.5;Да;Нет;–;норма;Есть;Нет\n\n"
            "2024;sch003;25;1;30;1,1;ДА;НЕТ;-;аварийное;true;false\n"
        ).encode("cp1251"),
    ),
    (
        "resource_survey",
        "resource_survey_2024_c.csv",
        (SURVEY_HEAD + "2024;sch003;25;1;3;1,1;может быть;нет;+;норма;1;1\n").encode("cp1251"),
    ),
)

LOG = (
    "select file_id, source, file_name, file_hash, size_bytes, status, rows_read, rows_loaded, "
    "rows_quarantined, message, layout, years, regexp_replace(archived_path, '.*/', '') "
    "from raw._load_log order by file_id"
)
RAW = "select * exclude (_loaded_at) from raw.{} order by _file_id, _row_number"
QUARANTINE = (
    "select * exclude (quarantined_at, reason_code), reason_code from raw._quarantine "
    "order by file_id, row_number, column_name, reason_code"
)


def _load(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    batch_files: int,
    written: list[int],
    deliveries: tuple[tuple[str, str, bytes], ...] = DELIVERIES,
    workers: int = 2,
) -> dict[str, object]:
    monkeypatch.setenv("EDUQ_LOAD_BATCH_FILES", str(batch_files))
    monkeypatch.setenv("EDUQ_LOAD_WORKERS", str(workers))
    regions = open_region(tmp_path / f"b{batch_files}_w{workers}", monkeypatch)
    region: Region = next(regions)
    try:
        assert region.settings.load_batch_files == batch_files
        for minute, (folder, name, content) in enumerate(deliveries):
            path = region.write(name, content, folder=folder)
            os.utime(path, (1_700_000_000 + 60 * minute,) * 2)
        written.clear()
        run = region.run()
        return {
            "outcomes": sorted((f.file_name, f.status, f.rows_read, f.file_id) for f in run.files),
            "log": region.query(LOG),
            "vpr": region.query(RAW.format("vpr_results")),
            "schools": region.query(RAW.format("schools")),
            "survey": region.query(RAW.format("resource_survey")),
            "quarantine": region.query(QUARANTINE),
            "rejected": sorted(p.name for p in region.settings.rejected_dir.glob("*")),
            "reasons": [
                path.read_text(encoding="utf-8").split("\nrejected at ")[0]
                for path in sorted(region.settings.rejected_dir.glob("*.reason.txt"))
            ],
            "extra": region.query(
                "select _source_file, _row_number, _extra from raw.vpr_results order by all"
            ),
            "archived": sorted(
                p.relative_to(region.settings.archive_dir).as_posix()
                for p in region.settings.archive_dir.rglob("*")
                if p.is_file()
            ),
            "batches": list(written),
        }
    finally:
        next(regions, None)


@pytest.fixture
def written(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The sizes of the batches written together (ingestion.batches.write_batch that committed)."""
    sizes: list[int] = []
    real = ingestion.batches.write_batch

    def counting(con, settings, batch, run_id):
        outcomes, destinations = real(con, settings, batch, run_id)
        sizes.append(len(outcomes))
        return outcomes, destinations

    monkeypatch.setattr(ingestion.batches, "write_batch", counting)
    return sizes


PARTS = ("outcomes", "log", "vpr", "schools", "survey", "quarantine", "rejected", "archived")


def _same(together: dict, alone: dict) -> None:
    for part in (*PARTS, "reasons", "extra"):
        assert together[part] == alone[part], part


@pytest.mark.parametrize("workers", [1, 2])
def test_small_files_loaded_together_load_exactly_as_one_by_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, written: list[int], workers: int
) -> None:
    alone = _load(tmp_path, monkeypatch, 1, written)
    together = _load(tmp_path, monkeypatch, 64, written, workers=workers)
    assert alone["batches"] == []
    # written together: the two registries (the registry loads first), then vpr_a, vpr_b and
    # vpr_e (up to vpr_f, another layout); vpr_c (no data rows), vpr_d (every row fails) and vpr_g,
    # and the three surveys (one staged by Python's reader) went file by file
    assert together["batches"] == [2, 3], together["batches"]
    _same(together, alone)
    statuses = {status for _, status, _, _ in alone["outcomes"]}
    assert statuses == {"loaded", "rejected"}
    reasons = {row[-1] for row in alone["quarantine"]}
    assert {"duplicate_row", "unknown_school", "total_row", "above_max", "future_year"} <= reasons
    notes = [extra for _, _, extra in alone["extra"] if extra and '":null' not in extra]
    assert len(notes) == 2  # the notes, in the rows' _extra
    # the registry's year is its file's, per file of the batch
    years = {row[2]: row[11] for row in alone["log"]}
    assert years["schools_2023.csv"] == "2023" and years["schools_2025.csv"] == "2025"


def test_a_batch_whose_file_changed_before_it_was_written_loads_file_by_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, written: list[int]
) -> None:
    """vpr_b.csv «changes» after the batch was checked: nothing of the batch is written, its
    files load one by one (the file is then found unchanged), as they would alone."""
    alone = _load(tmp_path, monkeypatch, 1, written)
    real = ingestion.loader.unchanged_since
    seen: list[str] = []

    def once_changed(path: Path, file_hash: str, identity: str | None) -> bool:
        if path.name == "vpr_b.csv" and not seen:
            seen.append(path.name)
            return False
        return real(path, file_hash, identity)

    monkeypatch.setattr(ingestion.loader, "unchanged_since", once_changed)
    together = _load(tmp_path, monkeypatch, 64, written)
    assert seen == ["vpr_b.csv"] and together["batches"] == [2]  # the registries only
    _same(together, alone)


def test_an_archive_move_failing_after_the_batch_commit_stops_the_run_and_loads_nothing_twice(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, written: list[int]
) -> None:
    """The batch is committed, then moving its second file to the archive fails: the error stops
    the run as it would after a file written alone — no file is loaded again — and the next run
    skips what the landing folder still holds as already delivered."""
    monkeypatch.setenv("EDUQ_LOAD_BATCH_FILES", "64")
    regions = open_region(tmp_path / "archive", monkeypatch)
    region: Region = next(regions)
    try:
        for minute, (folder, name, content) in enumerate(DELIVERIES[:3]):  # vpr_a, vpr_b, vpr_e
            os.utime(region.write(name, content, folder=folder), (1_700_000_000 + 60 * minute,) * 2)
        real_move = ingestion.loader.shutil.move

        def failing(src: str, dst: object) -> object:
            if Path(src).name == "vpr_b.csv":
                raise OSError(28, "No space left on device")
            return real_move(src, dst)

        monkeypatch.setattr(ingestion.loader.shutil, "move", failing)
        with pytest.raises(OSError, match="No space left"):
            region.run()
        assert written == [3]
        log = region.query(
            "select file_name, status from raw._load_log where source = 'vpr_results'"
        )
        assert sorted(log) == [(n, "loaded") for n in ("vpr_a.csv", "vpr_b.csv", "vpr_e.csv")]
        monkeypatch.setattr(ingestion.loader.shutil, "move", real_move)
        again = region.run()  # vpr_b.csv and vpr_e.csv are still in the landing folder
        assert {f.status for f in again.files} <= {"duplicate"}
        counts = region.query(
            "select file_hash, count(*) from raw._load_log where status = 'loaded' group by 1"
        )
        assert all(n == 1 for _, n in counts)
        assert region.query("select count(*) from raw.vpr_results") == [(6,)]
    finally:
        next(regions, None)


def test_more_distinct_texts_in_a_batch_than_in_each_file_loads_file_by_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, written: list[int]
) -> None:
    """An enum column is typed from a map of its distinct texts when a file has at most
    VALUE_MAP_LIMIT of them (a Latin «a» in «явкa» reads as Cyrillic there). Two files of 300
    distinct statuses each stay under it, the two together do not: the batch goes file by file,
    and «явкa» loads as it does alone."""

    def statuses(prefix: str, school: str) -> bytes:
        rows = [
            f"2024;{school};6;Математика;{prefix}{n:03d};9;4;{prefix}{n:03d}" for n in range(300)
        ]
        rows.append(f"2024;{school};6;Математика;{prefix}X;9;4;явкa")  # a Latin «a»
        rows.append(f"2024;{school};6;Математика;{prefix}Y;9;4;явка")
        return _vpr(*rows)

    deliveries = (
        ("vpr", "vpr_s1.csv", statuses("s", "sch001")),
        ("vpr", "vpr_s2.csv", statuses("t", "sch002")),
    )
    alone = _load(tmp_path, monkeypatch, 1, written, deliveries)
    together = _load(tmp_path, monkeypatch, 64, written, deliveries)
    assert together["batches"] == []
    _same(together, alone)
    assert [r[:2] for r in alone["vpr"]] != [] and all(r[7] == "present" for r in alone["vpr"])
    assert len(alone["vpr"]) == 4  # «явкa» and «явка», in each file
