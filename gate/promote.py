"""Write-audit-publish, the promotion step: the pipeline writes the candidate warehouse; once an
audit has passed for exactly its content, it is copied and atomically renamed over the serving
warehouse that analysts and BI tools read.

The gate: :func:`promote` hashes the candidate and refuses unless a passed audit record exists
for that hash. The copy is hashed as it is written, so what is promoted is byte for byte what was
audited; the audit record is then embedded in the copy (schema ``audit``) before the rename, so
the serving file always carries the proof of its own audit, and publication checks it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

import duckdb

from core import duck
from core.files import file_identity, fsync_dir, pending_wal, sha256_file, write_json_atomic
from core.settings import Settings
from core.withdrawals import clear_pending
from gate.audit import (
    PERSONAL_MASK,
    AuditRecord,
    audit_of_unchanged_file,
    find_passed_audit,
    records,
)
from gate.errors import CandidateChanged, PromotionRefused
from gate.serving_export import PreviousExport, export_warehouse

AUDIT_SCHEMA = "audit"


@dataclass(frozen=True)
class Promotion:
    serving_path: Path
    size_bytes: int
    sha256: str
    build_id: str
    candidate_sha256: str


@dataclass(frozen=True)
class ServingAudit:
    """The audit record a serving warehouse carries."""

    build_id: str
    candidate_sha256: str
    passed: bool
    audited_at: dt.datetime
    promoted_at: dt.datetime
    methodology_profile: str
    errors_failed: int
    warnings: int
    record: dict


# what readers get: the public marts and the reference tables (methodology profiles, thresholds);
# never raw, staging or intermediate (participant codes are personal data and stay in the candidate)
SERVING_SCHEMAS = ("marts", "reference")
SERVING_STORAGE_VERSION = "v1.4.0"  # DuckDB 1.4 and later read it (BI tools embed DuckDB 1.x)
META_SCHEMA = "meta"


MASK = PERSONAL_MASK  # what readers see where a delivered value was a participant code
WORDS_LISTED = 5000  # at most this many words are matched as a list of literals, more by a join
TOKEN = r"[\w-]+"


def add_load_log(db: Path, candidate: Path, settings: Settings | None = None) -> None:
    """The delivery history readers may see (schema ``meta``): every delivered file with its rows read,
    loaded and quarantined, and the quarantined values without the participant codes.

    Participant codes are personal data (they stay in the candidate's raw schema). A quarantined
    value is withheld (NULL) when its column is the participant code, when it is a whole-row value
    (a note row, a row wider than the header) of a source with participant codes, or when any word
    of it is a participant code delivered anywhere (a code shifted into the mark's column); a
    file's message (e.g. a header that was a data row) shows such a word as «‹код участника скрыт›».
    ``settings``: DuckDB's resources (core.duck)."""
    with duck.connect(settings=settings) as con:
        con.execute(f"attach '{candidate}' as cand (read_only)")
        _attach_serving(con, db)
        con.execute(f"create schema if not exists serving.{META_SCHEMA}")
        coded = [
            r[0]
            for r in con.execute(
                """select table_name from duckdb_columns() where database_name = 'cand'
                   and schema_name = 'raw' and column_name = 'participant_code' order by 1"""
            ).fetchall()
        ]
        selects = [
            f"select cast(participant_code as varchar) as code from cand.raw.{t}" for t in coded
        ]
        selects += [
            "select value from cand.raw._quarantine where column_name = 'participant_code'",
            "select json_extract_string(row_values, '$.participant_code') from cand.raw._quarantine",
        ]
        coded_sources = ", ".join(f"'{t}'" for t in coded) or "''"
        con.execute(
            """create temp table quarantine_values as
                select row_number() over () as q_id, * from cand.raw._quarantine"""
        )
        # the words of the quarantined values and of the files' messages (few) that are a participant
        # code delivered anywhere: the words are matched against the codes, not the tens of millions
        # of codes gathered first (that cost every promotion of a whole country seconds)
        con.execute(
            f"""create temp table words as
                select distinct word from (
                    select unnest(regexp_extract_all(value, '{TOKEN}')) as word
                    from quarantine_values where value is not null
                    union all
                    select unnest(regexp_extract_all(message, '{TOKEN}'))
                    from cand.raw._load_log where message is not null
                    union all
                    select unnest(regexp_extract_all(withdrawn_reason, '{TOKEN}'))
                    from cand.raw._load_log where withdrawn_reason is not null
                ) as w"""
        )
        codes = "(" + " union all ".join(selects) + ") as c(code)"
        words = [r[0] for r in con.execute("select word from words order by word").fetchall()]
        if len(words) <= WORDS_LISTED:
            # the words as a list of literals: DuckDB keeps the filter in the scans, whose row
            # groups' bounds skip nearly every code (a country's 50 million: 0.7 s -> 0.01 s);
            # a join with the words' table read every code
            listed = ", ".join(duck.quote_literal(w) for w in words) or "null"
            con.execute(
                "create temp table participant_codes as select distinct c.code from "
                f"{codes} where c.code in ({listed})"
            )
        else:
            con.execute(
                "create temp table participant_codes as select distinct words.word as code "
                f"from words inner join {codes} on c.code = words.word"
            )
        con.execute(
            f"""create temp table personal as
                select distinct q_id from (
                    select q_id, unnest(regexp_extract_all(value, '{TOKEN}')) as word
                    from quarantine_values where value is not null
                ) as w semi join participant_codes as p on w.word = p.code"""
        )
        con.execute(
            f"""create or replace table serving.{META_SCHEMA}.load_log as
                select file_id, source, file_name, file_hash, size_bytes, status, rows_read, rows_loaded,
                       rows_quarantined, message, years, received_at, loaded_at, run_id,
                       released_from_file_id, withdrawn_at, withdrawn_reason
                from cand.raw._load_log order by file_id"""
        )
        _mask_messages(con)
        con.execute(
            f"""create or replace table serving.{META_SCHEMA}.quarantine as
                select file_id, source, file_name, row_number, column_name,
                       case when column_name = 'participant_code'
                                 or (column_name = '*' and source in ({coded_sources}))
                                 or q_id in (select q_id from personal)
                            then null else value end as value,
                       reason, reason_code, quarantined_at, resolved_in_file_id
                from quarantine_values order by file_id, row_number, column_name"""
        )
        con.execute("checkpoint serving")
        con.execute("detach serving")


def _mask_messages(con: duckdb.DuckDBPyConnection) -> None:
    """Replace every participant code in the exported files' messages and withdrawal reasons (few
    rows: done in Python)."""
    for column in ("message", "withdrawn_reason"):
        hits = con.execute(
            f"""select distinct w.file_id, w.word from (
                    select file_id, unnest(regexp_extract_all({column}, '{TOKEN}')) as word
                    from serving.{META_SCHEMA}.load_log where {column} is not null
                ) as w semi join participant_codes as p on w.word = p.code"""
        ).fetchall()
        by_file: dict[int, set[str]] = {}
        for file_id, word in hits:
            by_file.setdefault(file_id, set()).add(word)
        for file_id, words in by_file.items():
            (text,) = con.execute(
                f"select {column} from serving.{META_SCHEMA}.load_log where file_id = ?", [file_id]
            ).fetchone()
            for word in sorted(words, key=len, reverse=True):
                text = re.sub(rf"(?<![\w-]){re.escape(word)}(?![\w-])", MASK, text)
            con.execute(
                f"update serving.{META_SCHEMA}.load_log set {column} = ? where file_id = ?",
                [text, file_id],
            )


def _attach_serving(con: duckdb.DuckDBPyConnection, db: Path) -> None:
    """Attach ``db`` as ``serving``: a new file in the serving storage version, an existing one as it is
    (DuckDB refuses to lower the storage version of an existing file)."""
    option = "" if db.exists() else f" (storage_version '{SERVING_STORAGE_VERSION}')"
    con.execute(f"attach '{db}' as serving{option}")


def embed_audit(
    db: Path, record: AuditRecord, promoted_at: dt.datetime, settings: Settings | None = None
) -> None:
    """Write the audit record into ``db`` (schema ``audit``): the build, each check, the row counts
    (``settings``: DuckDB's resources, core.duck)."""
    with duck.connect(settings=settings) as top:
        _attach_serving(top, db)
        top.execute("use serving")
        _embed(top, record, promoted_at)
        top.execute("use memory")
        top.execute("checkpoint serving")
        top.execute("detach serving")


def _embed(con: duckdb.DuckDBPyConnection, record: AuditRecord, promoted_at: dt.datetime) -> None:
    con.execute(f"create schema if not exists {AUDIT_SCHEMA}")
    con.execute(
        f"""create or replace table {AUDIT_SCHEMA}.build (
            build_id varchar, candidate_sha256 varchar, passed boolean, audited_at timestamptz,
            promoted_at timestamptz, methodology_profile varchar, run_id varchar, checks integer,
            errors_failed integer, warnings integer, record json)"""
    )
    counts = record.counts()
    con.execute(
        f"insert into {AUDIT_SCHEMA}.build values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            record.build_id,
            record.candidate_sha256,
            record.passed,
            record.audited_at,
            promoted_at,
            record.methodology_profile,
            record.run_id,
            counts["checks"],
            counts["errors_failed"],
            counts["warnings"],
            json.dumps(record.to_json(), ensure_ascii=False),
        ],
    )
    con.execute(
        f"""create or replace table {AUDIT_SCHEMA}.check_results (
            check_key varchar, source varchar, asset varchar, level varchar, status varchar,
            message varchar, failing_rows bigint, description varchar, evaluated_in_build varchar)"""
    )
    if record.checks:
        con.executemany(
            f"insert into {AUDIT_SCHEMA}.check_results values (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                [
                    c.key,
                    c.source,
                    c.asset,
                    c.level,
                    c.status,
                    c.message,
                    c.failing_rows,
                    c.description,
                    c.carried_from or record.build_id,
                ]
                for c in record.checks
            ],
        )
    con.execute(
        f"create or replace table {AUDIT_SCHEMA}.table_rows (table_name varchar, row_count bigint)"
    )
    # the audited row counts of the tables this file serves (the full count of the candidate, raw
    # included, stays in the record's JSON): a reader can check every served table against it
    served = {
        f"{schema}.{name}"
        for schema, name in con.execute(
            """select table_schema, table_name from information_schema.tables
               where table_catalog = current_database() and table_type = 'BASE TABLE'"""
        ).fetchall()
    }
    rows = [[t, n] for t, n in sorted(record.table_rows.items()) if t in served]
    if rows:
        con.executemany(f"insert into {AUDIT_SCHEMA}.table_rows values (?, ?)", rows)


