"""The repository stands on its own: its markdown links only to files inside it, and ``make``
says in one line which Python it needs and how to point ``PYTHON=`` at it."""

from __future__ import annotations

import re
import subprocess
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SKIP_DIRS = {".venv", ".git", ".eduq", "dbt_packages", "target", "node_modules", ".pytest_cache"}
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
IMAGE = re.compile(r"!\[[^\]]*\]\(([^)\s]+)\)")
CODE_PATH = re.compile(r"`(\.\./[^`\s]+)`")  # a path in code that climbs out of its folder
FENCE = re.compile(r"^```.*?^```", re.DOTALL | re.MULTILINE)


def markdown_files() -> list[Path]:
    return sorted(
        p
        for p in ROOT.rglob("*.md")
        if not SKIP_DIRS & set(p.relative_to(ROOT).parts) and p.is_file()
    )


def _anchors(path: Path) -> set[str]:
    """GitHub's heading anchors of a markdown file, and its explicit <a id="…">."""
    text = FENCE.sub("", path.read_text(encoding="utf-8"))
    anchors = set(re.findall(r'<a id="([^"]+)"', text))
    for heading in re.findall(r"^#+\s+(.+?)\s*$", text, re.MULTILINE):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        anchors.add(slug)
    return anchors


def broken_links(path: Path) -> list[str]:
    text = FENCE.sub("", path.read_text(encoding="utf-8"))
    broken = []
    targets = [m.group(1) for m in LINK.finditer(text)] + [m.group(1) for m in IMAGE.finditer(text)]
    for target in targets:
        if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.IGNORECASE):  # http:, https:, mailto:
            continue
        file_part, _, anchor = target.partition("#")
        resolved = (path.parent / file_part).resolve() if file_part else path
        if ROOT not in resolved.parents and resolved != ROOT:
            broken.append(f"{target}: outside the repository")
        elif not resolved.exists():
            broken.append(f"{target}: no such file")
        elif anchor and resolved.suffix == ".md" and anchor not in _anchors(resolved):
            broken.append(f"{target}: no heading «{anchor}»")
    for target in CODE_PATH.findall(text):
        resolved = (path.parent / target).resolve()
        if ROOT not in resolved.parents or not resolved.exists():
            broken.append(f"`{target}`: a path outside the repository or missing")
    return broken


@pytest.mark.parametrize(
    "path", markdown_files(), ids=[p.relative_to(ROOT).as_posix() for p in markdown_files()]
)
def test_markdown_links_only_to_files_in_the_repository(path: Path) -> None:
    assert broken_links(path) == []


def test_the_link_check_finds_a_link_out_of_the_repository(tmp_path: Path) -> None:
    page = ROOT / "docs" / "_link_check_example.md"
    page.write_text(
        "See [contracts](../../shared/contracts.md), [ok](contracts.md), [gone](nothing.md), "
        "[anchor](ingestion.md#no-such-heading), `../shared/methodology.md` and "
        "[web](https://example.org).\n",
        encoding="utf-8",
    )
    try:
        assert broken_links(page) == [
            "../../shared/contracts.md: outside the repository",
            "nothing.md: no such file",
            "ingestion.md#no-such-heading: no heading «no-such-heading»",
            "`../shared/methodology.md`: a path outside the repository or missing",
        ]
    finally:
        page.unlink()


def test_make_says_in_one_line_which_python_is_needed(tmp_path: Path) -> None:
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    assert requires == ">=3.11,<3.12"
    assert "PYTHON_NEEDED := 3.11\n" in (ROOT / "Makefile").read_text()
    fake = tmp_path / "python3"  # answers like a Python 3.12 would
    fake.write_text('#!/bin/sh\n[ "$1" = "-c" ] && echo 3.12 || echo "Python 3.12.1"\n')
    fake.chmod(0o755)
    done = subprocess.run(
        ["make", "-s", "setup", f"VENV={tmp_path / 'venv'}", f"PYTHON={fake}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode != 0
    assert done.stdout == ""
    (line,) = done.stderr.splitlines()
    assert f"eduq needs Python 3.11 but {fake} is 3.12" in line
    assert "point PYTHON= at it, e.g. make setup PYTHON=python3.11" in line
    assert not (tmp_path / "venv").exists(), "nothing was installed"
