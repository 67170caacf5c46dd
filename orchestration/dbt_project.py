"""The dbt project as Dagster sees it, with the manifest prepared once (not per step)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from dagster_dbt import DbtProject

from core.settings import load_settings

DBT_PROJECT_DIR = Path(__file__).resolve().parent.parent / "dbt_project"
SEEDS_DIR = DBT_PROJECT_DIR.parent / "seeds"
MANIFEST = DBT_PROJECT_DIR / "target" / "manifest.json"

os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "False")
os.environ.setdefault("DO_NOT_TRACK", "1")


def _sources_newer_than(path: Path) -> bool:
    if not path.exists():
        return True
    built = path.stat().st_mtime
    for folder in (
        DBT_PROJECT_DIR / "models",
        DBT_PROJECT_DIR / "macros",
        DBT_PROJECT_DIR / "tests",
        SEEDS_DIR,
    ):
        for file in folder.rglob("*"):
            if file.is_file() and file.stat().st_mtime > built:
                return True
    return (DBT_PROJECT_DIR / "dbt_project.yml").stat().st_mtime > built


def dbt_env() -> dict[str, str]:
    """Environment for a dbt subprocess: the candidate warehouse of the current settings."""
    env = dict(os.environ)
    env["EDUQ_DBT_DB_PATH"] = str(load_settings().candidate_db)
    return env


def ensure_manifest() -> Path:
    """Parse the dbt project when the manifest is missing or older than a model, macro or seed."""
    if _sources_newer_than(MANIFEST):
        dbt = Path(sys.executable).with_name("dbt")
        subprocess.run(
            [
                str(dbt),
                "parse",
                "--quiet",
                "--project-dir",
                str(DBT_PROJECT_DIR),
                "--profiles-dir",
                str(DBT_PROJECT_DIR),
            ],
            check=True,
            cwd=DBT_PROJECT_DIR,
            env=dbt_env(),
        )
    return MANIFEST


eduq_dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)