def _refusal(settings: Settings, sha: str) -> PromotionRefused:
    same = [r for r in records(settings) if r.candidate_sha256 == sha]
    if same:
        failed = same[-1]
        return PromotionRefused(
            f"the candidate warehouse failed its audit (build {failed.build_id}); the serving warehouse is "
            f"unchanged. Failed checks:\n{failed.describe_failures(settings.warehouse_dir / 'audit' / failed.build_id)}"
        )
    return PromotionRefused(
        f"no audit of the candidate warehouse as it is now (sha256 {sha[:12]}…): it was changed after its "
        "audit, or never audited. Run the job nightly_load (`eduq run`), which audits before it promotes."
    )


def prepared_export_path(settings: Settings, identity: str) -> Path:
    """Where the export of the candidate in state ``identity`` (core.files.file_identity) waits for
    its promotion."""
    digest = hashlib.sha256(identity.encode()).hexdigest()[:16]
    return settings.serving_db.with_name(f".{settings.serving_db.name}.prepared-{digest}")


def discard_prepared_exports(settings: Settings) -> None:
    for path in settings.serving_db.parent.glob(f".{settings.serving_db.name}.prepared-*"):
        path.unlink(missing_ok=True)  # (the export and its note)


def prepare_export(settings: Settings, identity: str, build_id: str | None = None) -> Path | None:
    """Export the candidate's public part ahead of its promotion, while the audit judges it (both
    only read the candidate): the promotion of that same candidate then renames it into place
    instead of exporting (seconds at a country's size). Kept only if the candidate's identity is
    ``identity`` before and after the export; None when it changed (the promotion then exports).

    When the run ``build_id`` started from the audited build whose export is the serving file
    (gate.baseline), the export starts from that file (:func:`_previous_export`): the year-local
    marts' years that build did not compute are kept, not copied again."""
    candidate = settings.candidate_db
    discard_prepared_exports(settings)
    if file_identity(candidate) != identity:
        return None
    target = prepared_export_path(settings, identity)
    tmp = target.with_name(f"{target.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    try:
        previous, from_build = _previous_export(settings, build_id)
        # beside Python work (Dagster recording the build, the audit's checks): one core left to it
        result = export_warehouse(
            candidate,
            tmp,
            SERVING_SCHEMAS,
            SERVING_STORAGE_VERSION,
            previous=previous,
            config=duck.resources(settings, threads=settings.duckdb_threads - 1),
        )
        if file_identity(candidate) != identity or pending_wal(candidate):
            return None
        write_json_atomic(
            _export_note_path(target),
            _export_note(
                result.year_records, from_build if result.kept_rows else None, result.kept_rows
            ),
        )
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return target


# an export written anew may grow by this factor (the rows of recomputed years deleted and written
# again) before the next export is written from scratch
EXPORT_GROWTH_LIMIT = 2.0


def _previous_export(
    settings: Settings, build_id: str | None
) -> tuple[PreviousExport | None, str | None]:
    """The serving file as a starting point for the export of the run ``build_id``, and its build;
    (None, None) unless all of these hold: the run started from an audited build (its plan,
    gate.baseline: the candidate was then exactly that build's), the serving file is that build's
    export (serving.json, with the same code), it records what its year-local marts were built
    from, and it has not grown past :data:`EXPORT_GROWTH_LIMIT` times its last export from scratch.
    That it is byte for byte what promotion wrote, the export checks as it copies it (the SHA-256
    serving.json recorded)."""
    from core.code_version import code_fingerprint
    from gate.baseline import read_plan

    if build_id is None or not settings.serving_db.exists():
        return None, None
    plan = read_plan(settings, build_id)
    state = _read_state(serving_state_path(settings))
    if (
        plan is None
        or state.get("build_id") != plan.baseline_build
        or state.get("code_fingerprint") != code_fingerprint()
        or not isinstance(state.get("year_records"), dict)
        or not state.get("full_export_bytes")
        or settings.serving_db.stat().st_size > EXPORT_GROWTH_LIMIT * state["full_export_bytes"]
    ):
        return None, None
    return (
        PreviousExport(settings.serving_db, state["year_records"], state.get("serving_sha256")),
        plan.baseline_build,
    )


def _export_note_path(prepared: Path) -> Path:
    return prepared.with_name(prepared.name + ".json")


def _export_note(year_records: dict, from_build: str | None, kept_rows: dict[str, int]) -> dict:
    """What serving.json says of an export: what its year-local marts were built from (the next
    export's starting point), and the earlier export it kept rows of (None: written anew)."""
    return {
        "year_records": {
            t: {str(y): v for y, v in years.items()} for t, years in year_records.items()
        },
        "export": {"from_build": from_build, "kept_rows": kept_rows},
    }


def promote(settings: Settings) -> Promotion:
    """Replace the serving warehouse by the audited candidate's public part in one atomic rename.

    The serving file is a new DuckDB file in storage version v1.4.0 (DuckDB 1.x readers open it)
    holding the candidate's marts and reference tables, its delivery history (schema meta) and its
    audit record (schema audit); never raw data. Readers holding the old serving file keep reading it
    (its inode lives until they close it) and see the new data when they reconnect. Refuses
    (:class:`PromotionRefused`) unless the candidate's exact content has a passed audit.
    """
    candidate, serving = settings.candidate_db, settings.serving_db
    if not candidate.exists():
        raise PromotionRefused(
            f"no candidate warehouse at {candidate}: run the job nightly_load (`eduq run`)"
        )
    # the candidate as audited in this run is not hashed again: its identity (inode, size, times)
    # proves it has not been written since; any other candidate is hashed and looked up
    identity = file_identity(candidate)
    if pending_wal(candidate):  # what a reader of it would see is not what its bytes hold
        raise CandidateChanged(
            f"{candidate} has changes in its write-ahead log that are not in the audited file "
            "(another process wrote it); nothing was promoted. Run the load again when nothing "
            "else writes the warehouse."
        )
    known = records(settings)  # every audit.json read once
    record = audit_of_unchanged_file(settings, identity, known)
    sha = record.candidate_sha256 if record else sha256_file(candidate)
    record = record or find_passed_audit(settings, sha, known)
    if record is None:
        raise _refusal(settings, sha)
    serving.parent.mkdir(parents=True, exist_ok=True)
    tmp = serving.with_name(f".{serving.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    prepared = prepared_export_path(settings, identity)
    try:
        try:  # exported while the audit ran, from this very candidate
            note = json.loads(_export_note_path(prepared).read_text(encoding="utf-8"))
            os.replace(prepared, tmp)
        except (FileNotFoundError, ValueError):
            result = export_warehouse(
                candidate,
                tmp,
                SERVING_SCHEMAS,
                SERVING_STORAGE_VERSION,
                config=duck.resources(settings),
            )
            note = _export_note(result.year_records, None, {})
        discard_prepared_exports(settings)
        add_load_log(tmp, candidate, settings)
        embed_audit(tmp, record, dt.datetime.now(dt.UTC), settings)
        if file_identity(candidate) != identity or pending_wal(candidate):
            raise CandidateChanged(
                f"{candidate} changed while it was exported for promotion; nothing was promoted. "
                "Run the load again when nothing else writes the warehouse."
            )
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        promotion = Promotion(serving, tmp.stat().st_size, sha256_file(tmp), record.build_id, sha)
        # the record first, then the rename: killed between the two, the serving file is still the
        # previous one, whose hash the record keeps (publication accepts either, nothing else)
        state_path = serving_state_path(settings)
        previous = _read_state(state_path)
        previous_sha = previous.get("serving_sha256") if serving.exists() else None
        if previous_sha and sha256_file(serving) != previous_sha:
            previous_sha = (
                None  # the file in place is not what the record said: do not vouch for it
            )
        # the size of the last export written from scratch (the starting point may grow to a
        # limit: _previous_export)
        full_export_bytes = (
            previous.get("full_export_bytes")
            if note["export"]["from_build"]
            else promotion.size_bytes
        )
        write_json_atomic(
            state_path,
            {
                "build_id": record.build_id,
                "serving_sha256": promotion.sha256,
                "serving_bytes": promotion.size_bytes,
                "previous_serving_sha256": previous_sha,
                "candidate_sha256": sha,
                "candidate_bytes": record.candidate_bytes,
                "candidate_mtime_ns": record.candidate_mtime_ns,
                "code_fingerprint": record.code_fingerprint,
                "methodology_profile": record.methodology_profile,
                "promoted_at": dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat(),
                "full_export_bytes": full_export_bytes,
                **note,
            },
        )
        os.replace(tmp, serving)
        clear_pending(serving)  # built without the files withdrawn before this build
    finally:
        tmp.unlink(missing_ok=True)
        tmp.with_name(tmp.name + ".wal").unlink(missing_ok=True)
    fsync_dir(serving.parent)
    return promotion


def serving_state_path(settings: Settings) -> Path:
    """What promotion last put in place: the serving file's hash and the build it came from."""
    return settings.warehouse_dir / SERVING_STATE


SERVING_STATE = "serving.json"


def _read_state(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def serving_integrity(serving: Path, record_required: bool = True) -> str | None:
    """Why the serving file at ``serving`` is not one promotion wrote (None: it is). Its SHA-256 must
    be the one recorded beside it in serving.json (or the previous one, when a promotion was
    interrupted between writing the record and renaming the file)."""
    state = _read_state(serving.with_name(SERVING_STATE))
    if not state.get("serving_sha256"):
        if not record_required:
            return None
        return (
            f"{serving} has no promotion record ({SERVING_STATE} beside it): it was not put in "
            "place by an audited promotion"
        )
    sha = sha256_file(serving)
    if sha in (state.get("serving_sha256"), state.get("previous_serving_sha256")):
        return None
    return (
        f"{serving} is damaged or was changed after promotion: its SHA-256 {sha[:12]}… is not the "
        f"one promotion recorded ({state['serving_sha256'][:12]}…, build {state.get('build_id')}). "
        "It is not served. `eduq rebuild` rebuilds the warehouse from the raw archive / файл "
        "витрины повреждён; восстановите его командой `eduq rebuild`"
    )


@dataclass(frozen=True)
class ServingState:
    build_id: str
    serving_sha256: str
    candidate_sha256: str
    candidate_bytes: int
    candidate_mtime_ns: int
    code_fingerprint: str
    methodology_profile: str


def verified_serving_state(settings: Settings) -> tuple[ServingState | None, str]:
    """The state promotion recorded, if the serving file is byte for byte what it promoted (its
    SHA-256 is computed now); else None and why not."""
    path = serving_state_path(settings)
    if not settings.serving_db.exists():
        return None, "there is no serving warehouse yet"
    if not path.exists():
        return None, "the serving warehouse has no promotion record (serving.json)"
    data = json.loads(path.read_text(encoding="utf-8"))
    sha = sha256_file(settings.serving_db)
    if sha != data.get("serving_sha256"):
        return None, (
            f"the serving warehouse is not the file promotion wrote (sha256 {sha[:12]}… instead of "
            f"{str(data.get('serving_sha256'))[:12]}…)"
        )
    fields = {k: data.get(k) for k in ServingState.__dataclass_fields__}
    return ServingState(**fields), "verified"


def serving_audit(con: duckdb.DuckDBPyConnection) -> ServingAudit | None:
    """The audit record embedded in a serving warehouse (None if it carries none)."""
    has = con.execute(
        "select count(*) from information_schema.tables where table_schema = ? and table_name = 'build' "
        "and table_catalog = current_database()",
        [AUDIT_SCHEMA],
    ).fetchone()[0]
    if not has:
        return None
    row = con.execute(
        f"""select build_id, candidate_sha256, passed, audited_at, promoted_at, methodology_profile,
                   errors_failed, warnings, record
            from {AUDIT_SCHEMA}.build"""
    ).fetchall()
    if len(row) != 1:
        return None
    r = row[0]
    return ServingAudit(
        r[0], r[1], bool(r[2]), r[3], r[4], r[5], int(r[6]), int(r[7]), json.loads(r[8])
    )
