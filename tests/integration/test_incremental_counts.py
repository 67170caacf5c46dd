"""int_procedure_counts is incremental by results year: with nothing new no year is counted again,
and a changed macro counts every year again. (A corrected file for one year recounting that year
only, to exactly what a full recount gives: tests/integration/test_night_build.py.)

The region was built by the whole pipeline (Dagster, the `small_region` fixture); here dbt builds
the counts with the dbt asset's own arguments, in the test's process, so the test needs no second
Dagster run and no dbt process."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest

from tests.integration.test_gates_support import (
    copy_home,
)

pytestmark = pytest.mark.integration

COLUMNS = "school_id, procedure_code, year, participants, failing, result_source, input_fingerprint"
MODELS = ["int_result_inputs_by_year", "int_procedure_counts"]


def _counts(db: Path) -> list[tuple]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(
            f"select {COLUMNS}, counted_at from intermediate.int_procedure_counts order by all"
        ).fetchall()


def _dbt_run(
    db: Path,
    work: Path,
    *,
    full_refresh: bool,
    project_dir: Path | None = None,
) -> str:
    """`dbt run` of the counts with the dbt asset's arguments, in this process; returns what the
    models logged. The project as it is uses the parse this worker shares (tests/dbt_inprocess.py);
    another ``project_dir`` is parsed for this run (a dbt process would cost seconds of start-up)."""
    from dbt.cli.main import dbtRunner

    from core.environ import temporary_environment
    from core.settings import load_settings
    from orchestration.dbt_build import build_args
    from orchestration.dbt_project import DBT_PROJECT_DIR, LOGGERS_OFF, dbt_env
    from tests.dbt_inprocess import on_database, parsed_manifest

    settings = load_settings().with_overrides("fioko_2025", full_refresh)
    args = build_args(settings)  # as `eduq run [--full-refresh]` builds
    args[0] = "run"  # the two models alone; their tests run in every pipeline run
    args = [a for a in args if a not in ("--exclude-resource-type", "unit_test")]
    logged: list[str] = []

    def callback(event) -> None:
        if event.info.name == "JinjaLogInfo":
            logged.append(event.data.msg)

    manifest = parsed_manifest() if project_dir is None else None
    project_dir = project_dir or DBT_PROJECT_DIR
    with temporary_environment(dbt_env(settings)), on_database(db):
        result = dbtRunner(manifest=manifest, callbacks=[callback]).invoke(
            [
                *args,
                "--select",
                *MODELS,
                "--project-dir",
                str(project_dir),
                "--profiles-dir",
                str(project_dir),
                "--target-path",
                str(work / "target"),
                "--log-path",
                str(work / "logs"),
                *LOGGERS_OFF,
            ]
        )
    assert result.success, result.exception or result.result
    return "\n".join(logged)


def test_nothing_new_counts_no_year_again(small_region, tmp_path, monkeypatch) -> None:
    """(A correction of one year recounting that year only, and a full recount giving the same
    counts, are shown on a whole pipeline night: tests/integration/test_night_build.py.)"""
    settings = copy_home(small_region.settings, tmp_path / "home", monkeypatch)
    before = _counts(settings.candidate_db)
    assert {r[2] for r in before} == {2022, 2023, 2024}
    assert "counting years none" in _dbt_run(settings.candidate_db, tmp_path, full_refresh=False)
    assert _counts(settings.candidate_db) == before


def test_a_change_of_a_project_macro_recounts_every_year(
    small_region, tmp_path, monkeypatch
) -> None:
    """The counts depend on macros too (staging applies the latest-delivery rule through one):
    a changed macro, with no model or input changed, counts every year again."""
    from orchestration.dbt_project import DBT_PROJECT_DIR, SEEDS_DIR

    settings = copy_home(small_region.settings, tmp_path / "home", monkeypatch)
    project = tmp_path / "code" / "dbt_project"
    shutil.copytree(DBT_PROJECT_DIR, project, ignore=shutil.ignore_patterns("target", "logs"))
    (project.parent / SEEDS_DIR.name).symlink_to(SEEDS_DIR)  # the project's seed path is ../seeds
    macro = project / "macros" / "latest_delivery.sql"
    text = macro.read_text(encoding="utf-8")
    assert "{%- endmacro %}" in text
    macro.write_text(
        text.replace("{%- endmacro %}", "{#- a changed macro -#}\n{%- endmacro %}"), "utf-8"
    )

    out = _dbt_run(
        settings.candidate_db,
        tmp_path,
        full_refresh=False,
        project_dir=project,
    )
    assert "counting years 2022, 2023, 2024" in out
