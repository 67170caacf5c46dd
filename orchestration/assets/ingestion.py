"""Ingestion assets: the landing survey and one asset per input source (raw/<source>).

Loading is incremental by file: each run loads only files whose content was never loaded
(exactly once, by content hash), so the raw facts grow year by year without reloading.
"""


import dagster as dg

from ingestion.contract import load_contracts
from ingestion.loader import load_source, survey_landing
from ingestion.settings import load_settings
from ingestion.warehouse import connect

REFERENCE_SOURCES = ("schools", "school_codes", "school_successors")


@dg.asset(
    key=["raw", "landing_survey"],
    group_name="ingestion",
    description="Hash every new file in the landing folder, skip contents already loaded, recognise the "
    "source of the rest, reject unreadable files (landing/rejected/ with a reason file).",
    kinds={"python", "duckdb"},
)
def landing_survey(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    settings = load_settings()
    settings.ensure_dirs()
    with connect(settings.candidate_db) as con:
        report = survey_landing(con, settings, run_id=context.run_id)
    rejected = report.by_status("rejected")
    for outcome in rejected:
        context.log.warning(f"rejected: {outcome.message}")
    return dg.MaterializeResult(
        metadata={
            "files_queued": len(report.by_status("queued")),
            "files_duplicate": len(report.by_status("duplicate")),
            "files_rejected": len(rejected),
            "rejected": dg.MetadataValue.md("\n".join(f"- {o.message}" for o in rejected) or "none"),
        }
    )


def _source_asset(source: str, title_ru: str, description: str) -> dg.AssetsDefinition:
    deps = [landing_survey.key]
    if source not in REFERENCE_SOURCES:
        deps += [dg.AssetKey(["raw", s]) for s in REFERENCE_SOURCES]

    @dg.asset(
        key=["raw", source],
        group_name="ingestion",
        deps=deps,
        description=f"{title_ru}. {description} Rows that break the contract go to raw._quarantine.",
        kinds={"python", "duckdb"},
    )
    def _load(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        settings = load_settings()
        with connect(settings.candidate_db) as con:
            report = load_source(con, settings, source, run_id=context.run_id)
            total = con.execute(f"select count(*) from raw.{source}").fetchone()[0]
        for f in report.files:
            context.log.info(f"{f.file_name}: {f.status}, read {f.rows_read}, loaded {f.rows_loaded}, "
                             f"quarantined {f.rows_quarantined}")
            if f.rows_quarantined or f.status == "rejected":
                context.log.warning(f"{f.file_name}: {f.message}")
        table = "\n".join(
            f"| {f.file_name} | {f.status} | {f.rows_read} | {f.rows_loaded} | {f.rows_quarantined} |"
            for f in report.files
        )
        return dg.MaterializeResult(
            metadata={
                "files": len(report.files),
                "rows_read": report.rows_read,
                "rows_loaded": report.rows_loaded,
                "rows_quarantined": report.rows_quarantined,
                "files_rejected": len(report.rejected),
                "rows_in_table": total,
                "per_file": dg.MetadataValue.md(
                    "| file | status | read | loaded | quarantined |\n|---|---|---|---|---|\n" + table
                    if table else "no new files"
                ),
            }
        )

    return _load


source_assets = [_source_asset(c.source, c.title_ru, c.description) for c in load_contracts().values()]
