"""Promotion of the candidate warehouse to serving, and the yearly ШНОР list publication."""


import duckdb
import dagster as dg

from ingestion.settings import load_settings
from orchestration.assets.dbt import eduq_dbt_models
from publishing.promote import promote
from publishing.shnor_list import available_list_years, export_list

list_year_partitions = dg.DynamicPartitionsDefinition(name="list_year")


@dg.asset(
    key=["warehouse", "serving"],
    group_name="publication",
    deps=[eduq_dbt_models],
    description="Copy the built and tested candidate warehouse over the serving warehouse in one atomic "
    "rename. Analysts and BI tools read only the serving file.",
    kinds={"duckdb"},
)
def serving_warehouse(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    settings = load_settings()
    promotion = promote(settings.candidate_db, settings.serving_db)
    with duckdb.connect(str(settings.serving_db), read_only=True) as con:
        years = [str(y) for y in available_list_years(con)]
    new = [y for y in years if not context.instance.has_dynamic_partition(list_year_partitions.name, y)]
    if new:
        context.instance.add_dynamic_partitions(list_year_partitions.name, new)
    return dg.MaterializeResult(
        metadata={
            "path": str(promotion.serving_path),
            "size_bytes": promotion.size_bytes,
            "sha256": promotion.sha256,
            "list_years": ", ".join(years),
        }
    )


@dg.asset(
    key=["publications", "shnor_list"],
    group_name="publication",
    deps=[serving_warehouse],
    partitions_def=list_year_partitions,
    description="The ШНОР list of a list year, as CSV (UTF-8 with BOM, Russian headers) and Parquet, "
    "in publications/<list_year>/.",
    kinds={"csv", "parquet"},
)
def shnor_list_publication(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    settings = load_settings()
    list_year = int(context.partition_key)
    export = export_list(settings.serving_db, list_year, settings.publications_dir / str(list_year))
    context.log.info(f"list {list_year}: {export.rows} schools {export.by_cluster}")
    return dg.MaterializeResult(
        metadata={
            "list_year": list_year,
            "schools": export.rows,
            **{f"cluster_{k}": v for k, v in sorted(export.by_cluster.items(), key=lambda kv: str(kv[0]))},
            "files": dg.MetadataValue.md("\n".join(f"- {p}" for p in export.files)),
        }
    )
