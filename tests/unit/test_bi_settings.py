"""Where the marts go and how they are typed: the PostgreSQL settings (EDUQ_PG_URL, the project's
cluster, EDUQ_PG_PORT), passwords never shown, DuckDB types mapped to PostgreSQL and Frictionless."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.settings import SettingsError, load_settings
from publishing.marts_files import field_type
from publishing.postgres import pg_type, resolve_target, select_expression


@pytest.fixture()
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("EDUQ_HOME", str(tmp_path))
    for name in ("EDUQ_PG_URL", "EDUQ_PG_PORT", "EDUQ_PG_BI_ROLE", "EDUQ_SUPERSET_PORT"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


def test_defaults_and_an_unusable_port(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = load_settings()
    assert (settings.pg_url, settings.pg_port, settings.pg_bi_role) == (None, 5433, "eduq_bi")
    assert (settings.superset_port, settings.docs_port) == (8088, 8580)
    assert settings.pg_dir == home / "postgres" and settings.superset_dir == home / "superset"
    monkeypatch.setenv("EDUQ_PG_PORT", "54x")
    with pytest.raises(SettingsError, match="EDUQ_PG_PORT='54x' is not a TCP port"):
        load_settings()
    monkeypatch.setenv("EDUQ_PG_PORT", "70000")
    with pytest.raises(SettingsError, match="not a TCP port"):
        load_settings()


def test_the_target_is_eduq_pg_url_else_the_running_project_cluster(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target, why = resolve_target(load_settings())
    assert target is None and "EDUQ_PG_URL is not set" in why and "make postgres" in why

    cluster = home / "postgres"
    (cluster / "data").mkdir(parents=True)
    (cluster / "credentials").write_text(
        "OWNER_USER=eduq\nOWNER_PASSWORD=s3cr:t/x\nBI_USER=eduq_bi\nBI_PASSWORD=b\nDATABASE=eduq\n"
    )
    target, _ = resolve_target(load_settings())
    assert target is None  # initialised, not running (no postmaster.pid)
    (cluster / "data" / "postmaster.pid").write_text("1\n")
    monkeypatch.setenv("EDUQ_PG_PORT", "6543")
    target, _ = resolve_target(load_settings())
    assert target.source == "project cluster"
    assert target.conninfo == "postgresql://eduq:s3cr%3At%2Fx@127.0.0.1:6543/eduq"
    assert target.label == "postgresql://eduq:***@127.0.0.1:6543/eduq"

    monkeypatch.setenv("EDUQ_PG_URL", "postgresql://loader:pw@db.region.local:5432/marts")
    settings = load_settings()
    target, _ = resolve_target(settings)
    assert (target.source, target.label) == (
        "EDUQ_PG_URL",
        "postgresql://loader:***@db.region.local:5432/marts",
    )
    assert "pw" not in repr(settings)


def test_types() -> None:
    assert [pg_type(t) for t in ("VARCHAR", "BIGINT", "DOUBLE", "BOOLEAN", "DATE")] == [
        "text",
        "bigint",
        "double precision",
        "boolean",
        "date",
    ]
    assert pg_type("DECIMAL(18,3)") == "numeric(18,3)"
    assert pg_type("TIMESTAMP WITH TIME ZONE") == "timestamptz"
    assert pg_type("VARCHAR[]") == "text"  # lists go as their text form
    assert select_expression("codes", "VARCHAR[]") == 'cast("codes" as varchar) as "codes"'
    assert select_expression('we"ird', "INTEGER") == '"we""ird"'
    assert [field_type(t) for t in ("VARCHAR", "INTEGER", "DOUBLE", "DECIMAL(9,2)", "BOOLEAN")] == [
        "string",
        "integer",
        "number",
        "number",
        "boolean",
    ]
