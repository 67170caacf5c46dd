"""`eduq rebuild`: the warehouse rebuilt from the raw archive, after a damaged candidate or serving
file (a disk error, a truncated copy, a file edited by hand).

Every delivered file that was loaded is kept in ``$EDUQ_HOME/archive/<source>/<file_id>_<name>``. A
rebuild, holding the home's writer lock:

1. moves the candidate warehouse (whatever state it is in), the archive and the withdrawn files
   aside into ``warehouse/before-rebuild-<time>/`` — nothing is deleted;
2. loads the archived files again into a new candidate, one delivery at a time in their original
   order (the file id), under their original names: the same rows load, the same rows are
   quarantined, the latest delivery wins as it did. Files withdrawn by `eduq withdraw` (kept in
   ``withdrawn/`` with their duplicates' copies, recorded in ``withdrawn/withdrawals.jsonl``) are
   loaded in their places too and withdrawn again where they were withdrawn (after the last file
   delivered before the withdrawal), with their reason and time: the rebuilt load log keeps the
   withdrawal, which the lists' manifests name, and a delivery of the same bytes after it loads
   as it did. A withdrawn copy that no record names stays aside, not loaded;
3. runs the pipeline with a full refresh (`eduq run --full-refresh`): dbt, the audit, the promotion
   of a new serving file (its hash recorded), the publications — an unchanged list is not
   republished, so the published versions stay as they were when nothing was lost.

Files waiting in the landing folder are set aside during step 2 and loaded by step 3.
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from core.errors import EduqError
from core.settings import Settings

ARCHIVED = re.compile(r"^(\d+)_(.+)$")


class RebuildFailed(EduqError):
    """The warehouse could not be rebuilt from the archive."""


@dataclass
class Replay:
    """The archive loaded again into a new candidate (step 2)."""

    replayed: int = 0  # archived (and recorded withdrawn) files loaded again
    statuses: dict[str, int] = field(default_factory=dict)  # loaded / duplicate / rejected
    withdrawn_again: list[str] = field(default_factory=list)  # «file name» (reason) of each
    # withdrawals that could not be made again, and withdrawn copies no record names: in words
    left: list[str] = field(default_factory=list)

    def render(self) -> str:
        counts = ", ".join(f"{n} {s}" for s, n in sorted(self.statuses.items()))
        lines = [f"{self.replayed} delivered files loaded again ({counts})"]
        if self.withdrawn_again:
            lines.append(
                f"{len(self.withdrawn_again)} withdrawn again where they were withdrawn: "
                + "; ".join(self.withdrawn_again)
            )
        return "; ".join(lines) + "".join(f"\n  NOTE: {problem}" for problem in self.left)


@dataclass
class RebuildResult:
    replay: Replay
    aside: Path  # where the old candidate, archive and withdrawn files were moved
    summary: object  # the pipeline run's RunSummary

    def render(self) -> str:
        return (
            f"Rebuilt from the archive: {self.replay.render()}\n"
            f"The previous warehouse files are in {self.aside}\n{self.summary.render()}"
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
    from ingestion.loader import landing_files
    from orchestration.runner import run_pipeline

    with settings.writer_lock("`eduq rebuild`"):
        settings.ensure_dirs()
        stamp = dt.datetime.now().strftime("%Y%m%dT%H%M%S")
        aside = settings.warehouse_dir / f"before-rebuild-{stamp}"
        aside.mkdir(parents=True)
        for name in ("candidate.duckdb", "candidate.duckdb.wal"):
            if (settings.warehouse_dir / name).exists():
                shutil.move(str(settings.warehouse_dir / name), aside / name)
        for folder, name in (
            (settings.archive_dir, "archive"),
            (settings.withdrawn_dir, "withdrawn"),
        ):
            if folder.exists():
                shutil.move(str(folder), aside / name)
        settings.archive_dir.mkdir(parents=True, exist_ok=True)
        deliveries = archived_files(aside / "archive") if (aside / "archive").exists() else []
        if not deliveries:
            _put_back(settings, aside)
            raise RebuildFailed(
                f"the archive {settings.archive_dir} holds no delivered file: there is nothing to "
                "rebuild from; nothing was changed"
            )
        waiting = _set_aside(
            aside / "landing-waiting", settings.landing_dir, landing_files(settings)
        )
        try:
            replay = replay_archive(settings, aside / "archive", aside / "withdrawn")
        except BaseException as exc:
            _put_back(settings, aside)
            if isinstance(exc, EduqError):
                raise RebuildFailed(
                    f"{exc}. Nothing was rebuilt: the warehouse, the archive and the withdrawn "
                    f"files are back as they were (what the rebuild had loaded is in "
                    f"{aside / 'unfinished'})"
                ) from exc
            raise
        finally:
            for held, original_path in waiting:
                original_path.parent.mkdir(parents=True, exist_ok=True)
                shutil.move(str(held), original_path)
        summary = run_pipeline(
            settings.with_overrides(full_refresh=True), list_year=list_year, documents=documents
        )
    return RebuildResult(replay, aside, summary)


def _put_back(settings: Settings, aside: Path) -> None:
    """A replay that stopped: what it loaded goes to ``aside/unfinished``, and the candidate, the
    archive and the withdrawn files set aside come back (the home as before the rebuild)."""
    unfinished = aside / "unfinished"
    unfinished.mkdir(exist_ok=True)
    places = [
        (settings.warehouse_dir / "candidate.duckdb", "candidate.duckdb"),
        (settings.warehouse_dir / "candidate.duckdb.wal", "candidate.duckdb.wal"),
        (settings.archive_dir, "archive"),
        (settings.withdrawn_dir, "withdrawn"),
    ]
    for place, name in places:
        if place.exists():
            shutil.move(str(place), unfinished / name)
        if (aside / name).exists():
            shutil.move(str(aside / name), place)


def replay_archive(settings: Settings, archive: Path, withdrawn: Path) -> Replay:
    """Load the deliveries of ``archive`` and the recorded withdrawn copies of ``withdrawn`` again
    into the candidate of ``settings`` (a new one), one at a time in their original order, each
    recorded withdrawal made again after the last file delivered before it (through the same
    connection: nothing can open the candidate in between). A withdrawal that cannot be made
    again stops the replay (RebuildFailed): its file's rows would count."""
    from ingestion.loader import ingest_all
    from ingestion.warehouse import connect_for_loading
    from ingestion.withdraw import withdraw_on, withdrawal_records

    records = withdrawal_records(withdrawn) if withdrawn.exists() else []
    named = {withdrawn / copy for record in records for copy in record["copies"]}
    copies = archived_files(withdrawn) if withdrawn.exists() else []
    replay = Replay()
    unnamed = [path for _, _, path in copies if path not in named]
    if unnamed:
        replay.left.append(
            f"{len(unnamed)} withdrawn file(s) that no withdrawal record names stay aside, not "
            f"loaded ({', '.join(p.name for p in unnamed[:5])}{', …' if len(unnamed) > 5 else ''})"
        )
    deliveries = sorted(
        archived_files(archive) + [c for c in copies if c[2] in named], key=lambda d: d[0]
    )
    pending = sorted(records, key=lambda r: (r["after_file_id"], str(r["withdrawn_at"])))
    new_id: dict[int, int] = {}  # the file id a delivery had -> the one it has now

    def withdraw_again(record: dict) -> None:
        name = f"«{record.get('file_name')}» ({record['reason']})"
        if record["file_id"] not in new_id:  # nothing of it was loaded again
            replay.left.append(
                f"the withdrawal of file {record['file_id']} {name} was not made again: its "
                "copy was not loaded again"
            )
            return
        try:
            done = withdraw_on(
                con,
                settings,
                str(new_id[record["file_id"]]),
                str(record["reason"]),
                at=dt.datetime.fromisoformat(str(record["withdrawn_at"])),
                hold_publications=False,
            )
        except Exception as exc:  # any: its rows must not count (said, the home put back)
            raise RebuildFailed(
                f"file {record['file_id']} {name} was withdrawn and could not be withdrawn again "
                f"after it was loaded ({exc})"
            ) from exc
        replay.withdrawn_again.append(name)
        replay.left += [f"{copy} was not moved: {why}" for copy, why in done.not_moved]

    con = connect_for_loading(settings.candidate_db, settings)
    try:
        for file_id, source, path in deliveries:
            while pending and pending[0]["after_file_id"] < file_id:
                withdraw_again(pending.pop(0))
            original = ARCHIVED.match(path.name).group(2)
            target = settings.landing_dir / source / original
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)  # the delivery's own modification time, too
            survey, reports = ingest_all(con, settings)
            outcomes = [f for r in reports for f in r.files] + [
                o for o in survey.outcomes if o.status != "queued"
            ]
            for outcome in outcomes:
                replay.statuses[outcome.status] = replay.statuses.get(outcome.status, 0) + 1
                if outcome.file_id is not None and Path(outcome.landing_path or "") == target:
                    new_id[file_id] = outcome.file_id
            replay.replayed += 1
        while pending:
            withdraw_again(pending.pop(0))
        con.execute("checkpoint")
    finally:
        con.close()
    return replay
