"""int_procedure_counts is incremental by results year: a corrected file for one year recounts that
year only, and the result is exactly what a full recount (`eduq run --full-refresh`) gives."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from tests.integration.test_gates_support import (
    copy_home,
    correct_results,
    informative_students_only,
    new_instance,
)

pytestmark = pytest.mark.integration

COLUMNS = "school_id, procedure_code, year, participants, failing, result_source, input_fingerprint"


def _counts(db: Path, columns: str = COLUMNS + ", counted_at") -> list[tuple]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(f"select {columns} from intermediate.int_procedure_counts order by all").fetchall()


def _full_recount(candidate: Path, work: Path) -> list[tuple]:
    """The same model counted from scratch, as `eduq run --full-refresh` does (dbt build
    --full-refresh), on a copy of the warehouse."""
    from orchestration.assets.dbt import dbt_build_args
    from orchestration.dbt_project import DBT_PROJECT_DIR, dbt_env

    copy = work / "full_refresh.duckdb"
    shutil.copyfile(candidate, copy)
    env = dbt_env() | {"EDUQ_DBT_DB_PATH": str(copy), "EDUQ_DBT_FULL_REFRESH": "1"}
    dbt = Path(sys.executable).with_name("dbt")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("EDUQ_DBT_FULL_REFRESH", "1")
        args = dbt_build_args("fioko_2025")
    args[0] = "run"  # the model alone; its tests ran in the pipeline
    subprocess.run(
        [str(dbt), *args, "--quiet", "--select", "int_procedure_counts", "--target-path", str(work / "target"),
         "--profiles-dir", str(DBT_PROJECT_DIR)],
        check=True, cwd=DBT_PROJECT_DIR, env=env,
    )
    recounted = _counts(copy)
    assert {r[-1] for r in recounted}.isdisjoint({r[-1] for r in _counts(candidate)})  # every year counted again
    return [r[:-1] for r in recounted]


def test_a_correction_of_one_year_recounts_that_year_only(small_region, tmp_path, monkeypatch) -> None:
    from orchestration.runner import run_pipeline

    settings = copy_home(small_region.settings, tmp_path / "home", monkeypatch)
    before = _counts(settings.candidate_db)
    school = min(informative_students_only(settings, (2024,)))
    correct_results(small_region.landing_copy, settings.landing_dir / "corrections", 2024, {school: "fail"})

    run_pipeline(settings, instance=new_instance(), quiet=True)

    after = _counts(settings.candidate_db)
    # 2022 and 2023 were not counted again: the same rows, counted by the first build
    assert [r for r in after if r[2] != 2024] == [r for r in before if r[2] != 2024]
    counted_2024 = {r[-1] for r in after if r[2] == 2024}
    assert len(counted_2024) == 1 and counted_2024 != {r[-1] for r in before if r[2] == 2024}
    # the corrected school fails every procedure it sat in 2024; the others did not change
    corrected = [r for r in after if r[0] == school and r[2] == 2024]
    assert corrected and all(r[4] == r[3] for r in corrected)
    untouched = [r[:6] for r in after if r[2] == 2024 and r[0] != school]
    assert untouched == [r[:6] for r in before if r[2] == 2024 and r[0] != school]
    # exactly what a full recount of every year gives
    assert [r[:-1] for r in after] == _full_recount(settings.candidate_db, tmp_path)
