"""~50 seeded fuzz cases of the loader (the 1,000-case run: `make fuzz`, bench/fuzz.py): every mutated
delivery loads with exact accounting or is rejected with a message; no traceback, no hang."""

from __future__ import annotations

from tests.reliability.fuzzing import run_fuzz


def test_fuzzed_deliveries_load_exactly_or_are_rejected_with_a_message() -> None:
    report = run_fuzz(seed=13, count=50, timeout=30, giant=1_000_000)
    assert not report.failures, report.render()
    counts = report.counts()
    assert counts["loaded"] + counts["rejected"] + counts["duplicate"] == 50
    # the seed exercises both ways out and the row accounting
    assert counts["loaded"] >= 10 and counts["rejected"] >= 10, report.render()
    assert sum(o.rows[2] for o in report.outcomes) > 0  # some rows were quarantined
