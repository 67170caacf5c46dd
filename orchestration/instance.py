"""The Dagster instance eduq uses: DAGSTER_HOME under EDUQ_HOME, telemetry off."""

from __future__ import annotations

import os
from pathlib import Path

from core.settings import Settings

DAGSTER_YAML = """\
telemetry:
  enabled: false
run_coordinator:
  module: dagster.core.run_coordinator
  class: QueuedRunCoordinator
  config:
    max_concurrent_runs: 1
"""


def prepare_dagster_home(settings: Settings) -> Path:
    """Use $DAGSTER_HOME if set, else $EDUQ_HOME/dagster; make sure a dagster.yaml exists there."""
    home = Path(os.environ.get("DAGSTER_HOME") or settings.dagster_home)
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():
        config.write_text(DAGSTER_YAML)
    os.environ["DAGSTER_HOME"] = str(home)
    return home
