"""Versions of a publication folder, as for the ШНОР list: ``<folder>/v<N>/``, never overwritten.

A version is written into a staging folder and renamed to ``v<N>`` under a lock; its files are
read-only. A version whose content fingerprint (everything a reader sees, and the code that
renders it) equals the latest version's is not written again: the result is ``unchanged``.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import platform
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from core.files import dumps_json, folder_lock, sha256_bytes, write_version_folder
from publishing.errors import VersionConflict

VERSION_DIR = re.compile(r"^v(\d+)$")
MANIFEST = "manifest.json"
SOFTWARE = (
    "eduq",
    "duckdb",
    "weasyprint",
    "pydyf",
    "fonttools",
    "vl-convert-python",
    "jinja2",
    "openpyxl",
)


@dataclass
class Published:
    status: str  # published | unchanged
    version: int
    directory: Path
    files: list[str] = field(default_factory=list)


def versions(folder: Path) -> list[int]:
    """Published versions (folders v<N> with a manifest), ascending."""
    if not folder.exists():
        return []
    found = []
    for child in folder.iterdir():
        match = VERSION_DIR.match(child.name)
        if match and child.is_dir() and (child / MANIFEST).exists():
            found.append(int(match.group(1)))
    return sorted(found)


def latest_manifest(folder: Path) -> dict | None:
    found = versions(folder)
    if not found:
        return None
    return json.loads((folder / f"v{found[-1]}" / MANIFEST).read_text(encoding="utf-8"))


def code_fingerprint() -> str:
    """The renderer's own code and templates: a changed layout is a new version of the document."""
    here = Path(__file__).parent
    digest = hashlib.sha256()
    for path in sorted([*here.glob("*.py"), *(here / "templates").glob("*")]):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def software_versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in SOFTWARE:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def publish_version(
    folder: Path,
    content_fingerprint: str,
    render: Callable[[int], dict[str, bytes]],
    manifest: Callable[[int, int | None, dict[str, bytes]], dict],
) -> Published:
    """Publish ``render(version)`` as ``folder/v<N>`` unless the latest version has the same
    content fingerprint. ``manifest(version, previous, files)`` gives the manifest's content; the
    file list with hashes and the fingerprint are added here."""
    with folder_lock(folder):
        existing = versions(folder)
        if existing:
            latest = json.loads(
                (folder / f"v{existing[-1]}" / MANIFEST).read_text(encoding="utf-8")
            )
            if latest.get("content_fingerprint") == content_fingerprint:
                return Published("unchanged", existing[-1], folder / f"v{existing[-1]}")
        version = (existing[-1] if existing else 0) + 1
        target = folder / f"v{version}"
        if target.exists():
            raise VersionConflict(
                f"{target} exists without a manifest (an interrupted publication?); published versions "
                "are never overwritten: move it aside and publish again."
            )
        files = render(version)
        data = manifest(version, existing[-1] if existing else None, files)
        data["content_fingerprint"] = content_fingerprint
        data["files"] = [
            {"name": name, "sha256": sha256_bytes(content), "bytes": len(content)}
            for name, content in sorted(files.items())
        ]
        files[MANIFEST] = dumps_json(data).encode("utf-8")
        write_version_folder(folder, target, files)
    return Published("published", version, target, sorted(files))
