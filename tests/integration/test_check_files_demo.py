"""``eduq check-files`` on a demo landing folder written by ``eduq generate``, next to the
warehouse of the session's built region: every file is recognised with its year and its rows (the
generator's manifest says how many), a file already loaded is a duplicate, and the warehouse and
the folder are byte-identical afterwards."""

from __future__ import annotations

import csv
import hashlib
import json
import shutil
from pathlib import Path

import pytest

from orchestration.cli import main

pytestmark = pytest.mark.integration


def _hashes(*folders: Path) -> dict[str, str]:
    return {
        str(p): hashlib.sha256(p.read_bytes()).hexdigest()
        for folder in folders
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_check_files_on_a_generated_landing_folder_with_a_built_warehouse(
    small_region, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    settings = small_region.settings
    monkeypatch.setenv("EDUQ_HOME", str(settings.home))
    folder = tmp_path / "landing"
    assert (
        main(
            [
                "generate",
                "--out",
                str(folder),
                "--seed",
                "8",
                "--schools",
                "20",
                "--years",
                "2023-2024",
            ]
        )
        == 0
    )
    manifest = json.loads((folder / "region_manifest.json").read_text(encoding="utf-8"))
    # a file the warehouse has loaded already
    shutil.copyfile(
        small_region.landing_copy / "school_codes.csv", folder / "school_codes_again.csv"
    )
    capsys.readouterr()
    assert settings.candidate_db.is_file()
    before = _hashes(folder, settings.warehouse_dir)
    assert main(["check-files", str(folder)]) == 0
    out = capsys.readouterr().out
    assert _hashes(folder, settings.warehouse_dir) == before

    from ingestion.contract import load_contracts

    lines = out.splitlines()
    assert f"the warehouse ({settings.candidate_db}, read-only)" in lines[1]
    for f in manifest["files"]:
        title = load_contracts()[f["source"]].title_ru
        year = f", year {f['year']}" if f["year"] else ""
        at = lines.index(f["path"])
        rows = f["rows"]
        if f["year"] is None and f["source"] in ("support_programmes", "programme_targets"):
            # a file without a year in its name: the years are in its «Год» column
            with open(folder / f["path"], encoding="utf-8", newline="") as fh:
                records = list(csv.DictReader(fh, delimiter=";"))
            column = next(c for c in records[0] if c.strip().startswith("Год"))
            found = sorted({int(r[column]) for r in records})
            year = (", year " if len(found) == 1 else ", years ") + ", ".join(map(str, found))
        assert lines[at + 1] == (
            f"  → {f['source']} «{title}»{year}: {rows} row{'s' if rows != 1 else ''} read, "
            f"{rows} would load, 0 quarantined"
        ), f["path"]
    at = lines.index("school_codes_again.csv")
    assert lines[at + 1] == (
        "  → DUPLICATE: the same content as a file already delivered: it would be skipped"
    )
    total = sum(f["rows"] for f in manifest["files"])
    assert lines[-1] == (
        f"{len(manifest['files'])} files would load ({total} rows read, 0 would be quarantined), "
        "0 would be rejected, 1 duplicate."
    )
