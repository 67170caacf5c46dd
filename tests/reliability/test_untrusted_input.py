"""Input files are untrusted: formula cells are read as their cached values, never evaluated; zip
bombs and huge workbooks are refused from the sizes their zip directory declares, before anything
is unpacked; file names cannot make eduq write outside EDUQ_HOME; school names that look like
formulas are published as text."""

from __future__ import annotations

import io
import shutil
import struct
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import openpyxl
import pyarrow as pa
import pytest

from ingestion.readers import check_archive
from publishing.cells import csv_text, keep_as_text, neutralise_csv
from tests.fixtures.ingestion.harness import Region, open_region
from tests.fixtures.reliability.make_fixtures import sheet, workbook, write_xlsx

FIXTURES = Path(__file__).parents[1] / "fixtures" / "reliability"


@pytest.fixture()
def region(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Region]:
    yield from open_region(tmp_path, monkeypatch)


def test_formula_cells_are_read_as_their_cached_values(region: Region) -> None:
    shutil.copyfile(
        FIXTURES / "vpr_school_stats_formulas_2024.xlsx",
        region.settings.landing_dir / "vpr_school_stats_formulas_2024.xlsx",
    )
    outcome = region.run().outcome("vpr_school_stats_formulas_2024.xlsx")
    assert (outcome.status, outcome.rows_read, outcome.rows_loaded, outcome.rows_quarantined) == (
        "loaded",
        4,
        3,
        1,
    )
    assert region.query(
        "select school_id, subject, participants from raw.vpr_school_stats order by school_id"
    ) == [
        ("sch001", "Математика", 20),  # SUM(F2:I2), cached 20
        ("sch002", "Математика", 15),  # HYPERLINK(…, "Математика"): its text, no link
        ("sch004", "=cmd|' /C calc'!A0", 12),  # a cached text beginning with «=»: text
    ]
    # the formula never computed has no value: an empty required cell, quarantined with its row
    assert [(r, c) for r, c, _, _ in region.quarantined(outcome)] == [(4, "participants")]


