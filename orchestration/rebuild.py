"""`eduq rebuild`: the warehouse rebuilt from the raw archive, after a damaged candidate or serving
file (a disk error, a truncated copy, a file edited by hand).

Every delivered file that was loaded is kept in ``$EDUQ_HOME/archive/<source>/<file_id>_<name>``. A
rebuild, holding the home's writer lock:

1. moves the candidate warehouse (whatever state it is in) and the archive aside into
   ``warehouse/before-rebuild-<time>/`` — nothing is deleted;
2. loads the archived files again into a new candidate, one delivery at a time in their original
   order (the file id), under their original names: the same rows load, the same rows are
   quarantined, the latest delivery wins as it did (files withdrawn by `eduq withdraw` are kept in
   ``withdrawn/``, outside the archive, with their duplicates' copies: they are not loaded);
3. runs the pipeline with a full refresh (`eduq run --full-refresh`): dbt, the audit, the promotion
   of a new serving file (its hash recorded), the publications — an unchanged list is not
   republished, so the published versions stay as they were when nothing was lost.

Files waiting in the landing folder are set aside during step 2 and loaded by step 3.
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from core.errors import EduqError
from core.settings import Settings

ARCHIVED = re.compile(r"^(\d+)_(.+)$")


class RebuildFailed(EduqError):
    """The warehouse could not be rebuilt from the archive."""


@dataclass
class RebuildResult:
    replayed: int  # archived files loaded again
    statuses: dict[str, int]  # loaded / duplicate / rejected
    aside: Path  # where the old candidate and archive were moved
    summary: object  # the pipeline run's RunSummary

    def render(self) -> str:
        counts = ", ".join(f"{n} {s}" for s, n in sorted(self.statuses.items()))
        return (
            f"Rebuilt from the archive: {self.replayed} delivered files loaded again ({counts}); "
            f"the previous warehouse files are in {self.aside}\n{self.summary.render()}"
        )


def archived_files(archive: Path) -> list[tuple[int, str, Path]]:
    """(file id, source, path) of every archived delivery, in delivery order."""
    found = []
    for path in archive.rglob("*"):
        match = ARCHIVED.match(path.name)
        if path.is_file() and match:
            found.append((int(match.group(1)), path.parent.name, path))
    return sorted(found)


def _set_aside(folder: Path, landing: Path, files: list[Path]) -> list[tuple[Path, Path]]:
    moved = []
    for path in files:
        target = folder / path.relative_to(landing)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(path), target)
        moved.append((target, path))
    return moved


def rebuild(settings: Settings, list_year: int | None = None, documents: bool = False):
    """Rebuild the candidate from the archive and run the pipeline (see the module docstring)."""
    from ingestion.loader import ingest_all, landing_files
    from ingestion.warehouse import connect_for_loading
    from orchestration.runner import run_pipeline

    with settings.writer_lock("`eduq rebuild`"):
        settings.ensure_dirs()
        stamp = dt.datetime.now().strftime("%Y%m%dT%H%M%S")
        aside = settings.warehouse_dir / f"before-rebuild-{stamp}"
        aside.mkdir(parents=True)
        for name in ("candidate.duckdb", "candidate.duckdb.wal"):
            if (settings.warehouse_dir / name).exists():
                shutil.move(str(settings.warehouse_dir / name), aside / name)
        old_archive = aside / "archive"
        if settings.archive_dir.exists():
            shutil.move(str(settings.archive_dir), old_archive)
        settings.archive_dir.mkdir(parents=True, exist_ok=True)
        deliveries = archived_files(old_archive) if old_archive.exists() else []
        if not deliveries:
            raise RebuildFailed(
                f"the archive {settings.archive_dir} holds no delivered file: there is nothing to "
                f"rebuild from (the previous files are in {aside})"
            )
        waiting = _set_aside(
            aside / "landing-waiting", settings.landing_dir, landing_files(settings)
        )
        statuses: dict[str, int] = {}
        con = connect_for_loading(settings.candidate_db, settings)
        try:
            for _, source, path in deliveries:
                original = ARCHIVED.match(path.name).group(2)
                target = settings.landing_dir / source / original
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, target)  # the delivery's own modification time, too
                survey, reports = ingest_all(con, settings)
                outcomes = [f for r in reports for f in r.files] + [
                    o for o in survey.outcomes if o.status != "queued"
                ]
                for outcome in outcomes:
                    statuses[outcome.status] = statuses.get(outcome.status, 0) + 1
            con.execute("checkpoint")
        finally:
            con.close()
            for held, original_path in waiting:
                original_path.parent.mkdir(parents=True, exist_ok=True)
                shutil.move(str(held), original_path)
        summary = run_pipeline(
            settings.with_overrides(full_refresh=True), list_year=list_year, documents=documents
        )
    return RebuildResult(len(deliveries), statuses, aside, summary)
