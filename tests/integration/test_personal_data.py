"""Participant codes are personal data: they stay in raw and staging of the candidate warehouse. No
published file (the list CSV/XLSX, the marts files, the report, the cards), no column of the serving
warehouse (marts, reference, meta, audit), no audit file and no log line of the run carries one."""

from __future__ import annotations

import duckdb

from tests.personal_data import participant_codes, scan_duckdb, scan_files


def test_no_participant_code_leaves_the_candidate(small_region, region_documents, tmp_path) -> None:
    settings = small_region.settings
    codes = participant_codes(small_region.landing_copy)
    assert len(codes) > 1000  # the scan looks for something real
    findings, scanned_files = [], 0
    for root in (
        settings.publications_dir,
        settings.warehouse_dir / "audit",
        settings.home / "logs",
    ):
        found, scanned = scan_files(root, codes)
        findings += found
        scanned_files += scanned
    found, scanned_columns = scan_duckdb(settings.serving_db, codes)
    findings += found
    assert not findings, "\n".join(map(str, findings))
    # everything that should be there was scanned: the list, the marts files, the report, the cards
    published = {p.suffix for p in settings.publications_dir.rglob("*") if p.is_file()}
    assert {".csv", ".xlsx", ".parquet", ".html", ".pdf"} <= published
    assert scanned_files > 20 and scanned_columns > 200
    # the scan would find a leak: the candidate holds them, and so would a file that named one
    with duckdb.connect(str(settings.candidate_db), read_only=True) as con:
        sample = sorted(codes)[:50]
        found = con.execute(
            "select count(distinct participant_code) from (select participant_code from "
            "raw.vpr_results union all select participant_code from raw.gia_results) "
            "where participant_code in (select unnest(?::varchar[]))",
            [sample],
        ).fetchone()[0]
    assert found > 0
    planted = sorted(codes)[7]
    (tmp_path / "planted.log").write_text(f"duplicate participant {planted}.\n", encoding="utf-8")
    assert [f.codes for f in scan_files(tmp_path, codes)[0]] == [{planted}]
