"""Write-audit-publish: the pipeline writes the candidate warehouse; once audited it is copied
and atomically renamed over the serving warehouse that analysts and BI tools read."""

from __future__ import annotations

import hashlib
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import duckdb


@dataclass(frozen=True)
class Promotion:
    serving_path: Path
    size_bytes: int
    sha256: str


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(8 * 1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()


def promote(candidate: Path, serving: Path) -> Promotion:
    """Replace ``serving`` by a copy of ``candidate`` in one atomic rename.

    Readers holding the old serving file keep reading it (the old inode stays alive until
    they close it) and see the new data when they reconnect.
    """
    with duckdb.connect(str(candidate)) as con:
        con.execute("checkpoint")
    tmp = serving.with_name(f".{serving.name}.{os.getpid()}.tmp")
    shutil.copyfile(candidate, tmp)
    with open(tmp, "rb+") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, serving)
    dir_fd = os.open(serving.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    return Promotion(serving, serving.stat().st_size, _sha256(serving))
