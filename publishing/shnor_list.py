"""The yearly ШНОР list as the regional centre publishes it: Russian headers, one row per
listed school, read from the serving warehouse."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

# warehouse column -> Russian header of the published list
LIST_COLUMNS: dict[str, str] = {
    "row_number": "№ п/п",
    "municipality_name": "Муниципальное образование",
    "school_id": "Код ОО (логин ФИС ОКО)",
    "school_name": "Наименование ОО",
    "fioko_cluster_ru": "Кластер ФИОКО",
    "cluster_measure_percent": "Доля не преодолевших порог, %",
    "flagged_procedures": "Процедуры с долей не преодолевших порог ≥ 30% (результаты года)",
    "persistent_procedures": "Процедуры, отмеченные два года подряд",
    "results_year": "Год результатов",
    "list_year": "Год списка",
    "profile": "Методика (профиль, версия)",
}

LIST_QUERY = """
with listed as (
    select l.*, s.municipality_name, s.school_name
    from marts.fct_shnor_list as l
    left join marts.dim_school as s on s.school_id = l.school_id and s.year = l.results_year
    where l.list_year = ? and l.is_shnor
)
select
    row_number() over (order by municipality_name, school_id) as row_number,
    municipality_name,
    school_id,
    school_name,
    fioko_cluster_ru,
    round(cluster_measure_value * 100, 1) as cluster_measure_percent,
    flagged_procedures,
    persistent_procedures,
    results_year,
    list_year,
    profile_name || ' v' || profile_version as profile,
    fioko_cluster
from listed
order by municipality_name, school_id
"""


@dataclass(frozen=True)
class ListExport:
    list_year: int
    rows: int
    by_cluster: dict[str, int]
    files: tuple[Path, ...]


def available_list_years(con: duckdb.DuckDBPyConnection) -> list[int]:
    return [r[0] for r in con.execute("select distinct list_year from marts.fct_shnor_list order by 1").fetchall()]


def read_list(con: duckdb.DuckDBPyConnection, list_year: int) -> pa.Table:
    return con.sql(LIST_QUERY, params=[list_year]).to_arrow_table()


def export_list(serving_db: Path, list_year: int, out_dir: Path) -> ListExport:
    """Write the list of ``list_year`` as CSV (UTF-8 with BOM, Russian headers) and Parquet."""
    with duckdb.connect(str(serving_db), read_only=True) as con:
        table = read_list(con, list_year)
    by_cluster: dict[str, int] = {}
    for cluster in table.column("fioko_cluster").to_pylist():
        by_cluster[cluster] = by_cluster.get(cluster, 0) + 1
    published = table.select(list(LIST_COLUMNS)).rename_columns(list(LIST_COLUMNS.values()))
    out_dir.mkdir(parents=True, exist_ok=True)
    csv_path = out_dir / f"shnor_list_{list_year}.csv"
    parquet_path = out_dir / f"shnor_list_{list_year}.parquet"
    with open(csv_path, "wb") as fh:
        fh.write("\ufeff".encode())
        pacsv.write_csv(published, fh, pacsv.WriteOptions(delimiter=";"))
    pq.write_table(published, parquet_path)
    return ListExport(list_year, table.num_rows, by_cluster, (csv_path, parquet_path))
