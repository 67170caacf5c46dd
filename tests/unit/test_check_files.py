"""``eduq check-files``: a dry run of the loader over a folder of files.

On the corpus of real-looking bad files, with a warehouse that already holds the school
registry and the code crosswalk: the printed outcome per file, the same outcomes as a real load of
the same files (one code path), and not one byte changed in the folder or the warehouse.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import duckdb
import pytest

from ingestion.check_files import FIRST_REASONS, FileCheck, quarantine_reasons
from ingestion.loader import ingest_all
from orchestration.cli import main
from tests.fixtures.ingestion.harness import CORPUS, TODAY, Region, _reference_warehouse

# the corpus as a region would deliver it, without the registry (already in the warehouse);
# the crosswalk again, byte for byte (already loaded: a duplicate)
DELIVERED = [
    "empty.csv",
    "gia_results_2024.csv",
    "resource_survey_2024.csv",
    "scan.pdf",
    "school_codes.csv",
    "school_successors.xlsx",
    "vpr_results_4kl_rus.csv",
    "vpr_results_header_only.csv",
    "vpr_results_pipe.csv",
    "vpr_results_truncated.xlsx",
    "vpr_school_stats_2024.xlsx",
    "vpr_school_stats_two_sheets.xlsx",
    "ВПР_2024_участники_Кировский.csv",
    "Социальный паспорт 2024.xlsx",
    "письмо.csv",
]
REAL_LOAD = [
    "ВПР_2024_участники_Кировский.csv",
    "empty.csv",
    "school_codes.csv",
    "vpr_results_header_only.csv",
]
# file -> (status, source, rows read, would load, would be quarantined), from the corpus files
# themselves (tests/fixtures/ingestion/make_fixtures.py and test_ingestion_corpus.py)
EXPECTED = {
    "empty.csv": ("rejected", None, 0, 0, 0),
    "gia_results_2024.csv": ("loaded", "gia_results", 3, 2, 1),
    "resource_survey_2024.csv": ("loaded", "resource_survey", 5, 2, 3),
    "scan.pdf": ("rejected", None, 0, 0, 0),
    "school_codes.csv": ("duplicate", None, 0, 0, 0),
    "school_successors.xlsx": ("loaded", "school_successors", 3, 2, 1),
    "vpr_results_4kl_rus.csv": ("loaded", "vpr_results", 5, 4, 1),
    "vpr_results_header_only.csv": ("rejected", "vpr_results", 0, 0, 0),
    "vpr_results_pipe.csv": ("rejected", "vpr_results", 0, 0, 0),
    "vpr_results_truncated.xlsx": ("rejected", "vpr_results", 0, 0, 0),
    "vpr_school_stats_2024.xlsx": ("loaded", "vpr_school_stats", 5, 3, 2),
    "vpr_school_stats_two_sheets.xlsx": ("rejected", "vpr_school_stats", 0, 0, 0),
    "ВПР_2024_участники_Кировский.csv": ("loaded", "vpr_results", 11, 4, 7),
    "Социальный паспорт 2024.xlsx": ("loaded", "social_passport", 10, 3, 7),
    "письмо.csv": ("rejected", None, 0, 0, 0),
}


def _hashes(*folders: Path) -> dict[str, str]:
    """SHA-256 of every file under the folders (and the list of them)."""
    out = {}
    for folder in folders:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                out[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


@pytest.fixture()
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """EDUQ_HOME whose warehouse holds the registry and the crosswalk of the corpus."""
    template = _reference_warehouse(monkeypatch)
    home = tmp_path / "home"
    (home / "warehouse").mkdir(parents=True)
    shutil.copyfile(template, home / "warehouse" / "candidate.duckdb")
    monkeypatch.setenv("EDUQ_HOME", str(home))
    monkeypatch.setenv("EDUQ_TODAY", TODAY)
    for name in ("EDUQ_LANDING_DIR", "EDUQ_WAREHOUSE_DIR", "EDUQ_PUBLICATIONS_DIR"):
        monkeypatch.delenv(name, raising=False)
    return home


def _deliver(folder: Path, names: list[str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        shutil.copyfile(CORPUS / name, folder / name)
    return folder


def _blocks(out: str) -> dict[str, str]:
    """The printed outcome of each file: its path line, then its indented lines."""
    blocks: dict[str, str] = {}
    current = None
    for line in out.splitlines():
        if line in EXPECTED:
            current = line
            blocks[current] = ""
        elif current is not None and line.startswith("  "):
            blocks[current] += line.strip() + "\n"
        else:
            current = None
    return blocks


def test_check_files_prints_the_outcome_of_every_file_changes_nothing_and_decides_as_a_load(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = _deliver(tmp_path / "delivery", DELIVERED)
    before = _hashes(folder, home)
    code = main(["check-files", str(folder)])
    out = capsys.readouterr().out
    assert _hashes(folder, home) == before, "the folder and the warehouse are byte-identical"
    assert sorted(p.name for p in home.rglob("*")) == ["candidate.duckdb", "warehouse"]
    assert code == 1  # files would be rejected

    blocks = _blocks(out)
    assert set(blocks) == set(EXPECTED)
    assert out.splitlines()[0] == (
        f"Checked 15 files in {folder.resolve()} (a dry run: nothing was loaded, moved or written)."
    )
    assert out.rstrip().splitlines()[-1] == (
        "7 files would load (42 rows read, 22 would be quarantined), 7 would be rejected, "
        "1 duplicate."
    )
    assert blocks["gia_results_2024.csv"] == (
        "→ gia_results «Результаты ГИА (ОГЭ, ЕГЭ)», year 2024: 3 rows read, 2 would load, "
        "1 would be quarantined (1 unknown_school)\n"
        "row 3, school_id «R-9999»: unknown school code: not in the school registry nor in the "
        "code crosswalk\n"
    )
    # the crosswalk codes of the warehouse count: R-0001 (row 2) and R-0002 are known
    assert blocks["ВПР_2024_участники_Кировский.csv"].splitlines() == [
        (
            "→ vpr_results «Результаты ВПР (по участникам)», years 2024, 2026: 11 rows read, "
            "4 would load, 7 would be quarantined (1 above_max, 1 below_min, 1 duplicate_row, "
            "1 future_year, 1 not_data, 1 total_row, 1 unknown_school)"
        ),
        "row 9, mark «6»: above the allowed maximum 5 («Отметка»)",
        (
            "row 10, school_id «sch999»: unknown school code: not in the school registry nor in "
            "the code crosswalk"
        ),
        "row 11, primary_score «-1»: below the allowed minimum 0 («Первичный балл»)",
        "… and 4 more rows",
    ]
    assert blocks["school_codes.csv"] == (
        "→ DUPLICATE: the same content as a file already delivered: it would be skipped\n"
    )
    assert blocks["vpr_results_header_only.csv"] == (
        "→ REJECTED: the header (row 1) has no data rows below it: an empty template? "
        "Fill it in and resend\n"
    )
    assert blocks["empty.csv"] == "→ REJECTED: the file is empty (0 bytes)\n"
    assert blocks["school_successors.xlsx"].startswith(
        "→ school_successors «Реорганизация ОО (правопреемники)»: 3 rows read, 2 would load, "
        "1 would be quarantined (1 invalid)\n"
    )

    # the real loader, into a copy of the same warehouse, decides the same for a file that loads
    # with quarantined rows, one rejected at the survey, one rejected at the load and a duplicate:
    # every printed line is what the real outcome and the real quarantine give
    real_home = tmp_path / "real" / "eduq"
    (real_home / "warehouse").mkdir(parents=True)
    shutil.copyfile(
        home / "warehouse" / "candidate.duckdb", real_home / "warehouse" / "candidate.duckdb"
    )
    region = Region(tmp_path / "real", monkeypatch)
    try:
        _deliver(region.settings.landing_dir, REAL_LOAD)
        survey, reports = ingest_all(region.con, region.settings)
        outcomes = [*survey.outcomes, *(f for r in reports for f in r.files)]
        real = {}
        for o in outcomes:
            if o.status == "queued":
                continue
            assert EXPECTED[o.file_name] == (
                o.status,
                o.source,
                o.rows_read,
                o.rows_loaded,
                o.rows_quarantined,
            )
            reasons = (
                quarantine_reasons(region.con, o.file_id, FIRST_REASONS)
                if o.rows_quarantined
                else []
            )
            lines = FileCheck(o.file_name, o, reasons).render().splitlines()[1:]
            real[o.file_name] = "".join(line.strip() + "\n" for line in lines)
    finally:
        region.close()
    assert real == {name: blocks[name] for name in REAL_LOAD}


def test_reference_files_of_the_same_folder_count_and_the_default_is_the_landing_folder(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A new school arrives with its registry file in the same delivery: its results are known
    (the loader loads reference files first). Without a folder argument the landing folder is
    checked."""
    landing = home / "landing"
    landing.mkdir()
    (landing / "schools_2025.csv").write_text(
        "Код ОО;Наименование ОО;Код МО;Муниципальное образование;Тип местности\n"
        "sch777;МБОУ «СОШ № 777»;01;Кировский район;город\n",
        encoding="utf-8",
    )
    (landing / "resource_survey_2025.csv").write_text(
        "Год;Код ОО;Всего педагогов\n2025;sch777;30\n2025;sch001;40\n2025;sch778;10\n",
        encoding="utf-8",
    )
    assert main(["check-files"]) == 0
    out = capsys.readouterr().out
    assert f"in {landing.resolve()} " in out.splitlines()[0]
    assert (
        "→ resource_survey «Мониторинг ресурсного обеспечения ОО», year 2025: 3 rows read, "
        "2 would load, 1 would be quarantined (1 unknown_school)\n"
        "      row 4, school_id «sch778»: unknown school code" in out
    )
    assert sorted(p.name for p in landing.iterdir()) == [
        "resource_survey_2025.csv",
        "schools_2025.csv",
    ]


