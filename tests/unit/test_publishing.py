"""Write-audit-publish without the pipeline: promotion and publication gates, versions, diffs,
deterministic list files, the print-formatted XLSX and `eduq sql`, on a small warehouse built by hand."""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import json
import os
import re
import stat
import zipfile
from pathlib import Path

import duckdb
import openpyxl
import pandas as pd
import pytest

from core.files import file_identity, sha256_file
from core.settings import Settings, load_settings
from gate.audit import AuditRecord, CheckOutcome, write_record
from gate.errors import CandidateChanged, PromotionRefused, PublicationRefused
from gate.promote import embed_audit, promote, serving_audit
from ingestion.warehouse import ensure_raw_schema
from publishing.errors import (
    ListIncomplete,
    ListNotComputable,
    ListYearNotAvailable,
    VersionConflict,
)
from publishing.publish import compute_diff, publish_list, render_list_files, versions
from publishing.shnor_list import published_table, read_list
from publishing.xlsx import HEADER_ROW, DocumentInfo

LISTED = [  # school_id, school_name, municipality, cluster, measure
    ("sch000001", "МБОУ СОШ № 1", "Город", "moderate", 0.45),
    ("sch000002", "МБОУ СОШ № 2", "Город", "basic", 0.35),
    ("sch000003", "МКОУ ООШ с. Сосновка", "Район", "severe", 0.62),
]
LABELS = {
    "basic": "базово неуспевающие",
    "moderate": "умеренно неуспевающие",
    "severe": "сильно неуспевающие",
}


