"""The settings of a run as a Dagster resource: every asset receives them instead of reading the
environment. A run started from the Dagster UI chooses what a CLI run can (the methodology profile,
a full refresh) in the launchpad: ``resources: {eduq: {config: {profile: fioko_2025_or}}}``."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

import dagster as dg

from core.settings import Settings, load_settings


class EduqResource(dg.ConfigurableResource):
    """eduq's settings (EDUQ_* environment) with what this run chooses."""

    profile: str | None = None  # methodology profile; default EDUQ_METHODOLOGY_PROFILE / fioko_2025
    full_refresh: bool | None = None  # recount every year (`eduq run --full-refresh`)
    home: str | None = None  # EDUQ_HOME of this run (the runner pins the one it was given)

    def settings(self) -> Settings:
        env = dict(os.environ)
        if self.home:
            env["EDUQ_HOME"] = self.home
        return load_settings(env).with_overrides(self.profile, self.full_refresh)

    @contextlib.contextmanager
    def yield_for_execution(self, context: dg.InitResourceContext) -> Iterator[EduqResource]:
        """A run of eduq's jobs holds the home's writer lock for its whole duration (the jobs run
        in process: resources live for the run): a scheduled or sensor run and a manual `eduq run`
        or `eduq publish` never write at once; the CLI already holds it (re-entrant)."""
        with self.settings().writer_lock("this Dagster run / этот запуск Dagster"):
            yield self


def run_config_for(settings: Settings) -> dict:
    """The run configuration that makes a job's assets use exactly ``settings``' choices."""
    return {
        "resources": {
            "eduq": {
                "config": {
                    "profile": settings.methodology_profile,
                    "full_refresh": settings.full_refresh,
                    "home": str(settings.home),
                }
            }
        }
    }
