"""The regional report and the school cards as assets of the publish job, partitioned by list year,
downstream of the serving warehouse. Like the list, each publishes only from a serving warehouse
that carries a passed audit record (publishing/report/publish.py refuses otherwise), whatever
started the run (sensor, UI, ``eduq run``)."""

import dagster as dg

from core import progress as run_progress
from orchestration.assets.publication import list_year_partitions
from orchestration.resources import EduqResource

SERVING_KEY = dg.AssetKey(["warehouse", "serving"])
REPORT_KEY = dg.AssetKey(["publications", "regional_report"])
CARDS_KEY = dg.AssetKey(["publications", "school_cards"])


def _metadata(result) -> dict:
    return {
        "list_year": result.list_year,
        "status": result.status,
        "version": result.version,
        "directory": str(result.directory),
        "main_file": str(result.main_file),
        "build_id": result.build_id,
        "seconds": round(result.seconds, 2),
        "documents": result.count,
    }


@dg.asset(
    key=REPORT_KEY,
    group_name="publication",
    deps=[SERVING_KEY],
    partitions_def=list_year_partitions,
    description="The regional report of a list year in publications/<list_year>/report/v<N>/: HTML "
    "(self-contained, offline), PDF (A4 landscape, page numbers), XLSX of every table, sources.json and "
    "manifest.json; sections in the order of seed 003. Publishes only from a serving warehouse with a passed "
    "audit; the same inputs make no new version.",
    kinds={"html", "pdf", "xlsx"},
)
def regional_report(context: dg.AssetExecutionContext, eduq: EduqResource) -> dg.MaterializeResult:
    from publishing.report.publish import publish_report

    run_progress.stage(f"publish the regional report {context.partition_key}")
    result = publish_report(eduq.settings(), int(context.partition_key))
    context.log.info(result.render())
    return dg.MaterializeResult(metadata=_metadata(result))


@dg.asset(
    key=CARDS_KEY,
    group_name="publication",
    deps=[SERVING_KEY],
    partitions_def=list_year_partitions,
    description="The school cards of a list year in publications/<list_year>/cards/v<N>/: one PDF and one "
    "HTML of all schools, and html/<school>.html, pdf/<school>.pdf. Publishes only from a serving warehouse "
    "with a passed audit; the same inputs make no new version.",
    kinds={"html", "pdf"},
)
def school_cards(context: dg.AssetExecutionContext, eduq: EduqResource) -> dg.MaterializeResult:
    from publishing.report.publish import publish_cards

    run_progress.stage(f"publish the school cards {context.partition_key}")

    def progress(done: int, total: int, stage: str) -> None:
        context.log.info(f"school cards {context.partition_key}: {stage} {done}/{total}")

    result = publish_cards(eduq.settings(), int(context.partition_key), progress=progress)
    context.log.info(result.render())
    return dg.MaterializeResult(metadata=_metadata(result))


report_assets = [regional_report, school_cards]
