"""Small-number protection: no published file of the built region carries a figure about fewer than 5
pupils (publishing/small_numbers.py). Every file under publications/ is read — the list (CSV, Parquet,
XLSX), the marts files (CSV, Parquet, datapackage), the regional report (HTML, XLSX, PDF), the school
cards (HTML and PDF, all and per school) — and checked against group sizes computed from the delivered
files (tests/small_numbers_scan.py). The serving warehouse keeps the exact values."""

from __future__ import annotations

import json

import duckdb

from tests.small_numbers_scan import (
    NUMBER_MARK,
    Scan,
    check_card_html,
    check_list_rows,
    check_mart_rows,
    pdf_text,
    read_csv_rows,
    read_parquet_rows,
    read_truth,
    read_xlsx_tables,
    small,
)


def test_no_published_file_shows_a_figure_about_fewer_than_5_pupils(
    small_region, region_documents
) -> None:
    settings = small_region.settings
    truth = read_truth(small_region.landing_copy, small_region.expected_results)
    schools = {s for s, _, _ in truth.results}
    root = settings.publications_dir
    files = sorted(p for p in root.rglob("*") if p.is_file())
    scan = Scan()
    latest_marts = max((p for p in root.glob("*/marts/v*")), key=lambda p: int(p.name[1:]))
    targets = {
        (r["school_id"], r["indicator"]): r
        for r in read_csv_rows(latest_marts / "fct_programme_targets.csv")
    }
    html_marks: dict[str, int] = {}
    pdfs = []
    for path in files:
        parts = path.relative_to(root).parts
        if path.name == ".lock":  # a publication folder's lock: empty
            assert path.stat().st_size == 0
            scan.count("lock")
        elif path.suffix == ".json":  # manifests and the datapackage: metadata, no rows
            data = json.loads(path.read_text(encoding="utf-8"))
            if path.name == "sources.json":  # where each report cell comes from, not its value
                assert all("value" not in c for sheet in data for c in sheet["cells"])
            scan.count("json")
        elif "marts" in parts and path.suffix in (".csv", ".parquet"):
            rows = read_csv_rows(path) if path.suffix == ".csv" else read_parquet_rows(path)
            check_mart_rows(path.stem, rows, truth, scan)
            scan.count(f"marts {path.suffix}")
        elif path.name.startswith("shnor_list_"):
            if path.suffix == ".xlsx":
                tables = read_xlsx_tables(path)
            else:
                tables = [read_csv_rows(path) if path.suffix == ".csv" else read_parquet_rows(path)]
            assert tables and tables[0], path
            list_year = int(path.stem.rsplit("_", 1)[1])
            for rows in tables:  # the default profile: results of the year before the list
                check_list_rows(path.name, rows, truth, scan, list_year - 1)
            scan.count(f"list {path.suffix}")
        elif path.name.startswith("diff_"):  # schools added / removed / cluster changed: no figures
            assert all(
                truth.procedure_codes.keys().isdisjoint(r.values()) for r in read_csv_rows(path)
            )
            scan.count("list diff")
        elif "cards" in parts and path.suffix == ".html":
            html_marks[str(path.with_suffix(""))] = check_card_html(path, truth, targets, scan)
            scan.count("cards .html")
        elif "cards" in parts and path.suffix == ".pdf":
            pdfs.append(path)
        elif "report" in parts:  # figures of groups of schools only: no school is named
            if path.suffix == ".pdf":
                text = pdf_text(path) or ""
            elif path.suffix == ".xlsx":
                import openpyxl

                book = openpyxl.load_workbook(path, read_only=True, data_only=True)
                text = " ".join(
                    str(c)
                    for s in book.worksheets
                    for r in s.iter_rows(values_only=True)
                    for c in r
                )
                book.close()
            else:
                text = path.read_text(encoding="utf-8")
            named = [s for s in schools if s in text]
            assert not named, f"{path.name} names schools {named[:3]}"
            scan.count(f"report {path.suffix}")
        else:
            scan.problems.append(f"{path.relative_to(root)}: not checked by this test")
    # the PDFs show what the HTML pages show: the same «<5» cells
    for path in pdfs:
        text = pdf_text(path)
        if text is None:
            continue
        html = path.parent.parent / "html" / path.stem if path.parent.name == "pdf" else path
        expected = html_marks[str(html.with_suffix("") if html.suffix else html)]
        assert text.count(NUMBER_MARK) == expected, path
        scan.count("cards .pdf")
    print(
        f"small-number scan: {scan.files}; {scan.small_groups_seen} small groups, "
        f"{scan.suppressed_cells} cells checked hidden, {scan.list_procedures_checked} "
        "procedures named by the list checked N >= 5"
    )
    assert not scan.problems, "\n".join(scan.problems[:30])
    # everything that should be there was read, and the region does have small groups
    assert {"marts .csv", "marts .parquet", "list .csv", "list .xlsx", "cards .html"} <= set(
        scan.files
    )
    assert scan.files["marts .csv"] >= 22
    assert scan.small_groups_seen > 100
    assert scan.list_procedures_checked > 50
    # the serving warehouse keeps the exact values (analysts, access-controlled)
    with duckdb.connect(str(settings.serving_db), read_only=True) as con:
        exact = con.execute(
            "select count(*) from marts.fct_procedure_results "
            "where participants between 1 and 4 and failing is not null and fail_share is not null"
        ).fetchone()[0]
    expected_small = sum(small(n) for n in truth.results.values())
    assert exact == expected_small > 50
