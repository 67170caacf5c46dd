"""An analyst's read-only connection to the serving warehouse during a whole nightly run (load, dbt,
audit, promotion, publication) never fails and never sees a partial state: a separate process
queries serving in a loop, reconnecting every five queries, and checks every time that each table
holds exactly the rows its audit recorded; after reconnecting it sees the new build. A second process
holds one connection through the whole run and keeps reading the old build, unharmed."""

from __future__ import annotations

import pytest

from tests.integration.test_gates_support import correction_run

pytestmark = pytest.mark.integration


def test_a_reader_never_fails_never_sees_a_partial_state_and_sees_the_new_build(
    small_region, region_documents, tmp_path_factory
) -> None:
    run = correction_run(small_region, region_documents, tmp_path_factory)
    report = run.reader
    assert report["errors"] == []
    assert report["inconsistent"] == []
    assert run.build_before != run.build_after
    assert run.saw_new
    assert report["builds"] == [run.build_before, run.build_after]  # old, then new, never back
    assert report["reconnects"] > 10 and report["queries"] > 50  # tens of seconds of reading
    # another analyst's connection held through the whole run kept reading the file it opened
    held = run.holder
    assert (held["errors"], held["inconsistent"], held["builds"]) == ([], [], [run.build_before])
    assert held["reconnects"] == 1 and held["queries"] > 20