def _bomb(path: Path, megabytes: int) -> Path:
    """A valid workbook whose sheet repeats one row: a real zip bomb of ``megabytes`` of XML."""
    row = b"<row><c><v>0</v></c></row>"
    body = row * (megabytes * 1024**2 // len(row))
    xml = sheet([["Год", "Код ОО"]]).encode().replace(b"</sheetData>", body + b"</sheetData>")
    write_xlsx(path, workbook(xml))
    return path


def test_a_zip_bomb_is_refused_before_it_is_unpacked(region: Region) -> None:
    bomb = _bomb(region.settings.landing_dir / "vpr_school_stats_2024.xlsx", 40)
    assert bomb.stat().st_size < 1024**2  # 40 MB of XML in well under 1 MB
    started = time.perf_counter()
    outcome = region.run().outcome("vpr_school_stats_2024.xlsx")
    assert time.perf_counter() - started < 10
    assert outcome.status == "rejected"
    assert "as a zip bomb does; it was not opened" in outcome.message
    assert (region.settings.rejected_dir / "vpr_school_stats_2024.xlsx").exists()


def _declare_size(data: bytes, size: int) -> bytes:
    """The same zip with the central directory declaring ``size`` uncompressed bytes for its first
    member (a huge workbook, or a zip that lies about its sizes)."""
    at = data.rindex(b"PK\x01\x02")  # the last central directory entry
    return data[: at + 24] + struct.pack("<I", size) + data[at + 28 :]


def test_a_huge_workbook_is_refused_from_its_declared_size(tmp_path: Path) -> None:
    path = tmp_path / "schools_2024.xlsx"
    write_xlsx(path, workbook(sheet([["Код ОО"], ["sch001"]])))
    path.write_bytes(_declare_size(path.read_bytes(), 0xFFFF_FFF0))
    with zipfile.ZipFile(path) as zf:
        assert sum(m.file_size for m in zf.infolist()) > 4 * 1024**3 - 100
    with pytest.raises(Exception, match="would unpack to 4,096 MB") as refused:
        check_archive(path)
    assert type(refused.value).__name__ == "OversizedWorkbookError"
    check_archive(FIXTURES / "vpr_school_stats_formulas_2024.xlsx")  # a normal workbook passes


def test_file_names_cannot_write_outside_the_home(region: Region, tmp_path: Path) -> None:
    """Names that look like paths, a symlink to a folder outside the home, a workbook whose zip
    members are named ../../…: every file ends in the archive or in landing/rejected, nothing is
    written outside EDUQ_HOME, and the outside folder is untouched."""
    home = region.settings.home
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.csv").write_text("Код ОО;Наименование ОО\nsch001;Школа\n", encoding="utf-8")
    landing = region.settings.landing_dir
    (landing / "..%2F..%2Foutside%2Fevil.csv").write_text("x;y\n1;2\n", encoding="utf-8")
    (landing / "..\\..\\outside\\evil2.csv").write_text("x;y\n1;2\n", encoding="utf-8")
    (landing / "linked").symlink_to(outside, target_is_directory=True)
    evil = io.BytesIO()
    with zipfile.ZipFile(evil, "w") as zf:
        for name, data in workbook(sheet([["Код ОО"], ["sch001"]])).items():
            zf.writestr(name, data)
        zf.writestr("../../../outside/evil3.txt", "x")
    (landing / "schools_evil_2024.xlsx").write_bytes(evil.getvalue())
    before = sorted(p.name for p in tmp_path.iterdir())
    run = region.run()
    assert sorted(p.name for p in outside.iterdir()) == ["keep.csv"]
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    for outcome in run.files:
        assert outcome.status in ("rejected", "loaded", "duplicate"), outcome
    for path in (region.settings.rejected_dir).iterdir():
        assert path.resolve().is_relative_to(home.resolve())
    names = {f.file_name for f in run.files}
    assert "keep.csv" not in names  # the symlinked folder outside the home is not followed


def test_published_csv_neutralises_formula_like_texts() -> None:
    names = ['=HYPERLINK("http://x";"y")', "+79001234567", "-1+2", "@SUM(A1)", "МБОУ «СОШ № 1»"]
    table = pa.table({"school_name": names, "n": [1, 2, 3, 4, 5]})
    safe = neutralise_csv(table)
    assert safe.column("school_name").to_pylist() == [
        '\'=HYPERLINK("http://x";"y")',
        "'+79001234567",
        "'-1+2",
        "'@SUM(A1)",
        "МБОУ «СОШ № 1»",
    ]
    assert safe.column("n").to_pylist() == [1, 2, 3, 4, 5]
    assert neutralise_csv(pa.table({"a": ["ok"]})).column("a").to_pylist() == ["ok"]
    assert csv_text("\tx") == "'\tx"


def test_published_xlsx_keeps_formula_like_texts_as_text() -> None:
    wb = openpyxl.Workbook()
    cell = wb.active.cell(row=1, column=1, value='=HYPERLINK("http://x","y")')
    keep_as_text(cell)
    buffer = io.BytesIO()
    wb.save(buffer)
    with zipfile.ZipFile(io.BytesIO(buffer.getvalue())) as zf:
        xml = zf.read("xl/worksheets/sheet1.xml").decode()
    assert "<f>" not in xml and "HYPERLINK" in xml
    back = openpyxl.load_workbook(io.BytesIO(buffer.getvalue())).active["A1"]
    assert back.data_type == "s" and back.value == '=HYPERLINK("http://x","y")'


def test_the_published_list_carries_no_formula(tmp_path: Path, monkeypatch) -> None:
    """A registry whose school names begin with = + - @: the published list's CSV shows them with an
    apostrophe, its XLSX as text cells, its Parquet as delivered."""
    import pyarrow.parquet as pq

    from core.settings import load_settings
    from gate.promote import promote
    from publishing.publish import publish_list
    from tests.unit.test_publishing import audit, write_candidate

    monkeypatch.setenv("EDUQ_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("EDUQ_TODAY", "2025-09-01")
    monkeypatch.delenv("EDUQ_METHODOLOGY_PROFILE", raising=False)
    settings = load_settings()
    settings.ensure_dirs()
    names = ['=HYPERLINK("http://evil.example";"МБОУ СОШ № 1")', "+МБОУ СОШ № 2", "@МКОУ ООШ"]
    write_candidate(
        settings,
        [
            ("sch000001", names[0], "Город", "moderate", 0.45),
            ("sch000002", names[1], "Город", "basic", 0.35),
            ("sch000003", names[2], "Район", "severe", 0.62),
        ],
    )
    audit(settings)
    promote(settings)
    result = publish_list(settings, 2025)
    folder = result.directory
    csv_text_ = next(folder.glob("*.csv")).read_text(encoding="utf-8-sig")
    for name in names:
        assert f"'{name}" in csv_text_.replace('""', '"')
    xlsx = next(folder.glob("*.xlsx"))
    with zipfile.ZipFile(xlsx) as zf:
        assert not any(b"<f>" in zf.read(n) for n in zf.namelist() if n.startswith("xl/worksheets"))
    cells = [
        c
        for row in openpyxl.load_workbook(xlsx).active.iter_rows()
        for c in row
        if isinstance(c.value, str) and c.value in names
    ]
    assert len(cells) == 3 and {c.data_type for c in cells} == {"s"}
    parquet = pq.read_table(next(folder.glob("*.parquet"))).to_pylist()
    assert {v for r in parquet for v in r.values()} >= set(names)
