"""Ingestion assets: the landing survey and one asset per input source (raw/<source>).

Loading is incremental by file: each run loads only files whose content was never loaded
(exactly once, by content hash), so the raw facts grow year by year without reloading.

Each asset carries WARN-severity checks (``no_rejected_files``, ``no_quarantined_rows``):
a run that rejected a file or quarantined rows shows them in the UI instead of passing as a
silent success, without blocking the rest of the pipeline (bad input is normal; the rows
that are fine still load).
"""

from functools import cache

import dagster as dg
import duckdb

from core import progress
from ingestion.contract import load_contracts
from ingestion.loader import (
    ensure_load_schema,
    load_source,
    quarantine_summary,
    rejected_summary,
    survey_landing,
)
from ingestion.warehouse import connect_for_loading, next_file_id
from orchestration.resources import EduqResource

REFERENCE_SOURCES = ("schools", "school_codes", "school_successors")
LANDING_SURVEY_KEY = dg.AssetKey(["raw", "landing_survey"])
REJECTED_CHECK = "no_rejected_files"
QUARANTINE_CHECK = "no_quarantined_rows"


def _md_list(lines: list[str]) -> dg.MetadataValue:
    return dg.MetadataValue.md("\n".join(f"- {line}" for line in lines) or "none")


def _survey_specs() -> tuple[dg.AssetSpec, dg.AssetCheckSpec]:
    return (
        dg.AssetSpec(
            LANDING_SURVEY_KEY,
            group_name="ingestion",
            description="Hash every new file in the landing folder, skip contents already loaded, "
            "recognise the source of the rest, reject unreadable files (landing/rejected/ with a "
            "reason file).",
            kinds={"python", "duckdb"},
        ),
        dg.AssetCheckSpec(
            REJECTED_CHECK,
            asset=LANDING_SURVEY_KEY,
            description="No file of this run was rejected whole at the survey (unreadable, unknown "
            "source, missing required columns). A rejected file waits in landing/rejected/ with "
            "<name>.reason.txt.",
        ),
    )


def _source_specs(source: str, title_ru: str, description: str):
    key = dg.AssetKey(["raw", source])
    deps = [LANDING_SURVEY_KEY]
    if source not in REFERENCE_SOURCES:
        deps += [dg.AssetKey(["raw", s]) for s in REFERENCE_SOURCES]
    spec = dg.AssetSpec(
        key,
        group_name="ingestion",
        deps=deps,
        description=f"{title_ru}. {description} Rows that break the contract go to raw._quarantine.",
        kinds={"python", "duckdb"},
    )
    checks = [
        dg.AssetCheckSpec(
            REJECTED_CHECK,
            asset=key,
            description=f"No file of {source} was rejected whole in this run (see raw._load_log and "
            "landing/rejected/<name>.reason.txt).",
        ),
        dg.AssetCheckSpec(
            QUARANTINE_CHECK,
            asset=key,
            description=f"No row of the {source} files loaded in this run was quarantined. Quarantined "
            "rows are in raw._quarantine with the file, row number, column, value and reason.",
        ),
    ]
    return spec, checks


def _survey(context, con, settings) -> dg.MaterializeResult:
    report = survey_landing(con, settings, run_id=context.run.run_id, schema_ready=True)
    files, size = con.execute(
        "select count(*), coalesce(sum(size_bytes), 0) from raw._landing_queue"
    ).fetchone()
    progress.files_to_load(files, int(size))
    rejected = report.by_status("rejected")
    for outcome in rejected:
        context.log.warning(f"rejected: {outcome.message}")
    messages = [o.message for o in rejected]
    summary = rejected_summary(messages)
    return dg.MaterializeResult(
        asset_key=LANDING_SURVEY_KEY,
        metadata={
            "files_queued": len(report.by_status("queued")),
            "files_duplicate": len(report.by_status("duplicate")),
            "files_rejected": len(rejected),
            "rejected": _md_list(messages),
        },
        check_results=[
            dg.AssetCheckResult(
                asset_key=LANDING_SURVEY_KEY,
                check_name=REJECTED_CHECK,
                passed=not rejected,
                severity=dg.AssetCheckSeverity.WARN,
                description=summary,
                metadata={
                    "message": summary,
                    "files_rejected": len(rejected),
                    "rejected": _md_list(messages),
                },
            )
        ],
    )


