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
from tests.fixtures.ingestion.harness import Region, open_region

VPR_HEAD = (
    "Результаты ВПР по участникам;;;;;;;\n"
    "Кировский муниципальный район;;;;;;;\n"
    ";;;;;;;\n"
    "Год;КОД ОО;Класс;Предмет;Код участника;Первичный балл;Отметка (2–5);Статус\n"
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
    return (VPR_HEAD + "".join(r + "\n" for r in rows)).encode("cp1251")


# (folder, name, content) in delivery order (modification times one minute apart)
DELIVERIES: tuple[tuple[str, str, bytes], ...] = (
    (
        "vpr",
        "vpr_a.csv",
        _vpr(
            "2024;sch001;4;Математика;P001;12,5;5;явка",
            "2024;sch001;4;Математика;P002;7;3;явка",
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
            "Итого;;;;;;;",
        ),
    ),
    (
        "vpr",
        "vpr_e.csv",  # a later delivery of school sch001's mathematics
        _vpr("2024;sch001;4;Математика;P001;12;4;явка", "2026;sch001;4;Математика;P002;7;3;явка"),
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
    "select * exclude (quarantined_at) from raw._quarantine "
    "order by file_id, row_number, column_name, reason_code"
)


def _load(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, batch_files: int, written: list[int]
) -> dict[str, object]:
    monkeypatch.setenv("EDUQ_LOAD_BATCH_FILES", str(batch_files))
    regions = open_region(tmp_path / f"b{batch_files}", monkeypatch)
    region: Region = next(regions)
    try:
        assert region.settings.load_batch_files == batch_files
        for minute, (folder, name, content) in enumerate(DELIVERIES):
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
            "rejected": sorted(p.name for p in region.settings.rejected_dir.iterdir()),
            "reason": region.rejected_reason("vpr_c.csv").split("\nrejected at ")[0],
            "archived": sorted(
                p.relative_to(region.settings.archive_dir).as_posix()
                for p in region.settings.archive_dir.rglob("*")
                if p.is_file()
            ),
            "batches": list(written),
        }
    finally:
        next(regions, None)


def test_small_files_loaded_together_load_exactly_as_one_by_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    written: list[int] = []
    real = ingestion.batches.write_batch

    def counting(con, settings, batch, run_id):
        outcomes = real(con, settings, batch, run_id)
        written.append(len(outcomes))
        return outcomes

    monkeypatch.setattr(ingestion.batches, "write_batch", counting)
    alone = _load(tmp_path, monkeypatch, 1, written)
    together = _load(tmp_path, monkeypatch, 64, written)
    assert alone["batches"] == []
    # written together: the two registries (the registry loads first), then vpr_a, vpr_b and
    # vpr_e (up to vpr_f, another layout); vpr_c (no data rows), vpr_d (every row fails) and vpr_g,
    # and the three surveys (one staged by Python's reader) went file by file
    assert together["batches"] == [2, 3], together["batches"]
    for part in (
        "outcomes",
        "log",
        "vpr",
        "schools",
        "survey",
        "quarantine",
        "rejected",
        "archived",
    ):
        assert together[part] == alone[part], part
    assert together["reason"] == alone["reason"]
    statuses = {status for _, status, _, _ in alone["outcomes"]}
    assert statuses == {"loaded", "rejected"}
    reasons = {row[-1] for row in alone["quarantine"]}
    assert {"duplicate_row", "unknown_school", "total_row", "above_max", "future_year"} <= reasons
    # the registry's year is its file's, per file of the batch
    years = {row[2]: row[11] for row in alone["log"]}
    assert years["schools_2023.csv"] == "2023" and years["schools_2025.csv"] == "2025"
