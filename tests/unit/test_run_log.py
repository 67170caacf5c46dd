"""The run's log on a full disk (/dev/full answers every write with ENOSPC): what the run prints and
logs while its output goes to the log must not turn into an error of its own, so that the run can
still report its own outcome (docs/reliability.md, disk full)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from orchestration.cli import _output_to

FULL = Path("/dev/full")


@pytest.mark.skipif(not FULL.exists(), reason="needs Linux's /dev/full")
def test_a_log_on_a_full_disk_does_not_hide_the_outcome() -> None:
    with pytest.raises(RuntimeError, match="the run's own failure"), _output_to(FULL):
        print("dbt output " * 10_000)
        logging.getLogger("eduq.test").warning("a log record " * 1_000)
        raise RuntimeError("the run's own failure")
    with _output_to(FULL):  # and a run that succeeds stays a success
        print("x" * 100_000, flush=True)