def _load(context, con, settings, source: str) -> dg.MaterializeResult:
    key = dg.AssetKey(["raw", source])
    run_id = context.run.run_id
    report = load_source(con, settings, source, run_id=run_id, schema_ready=True)
    total = con.execute(f"select count(*) from raw.{source}").fetchone()[0]
    rejected = con.execute(
        "select file_name, message from raw._load_log where run_id = ? and source = ? "
        "and status = 'rejected' order by file_id",
        [run_id, source],
    ).fetchall()
    reasons = con.execute(
        "select coalesce(q.reason_code, 'other'), count(distinct (q.file_id, q.row_number)) "
        "from raw._quarantine as q join raw._load_log as l using (file_id) "
        "where l.run_id = ? and q.source = ? group by 1 order by 2 desc, 1",
        [run_id, source],
    ).fetchall()
    for release in report.released:
        (context.log.info if release.file_id is not None else context.log.warning)(release.message)
    for f in report.files:
        context.log.info(
            f"{f.file_name}: {f.status}, read {f.rows_read}, loaded {f.rows_loaded}, "
            f"quarantined {f.rows_quarantined}"
        )
        if f.rows_quarantined or f.status == "rejected":
            context.log.warning(f"{f.file_name}: {f.message}")
    rejected_words = rejected_summary([m for _, m in rejected])
    quarantine_words = quarantine_summary(
        reasons,
        sum(1 for f in report.files if f.rows_quarantined),
        report.rows_read,
        sum(1 for f in report.files if f.status == "loaded"),
    )
    table = "\n".join(
        f"| {f.file_name} | {f.status} | {f.rows_read} | {f.rows_loaded} | {f.rows_quarantined} |"
        for f in report.files
    )
    return dg.MaterializeResult(
        asset_key=key,
        metadata={
            "files": len(report.files),
            "rows_read": report.rows_read,
            "rows_loaded": report.rows_loaded,
            "rows_quarantined": report.rows_quarantined,
            "files_rejected": len(report.rejected),
            "rows_in_table": total,
            # quarantined rows of earlier files whose school code is known now (ingestion.release)
            "rows_released": sum(r.rows_released for r in report.released),
            "per_file": dg.MetadataValue.md(
                "| file | status | read | loaded | quarantined |\n|---|---|---|---|---|\n" + table
                if table
                else "no new files"
            ),
        },
        check_results=[
            dg.AssetCheckResult(
                asset_key=key,
                check_name=REJECTED_CHECK,
                passed=not rejected,
                severity=dg.AssetCheckSeverity.WARN,
                description=rejected_words,
                metadata={
                    "message": rejected_words,
                    "files_rejected": len(rejected),
                    "rejected": _md_list([m for _, m in rejected]),
                },
            ),
            dg.AssetCheckResult(
                asset_key=key,
                check_name=QUARANTINE_CHECK,
                passed=report.rows_quarantined == 0,
                severity=dg.AssetCheckSeverity.WARN,
                description=quarantine_words,
                metadata={
                    "message": quarantine_words,
                    "rows_quarantined": report.rows_quarantined,
                    "rows_read": report.rows_read,
                    "by_reason": _md_list([f"{code}: {n} rows" for code, n in reasons]),
                },
            ),
        ],
    )


def _runs_dbt(context: dg.AssetExecutionContext) -> bool:
    """Whether the dbt build is a step of this run (it follows the load)."""
    try:
        return any(node.name == "eduq_dbt_models" for node in context.job_def.nodes)
    except Exception:  # noqa: BLE001 — a preload is only a head start
        return False


def _parts(con: duckdb.DuckDBPyConnection) -> tuple[int, dict[str, dict[int, str]]]:
    """The last file id of the candidate's load log (0: none yet) and its marts' year records."""
    from gate.serving_export import year_records

    return next_file_id(con) - 1, year_records(con, ("marts",))


@cache
def ingestion_assets() -> dg.AssetsDefinition:
    """The landing survey and one asset per input contract, loaded in one step: one connection to the
    candidate warehouse and one checkpoint for the whole load (built when the definitions load)."""
    survey_spec, survey_check = _survey_specs()
    specs, checks = [survey_spec], [survey_check]
    sources = list(load_contracts().values())
    for contract in sources:
        spec, source_checks = _source_specs(
            contract.source, contract.title_ru, contract.description
        )
        specs.append(spec)
        checks += source_checks

    @dg.multi_asset(
        name="ingestion",
        specs=specs,
        check_specs=checks,
        can_subset=True,
        description="Survey the landing folder and load every source (reference sources first).",
    )
    def ingestion(context: dg.AssetExecutionContext, eduq: EduqResource):
        from gate import baseline
        from gate.expectations.gx_runner import preload
        from orchestration import dbt_build
        from orchestration.assets.publication import build_id

        settings = eduq.settings()
        settings.ensure_dirs()
        preload()  # Great Expectations imports in its worker while the load and dbt run
        if _runs_dbt(context):
            dbt_build.preload()  # dbt imports on another thread while the load runs
        build = build_id(context.instance, context.run.run_id)
        # before anything writes the candidate: the audited build it is, if any (gate.baseline)
        plan = baseline.note_start(settings, build)
        progress.stage("survey the landing folder and load new files")
        selected = set(context.selected_asset_keys)
        with connect_for_loading(settings.candidate_db, settings) as con:
            ensure_load_schema(con)  # once for the survey and every source
            # the baseline as the load finds it: its last file id (file ids only grow) and its marts'
            # year records; the audit judges what changed since where a check judges a table in
            # parts (gate.baseline)
            last_file_id, records = _parts(con) if plan is not None else (0, {})
            if LANDING_SURVEY_KEY in selected:
                yield _survey(context, con, settings)
            for contract in sources:
                if dg.AssetKey(["raw", contract.source]) in selected:
                    yield _load(context, con, settings, contract.source)
            if plan is not None:  # the raw tables this run wrote rows to
                # (released: rows of earlier files loaded now, ingestion.release)
                loaded = con.execute(
                    "select distinct source from raw._load_log where run_id = ? "
                    "and status in ('loaded', 'released')",
                    [context.run.run_id],
                ).fetchall()
                plan = baseline.note_loaded(
                    settings, build, [source for (source,) in loaded], last_file_id, records
                )
        if plan is not None:
            context.log.info(f"build plan: {plan.describe()}")

    return ingestion
