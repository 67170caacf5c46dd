"""Where eduq keeps its files, configured by environment variables with the ``EDUQ_`` prefix.

Every setting has a safe default so that the demo runs with nothing set:

``EDUQ_HOME``            root folder (default ``./.eduq``)
``EDUQ_LANDING_DIR``     incoming files (default ``$EDUQ_HOME/landing``)
``EDUQ_WAREHOUSE_DIR``   DuckDB files (default ``$EDUQ_HOME/warehouse``)
``EDUQ_PUBLICATIONS_DIR`` published lists (default ``$EDUQ_HOME/publications``)
``EDUQ_METHODOLOGY_PROFILE`` methodology profile used by dbt (default ``fioko_2025``)
``EDUQ_DBT_FULL_REFRESH`` ``1``: dbt rebuilds incremental models from scratch (``eduq run --full-refresh``)
``EDUQ_TODAY``           ISO date treated as today (future-year checks; tests and replays)
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_PROFILE = "fioko_2025"


@dataclass(frozen=True)
class Settings:
    home: Path
    landing_dir: Path
    warehouse_dir: Path
    publications_dir: Path
    methodology_profile: str
    today: dt.date

    @property
    def candidate_db(self) -> Path:
        """The warehouse file the pipeline writes (write side of write-audit-publish)."""
        return self.warehouse_dir / "candidate.duckdb"

    @property
    def serving_db(self) -> Path:
        """The audited warehouse file analysts and BI tools open read-only."""
        return self.warehouse_dir / "serving.duckdb"

    @property
    def rejected_dir(self) -> Path:
        return self.landing_dir / "rejected"

    @property
    def archive_dir(self) -> Path:
        return self.home / "archive"

    @property
    def dagster_home(self) -> Path:
        return self.home / "dagster"

    def ensure_dirs(self) -> None:
        for path in (self.landing_dir, self.warehouse_dir, self.publications_dir, self.archive_dir):
            path.mkdir(parents=True, exist_ok=True)


def _path(name: str, default: Path) -> Path:
    value = os.environ.get(name)
    return Path(value).expanduser().resolve() if value else default.resolve()


def load_settings() -> Settings:
    home = _path("EDUQ_HOME", Path.cwd() / ".eduq")
    today_text = os.environ.get("EDUQ_TODAY")
    today = dt.date.fromisoformat(today_text) if today_text else dt.date.today()
    return Settings(
        home=home,
        landing_dir=_path("EDUQ_LANDING_DIR", home / "landing"),
        warehouse_dir=_path("EDUQ_WAREHOUSE_DIR", home / "warehouse"),
        publications_dir=_path("EDUQ_PUBLICATIONS_DIR", home / "publications"),
        methodology_profile=os.environ.get("EDUQ_METHODOLOGY_PROFILE", DEFAULT_PROFILE),
        today=today,
    )
