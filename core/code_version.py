"""A fingerprint of the pipeline's code: what, besides the data, decides what a build contains.

The dbt project (models, macros, tests, project files), the seeds (methodology profiles and
reference tables), the input contracts, the Python of the stages that read, check and judge
(ingestion, gate, core) and the modules that invoke dbt. Recorded with every audit; a night whose landing folder is empty, whose
code fingerprint and profile are those of the serving warehouse's build, has nothing to do.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CODE_FOLDERS = (
    "core",
    "ingestion",
    "gate",
    "dbt_project/models",
    "dbt_project/macros",
    "dbt_project/tests",
    "seeds",
)
CODE_FILES = (
    "dbt_project/dbt_project.yml",
    "dbt_project/profiles.yml",
    "pyproject.toml",
    # how dbt is invoked (its arguments and selection): a night rebuilds only what its files reach
    # (gate/baseline.py) when this is the code that built the baseline too
    "orchestration/dbt_build.py",
    "orchestration/dbt_project.py",
    "orchestration/assets/dbt.py",
)
SUFFIXES = {".py", ".sql", ".yml", ".yaml", ".csv", ".toml"}


def code_fingerprint(root: Path = ROOT) -> str:
    """SHA-256 over the relative path and bytes of every code file (a few hundred small files)."""
    digest = hashlib.sha256()
    paths: list[Path] = []
    for folder in CODE_FOLDERS:
        base = root / folder
        if base.exists():
            paths += [
                p
                for p in base.rglob("*")
                if p.is_file() and p.suffix in SUFFIXES and "__pycache__" not in p.parts
            ]
    paths += [root / f for f in CODE_FILES if (root / f).exists()]
    for path in sorted(paths):
        digest.update(str(path.relative_to(root)).encode())
        digest.update(b"\0")
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()