def test_a_folder_that_does_not_exist_is_a_usage_error(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["check-files", str(tmp_path / "nowhere")]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (
        f"eduq check-files: no folder {tmp_path / 'nowhere'}: give the folder of the files to check\n"
    )


def test_a_warehouse_that_cannot_be_read_is_said_and_the_check_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    home = tmp_path / "home"
    (home / "warehouse").mkdir(parents=True)
    warehouse = home / "warehouse" / "candidate.duckdb"
    warehouse.write_bytes(b"not a database, " * 1000)
    monkeypatch.setenv("EDUQ_HOME", str(home))
    monkeypatch.setenv("EDUQ_TODAY", TODAY)
    folder = _deliver(tmp_path / "delivery", ["schools_2024.csv", "gia_results_2024.csv"])
    before = _hashes(folder, home)
    assert main(["check-files", str(folder)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[1].startswith(
        f"School codes and earlier deliveries: not the warehouse (cannot read {warehouse}: "
    )
    assert out[1].endswith("); only the reference files of this folder.")
    # the registry of the folder is there (sch002), the crosswalk of the warehouse (R-0001) is not
    assert out[out.index("gia_results_2024.csv") + 1] == (
        "  → gia_results «Результаты ГИА (ОГЭ, ЕГЭ)», year 2024: 3 rows read, 1 would load, "
        "2 would be quarantined (2 unknown_school)"
    )
    assert _hashes(folder, home) == before


def test_a_warehouse_a_run_is_writing_is_said_and_the_check_goes_on(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.held_file import held

    warehouse = home / "warehouse" / "candidate.duckdb"
    folder = _deliver(tmp_path / "delivery", ["schools_2024.csv", "gia_results_2024.csv"])
    with held(warehouse, "write"):
        assert main(["check-files", str(folder)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[1] == (
        f"School codes and earlier deliveries: not the warehouse (cannot read {warehouse} now: "
        "another process holds it for writing (a run, a withdrawal, a rebuild or a DuckDB "
        "session); check again when it is done); only the reference files of this folder."
    )


def test_the_warehouse_is_held_only_while_its_codes_are_copied(home: Path) -> None:
    """A run may start while a check goes on: the candidate is attached for the copy, then let go."""
    import duckdb

    from core import duck
    from ingestion.check_files import _attach_warehouse
    from ingestion.warehouse import ensure_raw_schema
    from tests.held_file import held

    warehouse = home / "warehouse" / "candidate.duckdb"
    with duck.connect() as con:
        ensure_raw_schema(con)
        _attach_warehouse(con, warehouse)
        assert con.execute("select count(*) from raw.schools").fetchone()[0] > 0
        # another process writes it while this connection is still open
        with held(warehouse, "write"):
            pass
        with duckdb.connect(str(warehouse)) as writer:
            writer.execute("checkpoint")


def test_rows_waiting_for_a_code_that_the_folder_makes_known_are_said_as_the_night_releases_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Results of two unknown codes waited in quarantine; the folder brings a crosswalk line for one:
    the check says which rows of which earlier file the night would load, and the night does."""
    from ingestion.check_files import Releasable, check_files
    from tests.fixtures.ingestion.harness import open_region

    regions = open_region(tmp_path, monkeypatch)
    region = next(regions)
    try:
        region.write(
            "gia_results_2024_поздние.csv",
            "Год;Код ОО в РИС;Экзамен;Предмет;Код участника;Категория участника;Этап;"
            "Первичный балл;Тестовый балл;Отметка;Статус\n"
            "2024;R-7777;ОГЭ;Математика;G101;;;15;;4;явка\n"
            "2024;R-7777;ОГЭ;Русский язык;G101;;;20;;4;явка\n"
            "2024;R-8888;ОГЭ;Математика;G102;;;15;;4;явка\n",
            folder="gia",
        )
        assert region.run().outcome("gia_results_2024_поздние.csv").rows_quarantined == 3
        region.con.close()
        folder = tmp_path / "delivery"
        folder.mkdir()
        crosswalk = "Система;Код в системе;Код ОО\nРИС ГИА;R-7777;sch004\n"
        (folder / "school_codes_2.csv").write_text(crosswalk, encoding="utf-8")
        report = check_files(folder, region.settings)
        assert report.releasable == [
            Releasable("gia_results", 2, ["gia_results_2024_поздние.csv"], ["R-7777"])
        ]
        assert report.render().endswith(
            "the night run would load them, unless another rule refuses them now:\n"
            "  gia_results: 2 rows of 1 earlier file (gia_results_2024_поздние.csv), codes R-7777"
        )
        region.con = duckdb.connect(str(region.settings.candidate_db))
        region.write("school_codes_2.csv", crosswalk)
        (release,) = next(r for r in region.run().reports if r.source == "gia_results").released
        assert release.rows_released == 2
        # nothing waits for a known code any more: nothing is said
        region.con.close()
        assert check_files(folder, region.settings).releasable == []
        region.con = duckdb.connect(str(region.settings.candidate_db))
    finally:
        next(regions, None)
