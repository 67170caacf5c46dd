"""The yearly ШНОР list as the regional centre publishes it: Russian headers, one row per listed
school, read from the serving warehouse."""

from __future__ import annotations

import duckdb
import pyarrow as pa

# warehouse column -> Russian header of the published list (CSV and Parquet carry all of them)
LIST_COLUMNS: dict[str, str] = {
    "row_number": "№ п/п",
    "municipality_name": "Муниципальное образование",
    "school_id": "Код ОО (логин ФИС ОКО)",
    "school_name": "Наименование ОО",
    "fioko_cluster_ru": "Кластер ФИОКО",
    "cluster_measure_percent": "Доля не преодолевших порог, %",
    "flagged_procedures": "Процедуры, где доля не преодолевших порог достигла пороговой (результаты года)",
    "persistent_procedures": "Процедуры, отмеченные два года подряд",
    "reason": "Основание включения в список",
    "results_year": "Год результатов",
    "list_year": "Год списка",
    "profile": "Методика (профиль, версия)",
}
SCHOOL_ID = LIST_COLUMNS["school_id"]
CLUSTER = LIST_COLUMNS["fioko_cluster_ru"]

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
    'Доля не преодолевших порог в ' || n_flagged_procedures || ' процедурах: ' || flagged_procedures
        || '. Два года подряд: ' || coalesce(persistent_procedures, '—') as reason,
    results_year,
    list_year,
    profile_name || ' v' || profile_version as profile,
    fioko_cluster,
    profile_name,
    profile_version
from listed
order by municipality_name, school_id
"""


def read_list(con: duckdb.DuckDBPyConnection, list_year: int) -> pa.Table:
    """The listed schools of ``list_year`` (warehouse column names, sorted by municipality and code).
    Whether the list may be published is the gate's question (gate.publishable), asked before."""
    return con.sql(LIST_QUERY, params=[list_year]).to_arrow_table()


def published_table(table: pa.Table) -> pa.Table:
    """The list with Russian headers, as written to CSV and Parquet."""
    return table.select(list(LIST_COLUMNS)).rename_columns(list(LIST_COLUMNS.values()))


def count_by_cluster(table: pa.Table) -> dict[str, int]:
    counts: dict[str, int] = {}
    for cluster in table.column("fioko_cluster").to_pylist():
        counts[str(cluster)] = counts.get(str(cluster), 0) + 1
    return dict(sorted(counts.items()))


def list_profile(con: duckdb.DuckDBPyConnection, list_year: int) -> tuple[str, str]:
    """(profile name, version) the list of ``list_year`` was built with (also when nobody is listed)."""
    row = con.execute(
        "select min(profile_name), min(profile_version) from marts.fct_shnor_list where list_year = ?",
        [list_year],
    ).fetchone()
    return (row[0] or "", row[1] or "")
