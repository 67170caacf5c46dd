"""Reading a dbt ``manifest.json`` while dbt may be rewriting it.

dbt writes ``<target>/manifest.json`` in place (it truncates the file, then writes it): a process that
reads it meanwhile gets half a file. Every writer of a target folder (a parse, a build, `dbt docs
generate`) holds an exclusive ``flock`` on ``<target>/.eduq_parse.lock`` while dbt runs, and every
reader a shared one while it reads (:func:`read_manifest`), so no reader ever sees a half-written
manifest, whichever process (another home on the same installation, `eduq docs`, a publication)
writes it. The kernel releases the lock when its holder dies, however it dies.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

LOCK_NAME = ".eduq_parse.lock"


def lock_path(target_dir: Path) -> Path:
    return Path(target_dir) / LOCK_NAME


@contextlib.contextmanager
def target_lock(target_dir: Path, exclusive: bool) -> Iterator[None]:
    """Exclusive (dbt writes the folder) or shared (a reader reads it) lock on a dbt target folder.
    Not re-entrant across kinds: never ask for a shared lock while holding the exclusive one."""
    target_dir = Path(target_dir)
    target_dir.mkdir(parents=True, exist_ok=True)
    with open(lock_path(target_dir), "a") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def read_manifest(path: Path) -> dict[str, Any]:
    """The dbt manifest at ``path``, read under the shared lock of its target folder. Raises
    ``OSError`` (missing) or ``json.JSONDecodeError`` (not JSON) as reading it would."""
    path = Path(path)
    if not path.parent.is_dir():
        raise FileNotFoundError(f"no dbt target folder {path.parent}")
    with target_lock(path.parent, exclusive=False):
        return json.loads(path.read_text(encoding="utf-8"))
