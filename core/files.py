"""File helpers of write-audit-publish: content hashes, durable atomic writes."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

CHUNK = 8 * 1024 * 1024


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def copy_hashing(source: Path, target: Path) -> str:
    """Copy ``source`` to ``target`` (written to disk) and return the SHA-256 of what was copied:
    the bytes read once for both."""
    digest = hashlib.sha256()
    with open(source, "rb") as src, open(target, "wb") as dst:
        while chunk := src.read(CHUNK):
            digest.update(chunk)
            dst.write(chunk)
        dst.flush()
        os.fsync(dst.fileno())
    return digest.hexdigest()


def pending_wal(path: Path) -> bool:
    """Whether the DuckDB file ``path`` has changes in its write-ahead log (``<path>.wal``) not yet
    written into it: a reader would see them, its identity and its hash do not."""
    wal = path.with_name(path.name + ".wal")
    try:
        return wal.stat().st_size > 0
    except FileNotFoundError:
        return False


def file_identity(path: Path) -> str:
    """Which file, in which state, without reading it: device, inode, size, and the modification and
    change times in nanoseconds. Every write changes the change time, which no program can set back,
    so an equal identity means the same bytes as when it was taken (hashing a whole-country
    warehouse costs seconds a time; comparing identities costs a stat)."""
    return identity_of(path.stat())


def identity_of(st: os.stat_result) -> str:
    """:func:`file_identity` of a file's ``stat`` already taken."""
    return f"{st.st_dev}:{st.st_ino}:{st.st_size}:{st.st_mtime_ns}:{st.st_ctime_ns}"


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to a temporary file beside ``path``, fsync it, then rename it over ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)


def dumps_json(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, indent=2, sort_keys=False, default=str) + "\n"


def write_json_atomic(path: Path, data: Any) -> None:
    write_bytes_atomic(path, dumps_json(data).encode("utf-8"))


@contextlib.contextmanager
def folder_lock(folder: Path) -> Iterator[None]:
    """One publisher at a time in ``folder`` (an exclusive flock on ``folder/.lock``)."""
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def write_version_folder(folder: Path, target: Path, files: dict[str, bytes]) -> None:
    """Write ``files`` (names may hold sub-folders) into a staging folder beside ``target``, each
    file and folder synced and the files read-only, then rename it to ``target`` in one step.
    Call it under :func:`folder_lock` with ``target`` checked absent; a failure leaves nothing."""
    staging = folder / f".{target.name}.staging-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    try:
        dirs = {staging}
        for name, data in files.items():
            path = staging / name
            path.parent.mkdir(parents=True, exist_ok=True)
            dirs.add(path.parent)
            with open(path, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            path.chmod(0o444)
        for d in sorted(dirs, key=lambda p: len(p.parts), reverse=True):
            fsync_dir(d)
        os.rename(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    fsync_dir(folder)