@pytest.fixture()
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("EDUQ_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("EDUQ_TODAY", "2025-09-01")
    monkeypatch.delenv("EDUQ_METHODOLOGY_PROFILE", raising=False)
    s = load_settings()
    s.ensure_dirs()
    write_candidate(s, LISTED)
    return s


def write_candidate(settings: Settings, listed: list[tuple[str, str, str, str, float]]) -> None:
    """A candidate warehouse with the load log, the school registry and the list of 2025."""
    settings.candidate_db.unlink(missing_ok=True)
    with duckdb.connect(str(settings.candidate_db)) as con:
        ensure_raw_schema(con)
        con.execute("""insert into raw._load_log (file_id, source, file_name, file_hash, size_bytes, status,
                       rows_read, rows_loaded, rows_quarantined, years, loaded_at)
                       values (1, 'vpr_results', 'vpr_results_2024.csv', 'ab12', 100, 'loaded', 10, 10, 0, '2024',
                               '2025-08-01 10:00:00')""")
        con.execute("create schema marts")
        # small-number protection (publishing/small_numbers.py): nothing of this list is declared;
        # the profile counts procedures of 5 and more participants
        con.execute("create schema reference")
        con.execute(
            "create table reference.small_number_protection "
            "(mart_name varchar, column_name varchar, count_column varchar)"
        )
        con.execute(
            "create table marts.dim_methodology_profile as "
            "select 'fioko_2025' as profile_name, 5 as min_participants"
        )
        con.execute(
            "create table marts.dim_school (school_id varchar, year integer, school_name varchar, "
            "municipality_name varchar)"
        )
        con.execute("""create table marts.fct_shnor_list (school_id varchar, list_year integer, results_year integer,
                       is_shnor boolean, n_flagged_procedures bigint, flagged_procedures varchar,
                       persistent_procedures varchar, cluster_measure_value double, fioko_cluster varchar,
                       fioko_cluster_ru varchar, profile_name varchar, profile_version varchar)""")
        for school, name, municipality, cluster, measure in listed:
            con.execute(
                "insert into marts.dim_school values (?, 2024, ?, ?)", [school, name, municipality]
            )
            con.execute(
                "insert into marts.fct_shnor_list values (?, 2025, 2024, true, 2, ?, ?, ?, ?, ?, 'fioko_2025', '1.0')",
                [
                    school,
                    "ВПР Математика 5 (45.0%); ОГЭ Математика (40.0%)",
                    "ВПР Математика 5",
                    measure,
                    cluster,
                    LABELS[cluster],
                ],
            )
        con.execute(
            "insert into marts.dim_school values ('sch000009', 2024, 'МБОУ Лицей', 'Город')"
        )
        # the list years: 2025 publishable; 2024 not computable (no 2022 results); 2026 incomplete
        con.execute(
            """create table marts.dim_list_year as select * from (values
            (2024, 2023, 'not_computable', false, false, 2022,
             'Список не составляется: нет результатов 2022 года', null::bigint),
            (2025, 2024, 'publishable', true, true, null, null, ?::bigint),
            (2026, 2025, 'incomplete', true, false, null,
             '2025, Район: Результаты (ВПР, ОГЭ, ЕГЭ): 2 из 9 школ без результатов', 0)
            ) as t(list_year, results_year, list_status, is_computable, is_publishable,
                   missing_results_year, not_computable_reason_ru, n_listed)""",
            [len(listed)],
        )
        con.execute("alter table marts.dim_list_year add column incomplete_reason_ru varchar")
        con.execute("""update marts.dim_list_year set incomplete_reason_ru = not_computable_reason_ru,
                       not_computable_reason_ru = null where list_status = 'incomplete'""")
        con.execute("""insert into marts.fct_shnor_list values ('sch000009', 2025, 2024, false, 0, null, null, 0.1,
                       null, null, 'fioko_2025', '1.0')""")


def audit(
    settings: Settings, passed: bool = True, build_id: str = "20250901T020000-aaaaaaaa"
) -> AuditRecord:
    checks = [
        CheckOutcome(
            "gx__marts__fct_shnor_list__listed_school_has_cluster",
            "gx",
            "marts/fct_shnor_list",
            "error",
            "passed" if passed else "failed",
            "3 rows",
        ),
        CheckOutcome(
            "gx__raw__schools__municipality_sent_results",
            "gx",
            "raw/schools",
            "warning",
            "failed",
            "1 of 19 rows fail",
        ),
    ]
    record = AuditRecord(
        build_id=build_id,
        candidate_sha256=sha256_file(settings.candidate_db),
        candidate_bytes=settings.candidate_db.stat().st_size,
        passed=passed,
        audited_at=dt.datetime.now(dt.UTC).isoformat(),
        methodology_profile="fioko_2025",
        checks=checks,
        # raw tables are counted in the candidate but never served
        table_rows={"marts.fct_shnor_list": len(LISTED) + 1, "raw.vpr_results": 7},
    )
    write_record(settings, record)
    return record


# --- promotion -------------------------------------------------------------------------------------


def test_promotion_refuses_a_candidate_that_was_never_audited(settings: Settings) -> None:
    with pytest.raises(PromotionRefused, match="no audit of the candidate warehouse"):
        promote(settings)
    assert not settings.serving_db.exists()


def test_promotion_refuses_a_failed_audit_naming_the_checks_and_leaves_serving_byte_identical(
    settings,
) -> None:
    audit(settings)
    promote(settings)
    before = settings.serving_db.read_bytes()
    write_candidate(settings, LISTED[:1])
    audit(settings, passed=False, build_id="20250902T020000-bbbbbbbb")
    with pytest.raises(PromotionRefused) as refused:
        promote(settings)
    assert "20250902T020000-bbbbbbbb" in str(refused.value)
    assert "gx__marts__fct_shnor_list__listed_school_has_cluster" in str(refused.value)
    assert settings.serving_db.read_bytes() == before
    assert not list(settings.warehouse_dir.glob(".serving*.tmp"))


def test_promotion_refuses_a_candidate_changed_after_its_audit(settings: Settings) -> None:
    audit(settings)
    with duckdb.connect(str(settings.candidate_db)) as con:
        con.execute(
            "update marts.fct_shnor_list set fioko_cluster = 'severe' where school_id = 'sch000002'"
        )
    with pytest.raises(PromotionRefused, match="changed after its audit, or never audited"):
        promote(settings)


def test_promotion_copies_the_audited_candidate_and_embeds_its_audit(settings: Settings) -> None:
    record = audit(settings)
    promotion = promote(settings)
    assert promotion.build_id == record.build_id
    assert (
        promotion.candidate_sha256 == record.candidate_sha256 == sha256_file(settings.candidate_db)
    )
    with duckdb.connect(str(settings.serving_db), read_only=True) as con:
        carried = serving_audit(con)
        assert con.execute("select count(*) from marts.fct_shnor_list").fetchone()[0] == 4
        assert con.execute("select table_name, row_count from audit.table_rows").fetchall() == [
            ("marts.fct_shnor_list", 4)
        ]  # the served tables only; the candidate's raw count stays in the record
        assert carried.record["table_rows"]["raw.vpr_results"] == 7
        assert con.execute(
            "select check_key, level, status from audit.check_results order by 1"
        ).fetchall() == [
            ("gx__marts__fct_shnor_list__listed_school_has_cluster", "error", "passed"),
            ("gx__raw__schools__municipality_sent_results", "warning", "failed"),
        ]
    assert carried is not None and carried.passed and carried.build_id == record.build_id
    assert carried.candidate_sha256 == record.candidate_sha256 and carried.warnings == 1


# --- publication gate --------------------------------------------------------------------------------


def test_publication_refuses_a_serving_file_without_an_audit_record(settings: Settings) -> None:
    settings.serving_db.write_bytes(
        settings.candidate_db.read_bytes()
    )  # copied by hand, never audited
    with pytest.raises(PublicationRefused, match="carries no audit record"):
        publish_list(settings, 2025)
    assert versions(settings, 2025) == []
    assert not (settings.publications_dir / "2025").exists() or not any(
        p.name.startswith("v") for p in (settings.publications_dir / "2025").iterdir()
    )


def test_publication_refuses_a_serving_file_with_a_failed_audit(settings: Settings) -> None:
    record = audit(settings, passed=False)
    settings.serving_db.write_bytes(settings.candidate_db.read_bytes())
    embed_audit(settings.serving_db, record, dt.datetime.now(dt.UTC))
    with pytest.raises(PublicationRefused, match="carries a failed audit"):
        publish_list(settings, 2025)
    assert versions(settings, 2025) == []


def test_publication_of_a_year_without_a_list_says_which_years_exist(settings: Settings) -> None:
    audit(settings)
    promote(settings)
    with pytest.raises(ListYearNotAvailable, match="lists available: 2025, 2026"):
        publish_list(settings, 2031)


def test_a_list_that_cannot_be_computed_is_refused_naming_the_missing_results_year(
    settings: Settings,
) -> None:
    audit(settings)
    promote(settings)
    with pytest.raises(ListNotComputable) as refused:
        publish_list(settings, 2024)
    message = str(refused.value)
    assert "cannot be computed" in message and "results of 2022" in message
    assert "not an empty one" in message
    assert versions(settings, 2024) == []
    assert not (settings.publications_dir / "2024").exists()


def test_an_incomplete_list_is_refused_saying_what_is_missing(settings: Settings) -> None:
    audit(settings)
    promote(settings)
    with pytest.raises(ListIncomplete) as refused:
        publish_list(settings, 2026)
    assert "2 из 9 школ без результатов" in str(refused.value)
    assert "Deliver the missing files" in str(refused.value)
    assert versions(settings, 2026) == []


# --- versions ---------------------------------------------------------------------------------------


def test_first_publication_writes_v1_with_every_file_and_manifest(settings: Settings) -> None:
    audit(settings)
    promote(settings)
    result = publish_list(settings, 2025)
    assert (result.status, result.version, result.rows) == ("published", 1, 3)
    assert result.by_cluster == {"basic": 1, "moderate": 1, "severe": 1}
    folder = settings.publications_dir / "2025" / "v1"
    assert result.directory == folder
    assert sorted(p.name for p in folder.iterdir()) == [
        "manifest.json",
        "shnor_list_2025.csv",
        "shnor_list_2025.parquet",
        "shnor_list_2025.xlsx",
    ]
    assert all(
        not (p.stat().st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
        for p in folder.iterdir()
    )
    csv_bytes = (folder / "shnor_list_2025.csv").read_bytes()
    assert csv_bytes.startswith(b"\xef\xbb\xbf")
    published = pd.read_csv(io.BytesIO(csv_bytes), sep=";", encoding="utf-8-sig", dtype=str)
    assert published["Код ОО (логин ФИС ОКО)"].tolist() == ["sch000001", "sch000002", "sch000003"]
    assert published["Кластер ФИОКО"].tolist() == [
        LABELS["moderate"],
        LABELS["basic"],
        LABELS["severe"],
    ]
    assert pd.read_parquet(folder / "shnor_list_2025.parquet").shape[0] == 3

    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    assert (
        manifest["list_year"] == 2025
        and manifest["version"] == 1
        and manifest["previous_version"] is None
    )
    assert manifest["methodology"] == {"profile": "fioko_2025", "version": "1.0"}
    assert manifest["rows"]["schools"] == 3
    assert manifest["inputs"] == [
        {
            "file_id": 1,
            "source": "vpr_results",
            "file_name": "vpr_results_2024.csv",
            "sha256": "ab12",
            "size_bytes": 100,
            "rows_read": 10,
            "rows_loaded": 10,
            "rows_quarantined": 0,
            "years": "2024",
            "loaded_at": "2025-08-01 10:00:00",
        }
    ]
    assert manifest["warehouse"]["build_id"] == "20250901T020000-aaaaaaaa"
    assert manifest["checks"]["passed"] is True
    assert manifest["checks"]["warnings"] == [
        ("gx__raw__schools__municipality_sent_results [raw/schools]: 1 of 19 rows fail")
    ]
    assert {f["name"]: f["sha256"] for f in manifest["files"]}[
        "shnor_list_2025.csv"
    ] == sha256_file(folder / "shnor_list_2025.csv")
    assert {"python", "dagster", "dbt-core", "duckdb", "great-expectations"} <= set(
        manifest["software"]
    )
    assert manifest["created_at"] and manifest["document_date"] == "2025-09-01"


def test_publishing_the_same_list_again_is_unchanged_and_writes_nothing(settings: Settings) -> None:
    audit(settings)
    promote(settings)
    publish_list(settings, 2025)
    folder = settings.publications_dir / "2025"
    before = {p: p.read_bytes() for p in folder.rglob("*") if p.is_file() and p.name != ".lock"}
    # a new build with the same list (new audit, new promotion) is still the same publication
    audit(settings, build_id="20250902T020000-cccccccc")
    promote(settings)
    again = publish_list(settings, 2025)
    assert (again.status, again.version) == ("unchanged", 1)
    after = {p: p.read_bytes() for p in folder.rglob("*") if p.is_file() and p.name != ".lock"}
    assert after == before


def test_a_correction_publishes_v2_with_a_diff_and_leaves_v1_untouched(settings: Settings) -> None:
    audit(settings)
    promote(settings)
    publish_list(settings, 2025)
    v1 = settings.publications_dir / "2025" / "v1"
    v1_files = {p.name: p.read_bytes() for p in v1.iterdir()}
    corrected = [
        LISTED[0],
        ("sch000003", "МКОУ ООШ с. Сосновка", "Район", "moderate", 0.48),
        ("sch000004", "МБОУ СОШ № 4", "Район", "basic", 0.31),
    ]
    write_candidate(settings, corrected)
    audit(settings, build_id="20250903T020000-dddddddd")
    promote(settings)
    result = publish_list(settings, 2025)
    assert (result.status, result.version) == ("published", 2)
    assert result.diff == {"added": 1, "removed": 1, "cluster_changed": 1}
    diff = pd.read_csv(
        result.directory / "diff_v1_v2.csv", sep=";", encoding="utf-8-sig", dtype=str
    )
    assert diff.fillna("").values.tolist() == [
        ["добавлена", "sch000004", "МБОУ СОШ № 4", "Район", "", LABELS["basic"]],
        ["исключена", "sch000002", "МБОУ СОШ № 2", "Город", LABELS["basic"], ""],
        [
            "изменён кластер",
            "sch000003",
            "МКОУ ООШ с. Сосновка",
            "Район",
            LABELS["severe"],
            LABELS["moderate"],
        ],
    ]
    manifest = json.loads((result.directory / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["previous_version"] == 1 and manifest["diff"] == result.diff
    assert {p.name: p.read_bytes() for p in v1.iterdir()} == v1_files
    assert versions(settings, 2025) == [1, 2]


def test_a_version_folder_is_never_overwritten(settings: Settings) -> None:
    audit(settings)
    promote(settings)
    stray = settings.publications_dir / "2025" / "v1"
    stray.mkdir(parents=True)
    (stray / "note.txt").write_text("interrupted")
    with pytest.raises(VersionConflict, match="never overwritten"):
        publish_list(settings, 2025)
    assert [p.name for p in stray.iterdir()] == ["note.txt"]


# --- list files --------------------------------------------------------------------------------------


def _list_table(settings: Settings):
    audit(settings)
    promote(settings)
    with duckdb.connect(str(settings.serving_db), read_only=True) as con:
        return read_list(con, 2025)


INFO = DocumentInfo(
    list_year=2025,
    results_year=2024,
    document_date=dt.date(2025, 9, 1),
    profile_name="fioko_2025",
    profile_version="1.0",
    version=1,
)


def test_list_files_are_byte_identical_for_the_same_inputs(settings: Settings) -> None:
    table = _list_table(settings)
    first = render_list_files(table, INFO)
    second = render_list_files(table, INFO)
    assert first.keys() == {
        "shnor_list_2025.xlsx",
        "shnor_list_2025.csv",
        "shnor_list_2025.parquet",
    }
    assert first == second
    # nothing in the XLSX depends on when it was written: the zip entries and the document
    # properties carry the document date (openpyxl would stamp the time of saving)
    with zipfile.ZipFile(io.BytesIO(first["shnor_list_2025.xlsx"])) as archive:
        assert {i.date_time for i in archive.infolist()} == {(2025, 9, 1, 0, 0, 0)}
        core = archive.read("docProps/core.xml").decode()
    assert re.findall(r"<dcterms:(created|modified)[^>]*>([^<]*)<", core) == [
        ("created", "2025-09-01T00:00:00Z"),
        ("modified", "2025-09-01T00:00:00Z"),
    ]


def test_xlsx_has_title_date_profile_and_one_row_per_school_formatted_for_print(
    settings: Settings,
) -> None:
    table = _list_table(settings)
    data = render_list_files(table, INFO)["shnor_list_2025.xlsx"]
    ws = openpyxl.load_workbook(io.BytesIO(data)).active
    assert "ШНОР" in ws["A1"].value and "2025" in ws["A1"].value
    assert "2024" in ws["A2"].value
    assert (
        "fioko_2025" in ws["A3"].value and "01.09.2025" in ws["A3"].value and "v1" in ws["A3"].value
    )
    assert ws["A4"].value.startswith("Всего школ в списке: 3")
    header = [c.value for c in ws[HEADER_ROW]]
    assert header == [
        "№ п/п",
        "Муниципальное образование",
        "Наименование ОО",
        "Код ОО (логин ФИС ОКО)",
        "Кластер ФИОКО",
        "Основание включения в список",
    ]
    rows = [[c.value for c in row] for row in ws.iter_rows(min_row=HEADER_ROW + 1)]
    assert [r[3] for r in rows] == ["sch000001", "sch000002", "sch000003"]
    assert [r[1] for r in rows] == ["Город", "Город", "Район"]
    assert all(r[5].startswith("Доля не преодолевших порог в 2 процедурах") for r in rows)
    assert ws.page_setup.orientation == "landscape"
    assert ws.print_title_rows == f"${HEADER_ROW}:${HEADER_ROW}"  # the header repeats on every page
    assert ws.sheet_properties.pageSetUpPr.fitToPage


def test_every_school_cell_is_formatted_alike_and_a_formula_like_name_stays_text(
    settings: Settings,
) -> None:
    """The cells of a column share one style record (publishing/xlsx.py styles the first row and
    gives the others its record): every data cell must still read Times New Roman 11 with thin
    borders, top-aligned and wrapped, centred in the number and code columns; a name that looks like
    a formula is text with a quote prefix, and only that cell has one."""
    import pyarrow as pa

    table = _list_table(settings)
    names = table.column("school_name").to_pylist()
    # the first row's cells give their style to the rows below: a quote prefix must not spread
    names[0] = '=HYPERLINK("http://example.org")'
    names[2] = "@школа"
    table = table.set_column(
        table.schema.get_field_index("school_name"), "school_name", pa.array(names)
    )
    data = render_list_files(table, INFO)["shnor_list_2025.xlsx"]
    ws = openpyxl.load_workbook(io.BytesIO(data)).active
    rows = list(ws.iter_rows(min_row=HEADER_ROW + 1))
    assert len(rows) == 3 and all(len(row) == 6 for row in rows)
    for row in rows:
        for column, cell in enumerate(row, start=1):
            assert (cell.font.name, cell.font.sz, bool(cell.font.b)) == (
                "Times New Roman",
                11,
                False,
            )
            sides = (cell.border.left, cell.border.right, cell.border.top, cell.border.bottom)
            assert all(side.style == "thin" for side in sides)
            assert cell.alignment.vertical == "top" and cell.alignment.wrap_text
            assert cell.alignment.horizontal == ("center" if column in (1, 4) else "left")
            formula_like = isinstance(cell.value, str) and cell.value[:1] in ("=", "@")
            assert bool(cell.quotePrefix) == formula_like
    assert [bool(row[2].quotePrefix) for row in rows] == [True, False, True]
    assert all(row[2].data_type == "s" for row in rows)
    assert [row[2].value for row in rows] == names


def test_diff_of_identical_lists_is_empty(settings: Settings) -> None:
    published = published_table(_list_table(settings))
    assert compute_diff(published, published).num_rows == 0


# --- eduq sql -----------------------------------------------------------------------------------------


def test_eduq_sql_prints_a_table_and_refuses_to_write(
    settings: Settings, capsys: pytest.CaptureFixture
) -> None:
    from orchestration.cli import main

    audit(settings)
    promote(settings)
    code = main(
        [
            "sql",
            (
                "select school_id, cluster_measure_value from marts.fct_shnor_list "
                "where is_shnor order by 1"
            ),
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert out.splitlines() == [
        "school_id | cluster_measure_value",
        "----------+----------------------",
        "sch000001 |                  0.45",
        "sch000002 |                  0.35",
        "sch000003 |                  0.62",
        "(3 rows)",
    ]
    before = settings.serving_db.read_bytes()
    assert main(["sql", "create table marts.x as select 1"]) == 2
    assert "read-only" in capsys.readouterr().err
    assert settings.serving_db.read_bytes() == before


def test_eduq_sql_without_a_serving_warehouse_says_what_to_do(settings: Settings, capsys) -> None:
    from orchestration.cli import main

    assert main(["sql", "select 1"]) == 1
    assert "run `eduq run` first" in capsys.readouterr().err


def test_an_empty_list_is_published_with_its_profile(settings: Settings) -> None:
    write_candidate(settings, [])
    audit(settings)
    promote(settings)
    result = publish_list(settings, 2025)
    assert (result.status, result.version, result.rows) == ("published", 1, 0)
    manifest = json.loads((result.directory / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["methodology"] == {"profile": "fioko_2025", "version": "1.0"}
    ws = openpyxl.load_workbook(result.directory / "shnor_list_2025.xlsx").active
    assert ws["A4"].value == "Всего школ в списке: 0"
    assert ws.cell(row=HEADER_ROW + 1, column=1).value == "Школ, отвечающих критериям, нет"


def test_promotion_of_the_candidate_as_audited_does_not_read_it_again(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The audit records the candidate's identity (inode, size, modification and change times):
    promotion of that same unwritten file takes the audited hash without hashing the file (at a
    whole country it is gigabytes); a candidate written since, even back to the same bytes, is
    hashed; changed content is refused."""
    import gate.promote as promote_module

    identity = file_identity(settings.candidate_db)
    record = dataclasses.replace(audit(settings), candidate_identity=identity)
    write_record(settings, record)
    hashed: list[Path] = []

    def counting_sha(path: Path) -> str:
        hashed.append(Path(path))
        return sha256_file(path)

    monkeypatch.setattr(promote_module, "sha256_file", counting_sha)
    promotion = promote(settings)
    assert promotion.candidate_sha256 == record.candidate_sha256
    assert settings.candidate_db not in hashed
    # the same bytes written again: a new change time, so the file is hashed and found by its hash
    data = settings.candidate_db.read_bytes()
    settings.candidate_db.write_bytes(data)
    assert file_identity(settings.candidate_db) != identity
    hashed.clear()
    assert promote(settings).candidate_sha256 == record.candidate_sha256
    assert settings.candidate_db in hashed
    # one byte changed and the modification time set back: the change time still tells
    before = settings.candidate_db.stat()
    with open(settings.candidate_db, "r+b") as fh:
        fh.seek(len(data) - 1)
        fh.write(bytes([data[-1] ^ 0xFF]))
    os.utime(settings.candidate_db, ns=(before.st_atime_ns, before.st_mtime_ns))
    with pytest.raises(PromotionRefused, match="changed after its audit, or never audited"):
        promote(settings)


def test_the_serving_export_written_during_the_audit_is_promoted_only_for_that_candidate(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The audit of the nightly job writes the serving export alongside its checks
    (gate.promote.prepare_export): promotion of that same candidate renames it into place (the
    served file equals a promotion that exports itself); a candidate written since gets no use of
    it; a failed audit discards it."""
    import gate.audit as audit_module
    import gate.promote as promote_module
    from gate.audit import run_audit

    monkeypatch.setattr(audit_module, "gx_outcomes", lambda *args, **kwargs: [])
    monkeypatch.setattr(audit_module, "dbt_outcomes", lambda *args, **kwargs: [])
    exports: list[Path] = []
    real_export = promote_module.export_warehouse

    def counting_export(source, target, *args, **kwargs):
        exports.append(Path(target))
        return real_export(source, target, *args, **kwargs)

    monkeypatch.setattr(promote_module, "export_warehouse", counting_export)

    def served_tables() -> dict:
        with duckdb.connect(str(settings.serving_db), read_only=True) as con:
            names = con.execute(
                "select schema_name || '.' || table_name from duckdb_tables() "
                "where schema_name in ('marts', 'reference') order by 1"
            ).fetchall()
            return {n: con.execute(f"select * from {n} order by all").fetchall() for (n,) in names}

    record = run_audit(settings, "build-p1", [], prepare_promotion=True)
    assert record.passed and len(exports) == 1  # written during the audit
    prepared = promote_module.prepared_export_path(settings, record.candidate_identity)
    assert prepared.exists()
    promote(settings)
    assert len(exports) == 1 and not prepared.exists()  # renamed into place, not exported again
    tables = served_tables()
    assert tables["marts.fct_shnor_list"]
    # the same candidate promoted by an export of its own serves the same tables
    promote(settings)
    assert len(exports) == 2 and served_tables() == tables
    # an export prepared for a candidate that was written since is not used
    run_audit(settings, "build-p2", [], prepare_promotion=True)
    assert len(exports) == 3
    settings.candidate_db.write_bytes(settings.candidate_db.read_bytes())
    audit(settings, build_id="build-p3")  # audited again, as written
    promote(settings)
    assert len(exports) == 4 and served_tables() == tables
    assert not list(settings.serving_db.parent.glob("*.prepared-*"))
    # a failed audit keeps nothing it prepared
    write_candidate(settings, LISTED[:1])
    failed = run_audit(settings, "build-p4", None, prepare_promotion=True)
    assert not failed.passed and len(exports) == 5
    assert not list(settings.serving_db.parent.glob("*.prepared-*"))


def test_what_the_audit_reads_beside_its_checks_starts_after_the_build_and_only_for_its_state(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The dbt step starts the audit's SHA-256 and serving export as soon as its build ends
    (gate.audit.start_alongside): the audit of that build takes them (one hash, one export, the
    export promoted as it was prepared, one DuckDB thread fewer than the settings); a candidate
    written in between, or another build, gets its own and the record holds the file as audited."""
    import gate.audit as audit_module
    import gate.promote as promote_module
    from gate.audit import run_audit, start_alongside

    monkeypatch.setattr(audit_module, "gx_outcomes", lambda *args, **kwargs: [])
    monkeypatch.setattr(audit_module, "dbt_outcomes", lambda *args, **kwargs: [])
    hashed: list[Path] = []
    exports: list[int | None] = []
    real_hash, real_export = audit_module.sha256_file, promote_module.export_warehouse

    def counting_hash(path):
        hashed.append(Path(path))
        return real_hash(path)

    def counting_export(source, target, *args, **kwargs):
        exports.append((kwargs.get("config") or {}).get("threads"))
        return real_export(source, target, *args, **kwargs)

    monkeypatch.setattr(audit_module, "sha256_file", counting_hash)
    monkeypatch.setattr(promote_module, "export_warehouse", counting_export)

    start_alongside(settings, "build-a1")
    record = run_audit(settings, "build-a1", [], prepare_promotion=True)
    assert record.passed and len(hashed) == 1 and len(exports) == 1
    assert exports == [str(max(1, settings.duckdb_threads - 1))]
    assert record.candidate_sha256 == sha256_file(settings.candidate_db)
    assert record.candidate_identity == file_identity(settings.candidate_db)
    assert promote_module.prepared_export_path(settings, record.candidate_identity).exists()
    promote(settings)
    assert len(exports) == 1  # the prepared export renamed into place
    # the candidate written after the build's end: what started is left, the audit reads it anew
    start_alongside(settings, "build-a2")
    started = audit_module._started[settings.candidate_db]
    started.sha.result(), started.export.result()  # (DuckDB opens a file in one mode per process)
    write_candidate(settings, LISTED[:3])
    record = run_audit(settings, "build-a2", [], prepare_promotion=True)
    assert len(hashed) == 3 and len(exports) == 3
    assert record.candidate_sha256 == sha256_file(settings.candidate_db)
    assert record.candidate_identity == file_identity(settings.candidate_db)
    promote(settings)
    assert len(exports) == 3  # the export of the state it audited
    assert exports[1:] == [str(max(1, settings.duckdb_threads - 1))] * 2
    query = "select * from marts.fct_shnor_list order by all"
    with duckdb.connect(str(settings.candidate_db), read_only=True) as con:
        audited = con.execute(query).fetchall()
    with duckdb.connect(str(settings.serving_db), read_only=True) as con:
        assert con.execute(query).fetchall() == audited
    # started for another build: not taken
    start_alongside(settings, "build-a3")
    run_audit(settings, "build-a4", [], prepare_promotion=True)
    assert len(hashed) == 5 and len(exports) == 5
    # an audit that prepares no promotion leaves no export started for it
    start_alongside(settings, "build-a5")
    run_audit(settings, "build-a5", [], prepare_promotion=False)
    assert len(hashed) == 6
    assert not list(settings.serving_db.parent.glob("*.prepared-*"))


def test_every_duckdb_database_of_the_audit_promotion_and_publication_has_the_settings_resources(
    settings: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture,
) -> None:
    """EDUQ_DUCKDB_MEMORY_LIMIT, _THREADS and _TEMP_DIR hold for every DuckDB database the audit,
    the promotion, the list's publication and `eduq sql` open — the warehouse files and the
    in-memory databases that attach them (core.duck) — not only for the load and dbt; the serving
    export prepared beside the audit leaves one thread of them to the Python beside it."""
    import gate.audit as audit_module
    from gate.audit import run_audit
    from orchestration.cli import main

    spill = (tmp_path / "spill").resolve()  # (the settings resolve it)
    monkeypatch.setenv("EDUQ_DUCKDB_MEMORY_LIMIT", "777MB")
    monkeypatch.setenv("EDUQ_DUCKDB_THREADS", "2")
    monkeypatch.setenv("EDUQ_DUCKDB_TEMP_DIR", str(spill))
    settings = load_settings()  # the fixture's home and candidate, with these resources
    monkeypatch.setattr(audit_module, "gx_outcomes", lambda *args, **kwargs: [])
    monkeypatch.setattr(audit_module, "dbt_outcomes", lambda *args, **kwargs: [])
    real_connect = duckdb.connect
    with real_connect(config={"memory_limit": "777MB"}) as con:
        limit = con.execute("select current_setting('memory_limit')").fetchone()[0]
    opened: list[tuple[str, tuple]] = []

    def recording_connect(database=":memory:", read_only=False, config=None, **kwargs):
        con = real_connect(database, read_only=read_only, config=config or {}, **kwargs)
        opened.append(
            (
                Path(str(database)).name,
                con.execute(
                    "select current_setting('memory_limit'), current_setting('threads'), "
                    "current_setting('temp_directory')"
                ).fetchall()[0],
            )
        )
        return con

    monkeypatch.setattr(duckdb, "connect", recording_connect)
    assert run_audit(settings, "build-r1", [], prepare_promotion=True).passed
    promote(settings)
    assert publish_list(settings, 2025).version == 1
    assert main(["sql", "select count(*) from marts.fct_shnor_list"]) == 0
    capsys.readouterr()
    names = {name for name, _ in opened}
    assert {"candidate.duckdb", "serving.duckdb", ":memory:"} <= names, names
    export = (limit, 1, str(spill))  # the serving export prepared beside the audit
    assert opened.count((":memory:", export)) == 1, opened
    assert all(got in ((limit, 2, str(spill)), export) for _, got in opened), opened


def test_a_candidate_with_changes_in_its_write_ahead_log_is_not_promoted(
    settings: Settings,
) -> None:
    """Changes another process committed to the candidate's write-ahead log are what a reader of
    the file sees, but not what its audited bytes (identity, SHA-256) hold: refused."""
    audit(settings)
    wal = settings.candidate_db.with_name(settings.candidate_db.name + ".wal")
    wal.write_bytes(b"not audited")
    with pytest.raises(CandidateChanged, match="write-ahead log"):
        promote(settings)
    assert not settings.serving_db.exists()
    wal.write_bytes(b"")  # an empty log holds nothing
    promote(settings)
    assert settings.serving_db.exists()
