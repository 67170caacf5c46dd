"""``eduq generate``'s user-facing errors: one line on stderr, exit code 2, no traceback, nothing
written; and the guard that keeps synthetic files out of a landing folder holding real ones."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from orchestration.cli import main


@pytest.fixture()
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    monkeypatch.setenv("EDUQ_HOME", str(home))
    for name in ("EDUQ_LANDING_DIR", "EDUQ_WAREHOUSE_DIR", "EDUQ_PUBLICATIONS_DIR"):
        monkeypatch.delenv(name, raising=False)
    return home


def _files(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["--years", "2024-2021"],
            (
                "eduq generate: --years 2024-2021: year range goes backwards: '2024-2021' "
                "(write the earlier year first, e.g. 2021-2024)"
            ),
        ),
        (
            ["--years", "20x1"],
            (
                "eduq generate: --years 20x1: not a year or a year range: '20x1' "
                "(use e.g. 2021-2024 or 2021,2023)"
            ),
        ),
        (["--years", "1990"], "eduq generate: years: 1990..1990 is outside 2000..2100"),
        (["--schools", "2"], "eduq generate: schools: at least 3 schools are needed"),
    ],
    ids=["reversed", "garbage", "too-early", "too-few-schools"],
)
def test_a_bad_argument_is_a_one_line_usage_error(
    home: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    assert main(["generate", *argv]) == 2
    captured = capsys.readouterr()
    assert (captured.out, captured.err) == ("", message + "\n")
    assert not home.exists() or _files(home) == {}, "nothing was written"


def test_the_entry_point_exits_2_without_a_traceback(home: Path) -> None:
    done = subprocess.run(
        [str(Path(sys.executable).with_name("eduq")), "generate", "--years", "2024-2021"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr


def test_generate_refuses_a_landing_folder_with_real_files_unless_forced(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    landing = home / "landing"
    (landing / "vpr").mkdir(parents=True)
    (landing / "vpr" / "ВПР_2024_Кировский.csv").write_text("Год;Код ОО\n2024;sch001\n")
    (landing / "~$lock.xlsx").write_text("an Office lock file is not a delivery")
    before = _files(landing)
    assert main(["generate", "--schools", "5", "--years", "2024"]) == 2
    captured = capsys.readouterr()
    assert (captured.out, captured.err) == (
        "",
        (
            f"eduq generate: the landing folder {landing} holds 1 file(s) the generator did not "
            "write (e.g. vpr/ВПР_2024_Кировский.csv): synthetic files would be loaded with them. "
            "Use --out DIR for another folder, or --force to write here anyway.\n"
        ),
    )
    assert _files(landing) == before, "nothing was written"

    assert main(["generate", "--schools", "5", "--years", "2024", "--force"]) == 0
    out = capsys.readouterr().out
    manifest = json.loads((landing / "region_manifest.json").read_text(encoding="utf-8"))
    assert out.startswith(f"Generated {len(manifest['files'])} files, ")
    assert {f["path"] for f in manifest["files"]} | {
        "region_manifest.json",
        "vpr/ВПР_2024_Кировский.csv",
        "~$lock.xlsx",
    } == set(_files(landing))


def test_generate_writes_again_over_its_own_files_and_beside_rejected_ones(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    landing = home / "landing"
    assert main(["generate", "--schools", "5", "--years", "2024"]) == 0
    (landing / "rejected").mkdir()
    (landing / "rejected" / "school_successors.xlsx.reason.txt").write_text("no data rows")
    assert main(["generate", "--schools", "5", "--years", "2023-2024"]) == 0
    assert capsys.readouterr().err == ""
    # --out is the user's explicit choice: no guard
    other = home / "elsewhere"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    assert main(["generate", "--out", str(other), "--schools", "5", "--years", "2024"]) == 0
    assert (other / "notes.txt").read_text() == "mine"
