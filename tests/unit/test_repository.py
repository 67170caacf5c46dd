"""The repository stands on its own: its markdown links only to files inside it, and ``make``
says in one line which Python it needs and how to point ``PYTHON=`` at it."""

from __future__ import annotations

import re
import shutil
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


def _skipped(part: str) -> bool:
    return part in SKIP_DIRS or part.startswith(".venv")  # .venv-duckdb1, .venv-superset, …


def markdown_files() -> list[Path]:
    """The repository's markdown files: git's tracked and untracked ones, not those it ignores
    (the virtual environments' packages); without git, a walk that skips the same folders."""
    try:
        listed = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard", "--", "*.md"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):  # not a git checkout (an unpacked archive)
        found = (p for p in ROOT.rglob("*.md") if not any(map(_skipped, p.relative_to(ROOT).parts)))
    else:
        found = (ROOT / name for name in listed.split("\0") if name)
    return sorted(p for p in found if p.is_file())


MARKDOWN_FILES = markdown_files()


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
    "path", MARKDOWN_FILES, ids=[p.relative_to(ROOT).as_posix() for p in MARKDOWN_FILES]
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


def test_the_markdown_of_installed_packages_is_not_the_repositorys(monkeypatch) -> None:
    """`make test-bi` leaves .venv-superset (ignored by git) with its packages' READMEs, whose
    links point at files they do not ship: they are not the repository's pages, with git or
    without it."""
    page = ROOT / ".venv-superset" / "lib" / "_link_check_pkg" / "README.md"
    created = next(d for d in reversed(page.parents) if not d.exists())  # removed afterwards
    page.parent.mkdir(parents=True)
    page.write_text("[gone](nothing.md)\n", encoding="utf-8")
    try:
        with_git = markdown_files()

        def no_git(*args, **kwargs):
            raise FileNotFoundError("git")

        monkeypatch.setattr(subprocess, "run", no_git)
        without_git = markdown_files()
    finally:
        shutil.rmtree(created)
    assert page not in with_git and page not in without_git
    assert with_git == without_git == MARKDOWN_FILES
    assert (
        ROOT / "README.md" in MARKDOWN_FILES and ROOT / "docs" / "performance.md" in MARKDOWN_FILES
    )


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
