"""Is there anything to do tonight? Decided before Dagster, dbt or Great Expectations are imported.

Nothing is new when the landing folder holds no file to load, the code (core.code_version) and the
methodology profile are those of the build the serving warehouse came from, the candidate has not
been written since that build's audit, the serving file is byte for byte what promotion wrote (its
SHA-256 is computed now: the proof that analysts read the audited build), and the latest list that
may be published is published as the serving warehouse holds it. Then a run costs seconds and
builds nothing; anything else runs the whole gated job.
"""

from __future__ import annotations

from dataclasses import dataclass

from core import duck
from core.code_version import code_fingerprint
from core.files import pending_wal
from core.settings import Settings
from core.withdrawals import pending_withdrawals
from gate.promote import verified_serving_state
from gate.publishable import list_years
from ingestion.loader import landing_files


@dataclass(frozen=True)
class NothingNew:
    build_id: str
    serving_sha256: str
    list_year: int | None
    list_version: int | None
    list_note: str | None  # why the latest list is not published (incomplete), if it is not

    def render(self) -> str:
        lines = [
            (
                f"Nothing new since build {self.build_id}: no file in the landing folder, the same code and "
                "methodology profile; nothing was loaded or rebuilt."
            ),
            (
                f"Serving warehouse verified: its SHA-256 {self.serving_sha256[:16]}… is the one promotion "
                f"wrote for the audited build {self.build_id}."
            ),
        ]
        if self.list_year is not None and self.list_version is not None:
            lines.append(
                f"ШНОР list {self.list_year}: v{self.list_version} already published, unchanged."
            )
        if self.list_note:
            lines.append(f"INCOMPLETE: {self.list_note}")
        return "\n".join(lines)


def nothing_new(settings: Settings) -> tuple[NothingNew | None, str]:
    """(the no-op summary, "") when there is nothing to do; else (None, why a run is needed)."""
    from publishing.publish import published_unchanged

    if settings.full_refresh:
        return None, "a full refresh was asked for"
    if settings.landing_dir.exists() and landing_files(settings):
        return None, "new files in the landing folder"
    if pending_withdrawals(settings.serving_db):
        return None, "a file was withdrawn since the serving build (`eduq withdraw`)"
    state, why = verified_serving_state(settings)
    if state is None:
        return None, why
    if state.methodology_profile != settings.methodology_profile:
        return (
            None,
            f"the methodology profile changed ({state.methodology_profile} -> {settings.methodology_profile})",
        )
    if state.code_fingerprint != code_fingerprint():
        return None, "the code changed since the serving build"
    candidate = settings.candidate_db
    if not candidate.exists():
        return None, "there is no candidate warehouse"
    if pending_wal(candidate):
        return None, "the candidate warehouse has changes in its write-ahead log"
    stat = candidate.stat()
    if (stat.st_size, stat.st_mtime_ns) != (state.candidate_bytes, state.candidate_mtime_ns):
        return None, "the candidate warehouse changed since the serving build (a later load)"
    with duck.connect(settings.serving_db, settings, read_only=True) as con:
        computed = [y for y in list_years(con) if y.is_computable]
    if not computed:
        return NothingNew(state.build_id, state.serving_sha256, None, None, None), ""
    latest = computed[-1]
    if not latest.is_publishable:
        return NothingNew(
            state.build_id, state.serving_sha256, latest.list_year, None, latest.describe()
        ), ""
    version = published_unchanged(settings, latest.list_year)
    if version is None:
        return (
            None,
            f"the ШНОР list {latest.list_year} is not published as the serving warehouse holds it",
        )
    return NothingNew(state.build_id, state.serving_sha256, latest.list_year, version, None), ""


def requested_list_refusal(settings: Settings, list_year: int) -> str | None:
    """Why ``list_year`` cannot be published, when a run cannot change that (no file waits in the
    landing folder, and the profile is the serving build's); None when it may be, or a run might
    make it so (then the run decides)."""
    from gate.errors import ListIncomplete, ListYearNotAvailable
    from gate.publishable import require_publishable

    if (
        not settings.serving_db.exists()
        or (settings.landing_dir.exists() and landing_files(settings))
        or pending_withdrawals(settings.serving_db)  # a run builds without the withdrawn file
    ):
        return None
    with duck.connect(settings.serving_db, settings, read_only=True) as con:
        from gate.promote import serving_audit

        audit = serving_audit(con)
        if audit is None or audit.methodology_profile != settings.methodology_profile:
            return None
        try:
            require_publishable(con, list_year)
        except (ListYearNotAvailable, ListIncomplete) as exc:
            return str(exc)
    return None
