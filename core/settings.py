"""Where eduq keeps its files, configured by environment variables with the ``EDUQ_`` prefix.

Every setting has a safe default so that the demo runs with nothing set:

``EDUQ_HOME``            root folder (default ``./.eduq``)
``EDUQ_LANDING_DIR``     incoming files (default ``$EDUQ_HOME/landing``)
``EDUQ_WAREHOUSE_DIR``   DuckDB files (default ``$EDUQ_HOME/warehouse``)
``EDUQ_PUBLICATIONS_DIR`` published lists (default ``$EDUQ_HOME/publications``)
``EDUQ_METHODOLOGY_PROFILE`` methodology profile used by dbt (default ``fioko_2025``)
``EDUQ_DBT_FULL_REFRESH`` ``1``: dbt rebuilds incremental models from scratch (``eduq run --full-refresh``)
``EDUQ_TODAY``           ISO date treated as today (future-year checks; tests and replays)
``EDUQ_PG_URL``          an existing PostgreSQL server to publish the marts to (``postgresql://user:pw@host:port/db``);
                         unset: the project's own cluster under ``$EDUQ_HOME/postgres`` (``make postgres``)
``EDUQ_PG_PORT``         port of the project's PostgreSQL cluster on 127.0.0.1 (default 5433)
``EDUQ_PG_BI_ROLE``      the read-only role BI tools log in as (default ``eduq_bi``)
``EDUQ_SUPERSET_PORT``   port of Superset on 127.0.0.1 (``make bi-serve``; default 8088)
``EDUQ_DOCS_PORT``       port of the dbt docs on 127.0.0.1 (``eduq docs``; default 8580)
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass, field
from pathlib import Path

from core.errors import EduqError

DEFAULT_PROFILE = "fioko_2025"
DEFAULT_PG_PORT = 5433
DEFAULT_PG_BI_ROLE = "eduq_bi"
DEFAULT_SUPERSET_PORT = 8088
DEFAULT_DOCS_PORT = 8580


class SettingsError(EduqError, ValueError):
    """An EDUQ_* environment variable holds a value eduq cannot use."""


@dataclass(frozen=True)
class Settings:
    home: Path
    landing_dir: Path
    warehouse_dir: Path
    publications_dir: Path
    methodology_profile: str
    today: dt.date
    pg_url: str | None = field(default=None, repr=False)  # may hold a password
    pg_port: int = DEFAULT_PG_PORT
    pg_bi_role: str = DEFAULT_PG_BI_ROLE
    superset_port: int = DEFAULT_SUPERSET_PORT
    docs_port: int = DEFAULT_DOCS_PORT

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

    @property
    def pg_dir(self) -> Path:
        """The project's own PostgreSQL cluster (``scripts/postgres.sh``): data, log, credentials."""
        return self.home / "postgres"

    @property
    def superset_dir(self) -> Path:
        """Superset's metadata database, configuration secret and admin credentials."""
        return self.home / "superset"

    def ensure_dirs(self) -> None:
        for path in (self.landing_dir, self.warehouse_dir, self.publications_dir, self.archive_dir):
            path.mkdir(parents=True, exist_ok=True)


def _path(name: str, default: Path) -> Path:
    value = os.environ.get(name)
    return Path(value).expanduser().resolve() if value else default.resolve()


def _port(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    if not value.isdigit() or not 0 < int(value) < 65536:
        raise SettingsError(f"{name}={value!r} is not a TCP port (a number from 1 to 65535)")
    return int(value)


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
        pg_url=os.environ.get("EDUQ_PG_URL") or None,
        pg_port=_port("EDUQ_PG_PORT", DEFAULT_PG_PORT),
        pg_bi_role=os.environ.get("EDUQ_PG_BI_ROLE") or DEFAULT_PG_BI_ROLE,
        superset_port=_port("EDUQ_SUPERSET_PORT", DEFAULT_SUPERSET_PORT),
        docs_port=_port("EDUQ_DOCS_PORT", DEFAULT_DOCS_PORT),
    )
