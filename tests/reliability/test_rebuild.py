"""A damaged candidate and a damaged serving file: publication refuses, `eduq run` fails with a
message, `eduq rebuild` rebuilds the warehouse from the raw archive, and the result equals the lost
one (every public table, and the published files: no new version). Real processes; `make reliability`."""

from __future__ import annotations

import hashlib
import os
import random
import subprocess
from pathlib import Path

import duckdb
import pytest

from gate.promote import serving_integrity
from tests.reliability.kill import EDUQ, ROOT, env_for, published_bytes, run_eduq

pytestmark = pytest.mark.reliability
TODAY = "2025-11-01"


def _tables(db: Path) -> dict[str, str]:
    """A digest of every table of the public schemas (rows sorted, so order does not matter)."""
    out = {}
    with duckdb.connect(str(db), read_only=True) as con:
        tables = con.execute(
            "select schema_name, table_name from duckdb_tables() "
            "where schema_name in ('marts', 'reference') order by all"
        ).fetchall()
        for schema, table in tables:
            rows = con.execute(f'select * from "{schema}"."{table}"').fetchall()
            text = "\n".join(sorted(repr(r) for r in rows))
            out[f"{schema}.{table}"] = hashlib.sha256(text.encode()).hexdigest()
    return out


def _eduq(home: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(EDUQ), *args],
        check=False,
        cwd=ROOT,
        env=env_for(home, TODAY),
        capture_output=True,
        text=True,
        timeout=900,
    )


def test_rebuild_from_the_archive_gives_back_the_lost_warehouse(tmp_path: Path) -> None:
    from synthetic import generate_region

    home = tmp_path / "home"
    generate_region(home / "landing", seed=2, schools=14, years=(2022, 2023, 2024))
    first = run_eduq(home, TODAY)
    assert first.returncode == 0, first.stderr[-3000:]
    serving = home / "warehouse" / "serving.duckdb"
    candidate = home / "warehouse" / "candidate.duckdb"
    tables, published = _tables(serving), published_bytes(home, 2025)
    assert len(tables) > 20 and published

    # the disk damages both warehouse files
    candidate.write_bytes(random.Random(1).randbytes(candidate.stat().st_size))
    os.truncate(serving, serving.stat().st_size // 2)
    assert serving_integrity(serving) is not None

    refused = _eduq(home, "publish", "--year", "2025")
    assert refused.returncode == 1
    assert "is damaged or was changed after promotion" in refused.stderr
    assert "eduq rebuild" in refused.stderr and "Traceback" not in refused.stderr
    failed = _eduq(home, "run")
    assert failed.returncode != 0 and "Traceback" not in failed.stderr + failed.stdout
    assert serving_integrity(serving) is not None  # nothing damaged was promoted or served

    rebuilt = _eduq(home, "rebuild")
    assert rebuilt.returncode == 0, rebuilt.stderr[-3000:] + rebuilt.stdout[-3000:]
    assert "Rebuilt from the archive" in rebuilt.stdout
    assert serving_integrity(serving) is None
    assert _tables(serving) == tables
    assert published_bytes(home, 2025) == published
    versions = sorted(p.name for p in (home / "publications" / "2025").glob("v*"))
    assert versions == ["v1"]  # the same list: not published again
    # the damaged files are kept aside, not deleted
    aside = list((home / "warehouse").glob("before-rebuild-*"))
    assert len(aside) == 1 and (aside[0] / "candidate.duckdb").exists()
