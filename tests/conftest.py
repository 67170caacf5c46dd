"""How `make test` spreads the tests over two pytest-xdist workers: whole modules go to one worker
(module-scoped fixtures are built once); modules sharing what a process builds once go to the same
worker (the failed and the corrected runs of tests/integration/test_gates_support.py, the region of
tests/integration/conftest.py small_region and its Dagster events, dbt imported and the seeded
warehouse of tests/dbt_inprocess.py); the longest units start first so that the short ones fill the gaps at the
end.

(pytest-xdist's own --dist loadgroup does not group under pytest 9: it renames node ids, which
pytest 9 no longer reads; a scheduler of our own groups by file.)"""

from __future__ import annotations

import gc

import pytest

# modules that share expensive state built once per process: one unit of work
SHARED_SCOPES = {
    "tests/integration/test_publication_versions.py": "tests/integration/test_gates.py",
    "tests/integration/test_concurrent_reader.py": "tests/integration/test_gates.py",
    # the readers of the shared region's report and cards (conftest region_documents: ~8 s to
    # render, once; the failed run of test_gates copies the region with them)
    "tests/integration/test_report.py": "tests/integration/test_gates.py",
    "tests/integration/test_cards.py": "tests/integration/test_gates.py",
    "tests/integration/test_small_numbers.py": "tests/integration/test_gates.py",
    "tests/integration/test_personal_data.py": "tests/integration/test_gates.py",
    # the readers of the Dagster events of the small region's build: in the process that built it
    # (tests/integration/conftest.py small_region; the other workers copy the region)
    "tests/integration/test_pipeline_e2e.py": "tests/integration/test_gates.py",
    "tests/integration/test_bi_files.py": "tests/integration/test_gates.py",
    # dbt's worker process of the pipelines above (orchestration/dbt_worker.py), started once
    "tests/integration/test_dbt_worker.py": "tests/integration/test_gates.py",
    # dbt in the test process (tests/dbt_inprocess.py): dbt's import (~3 s) and the seeded warehouse
    # copied for every build, once for all of them (the parsed project is the product's pickle,
    # shared by every process)
    "tests/dbt/test_dbt_unit_tests.py": "tests/integration/test_delivery_shapes.py",
    "tests/integration/test_methodology_region.py": "tests/integration/test_delivery_shapes.py",
    "tests/integration/test_night_build.py": "tests/integration/test_delivery_shapes.py",
}
# the modules that take longest (whole pipeline runs), started first
LONGEST_FIRST = [
    "tests/integration/test_gates.py",
    "tests/integration/test_concurrent_reader.py",
    "tests/integration/test_publication_versions.py",
    "tests/integration/test_delivery_shapes.py",
    "tests/integration/test_methodology_region.py",
    "tests/integration/test_incremental_counts.py",
    "tests/integration/test_pipeline_e2e.py",
    "tests/integration/test_night_build.py",
    "tests/integration/test_incomplete_year.py",
    # LibreOffice's start-up (CI installs it): not left for the end of a worker
    "tests/integration/test_publication_libreoffice.py",
    "tests/dbt/test_dbt_unit_tests.py",
    "tests/integration/test_dagster_dev.py",
    "tests/integration/test_bi_files.py",
    # the longest of the others (each 4-25 s): not left for the end, where a long module keeps one
    # worker busy while the other has nothing left
    "tests/unit/test_expectations.py",
    "tests/unit/test_manifest_cache.py",
    "tests/unit/test_synthetic.py",
    "tests/unit/test_publishing.py",
    "tests/unit/test_ingestion_batches.py",
    "tests/dbt/test_materializations.py",
    "tests/unit/test_report_render.py",
    "tests/unit/test_ingestion_delivery.py",
    "tests/unit/test_cli_errors.py",
    "tests/unit/test_bench_baselines.py",
]


def _module(nodeid: str) -> str:
    return nodeid.split("::", 1)[0]


def scope_of(nodeid: str) -> str:
    """The unit of work of a test: its module, or the module whose unit it shares."""
    module = _module(nodeid)
    return SHARED_SCOPES.get(module, module)


def pytest_configure(config: pytest.Config) -> None:
    # the pipeline runs in the test processes as `eduq` runs it: with the garbage collector's
    # thresholds of orchestration/cli.py (the defaults collect the imported Dagster, dbt and Great
    # Expectations objects over and over)
    from orchestration.cli import GC_THRESHOLDS

    gc.set_threshold(*GC_THRESHOLDS)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {path: i for i, path in enumerate(LONGEST_FIRST)}

    def key(item: pytest.Item) -> tuple[int, int]:
        module = _module(item.nodeid)
        return (rank.get(module, len(rank)), 0 if module.startswith("tests/integration") else 1)

    items.sort(key=key)  # stable: the order inside a module is kept


try:
    from xdist.scheduler import LoadFileScheduling
except ImportError:  # plain pytest without xdist: nothing to schedule
    pass
else:

    class _ModuleScheduling(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return scope_of(nodeid)

    def pytest_xdist_make_scheduler(config: pytest.Config, log) -> LoadFileScheduling:
        config.option.loadscopereorder = False  # keep the order above
        return _ModuleScheduling(config, log)
