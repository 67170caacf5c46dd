"""Every number of the report and the cards, read from the serving warehouse by SQL.

One constant per table of the report: adapting to a changed mart is a change of one query here.
Nothing in Python recomputes a figure; Python only picks rows, orders and labels them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import duckdb

from publishing.small_numbers import small_number_min as published_small_number_min

# --- which list years exist and whether each could be computed ---------------------------------
# marts.dim_list_year (one row per list year, is_computable) is preferred when the warehouse has it;
# before it, a list year is computable when its results year had a previous results year.
SQL_LIST_YEARS_DIM = """
select list_year, results_year, is_computable, not_computable_reason_ru, missing_results_year
from marts.dim_list_year order by list_year
"""
SQL_LIST_YEARS_FALLBACK = """
select list_year, min(results_year) as results_year, bool_and(prior_results_available) as is_computable,
       case when not bool_and(prior_results_available)
            then 'нет результатов ' || (min(results_year) - 1) || ' года: правило «два года подряд» не проверить'
       end as not_computable_reason_ru,
       case when not bool_and(prior_results_available) then min(results_year) - 1 end as missing_results_year
from marts.fct_shnor_list group by list_year order by list_year
"""

SQL_PROFILE = "select * from marts.dim_methodology_profile"

# the data as of the last rows loaded (a release of quarantined rows too: ingestion.release), and
# the delivered files
SQL_DATA_AS_OF = """
select max(loaded_at), count(*) filter (where status = 'loaded')
from meta.load_log where status in ('loaded', 'released')
"""

SQL_INPUT_FILES = """
select file_id, source, file_name, file_hash as sha256, size_bytes, rows_read, rows_loaded,
       rows_quarantined, years, cast(loaded_at as varchar) as loaded_at
from meta.load_log where status = 'loaded' order by file_id
"""

# --- the report's tables ------------------------------------------------------------------------
SQL_SHNOR_BY_CLUSTER = """
select * from marts.rpt_shnor_by_cluster order by list_year, fioko_cluster_rank = 0, fioko_cluster_rank desc
"""

SQL_CLUSTER_TRANSITIONS = """
select * from marts.rpt_cluster_transitions_by_group
where list_year_to = ? and group_kind in ('programme', 'supported', 'shnor_list')
order by case group_kind when 'programme' then 0 when 'supported' then 1 else 2 end, group_code
"""

# reported procedures in the order of seed 003: ОГЭ, ЕГЭ, ВПР; Russian before mathematics; grade
SQL_PROCEDURE_ORDER = """
select procedure_code, procedure_name_ru,
       row_number() over (order by case exam when 'OGE' then 0 when 'EGE' then 1 else 2 end,
                          case when subject_code = 'RU' then 0 else 1 end, grade, subject_code) as sort_order
from reference.procedures
"""

SQL_DYNAMICS_BY_GROUP = f"""
with ord as ({SQL_PROCEDURE_ORDER})
select d.*, ord.sort_order from marts.rpt_dynamics_by_group as d
inner join ord using (procedure_code)
where d.year_to = ? and d.group_kind in ('region', 'programme', 'supported')
order by case d.group_kind when 'region' then 0 when 'programme' then 1 else 2 end, d.group_code, ord.sort_order
"""

SQL_DYNAMICS_TYPES = (
    "select dynamics_type, dynamics_type_ru from reference.dynamics_types order by sort_order"
)

SQL_DYNAMICS_URBAN_RURAL = """
select * from marts.rpt_dynamics_urban_rural
where year_to = ? and group_code in ('region', 'track_1', 'track_2', 'supported')
order by case group_code when 'track_1' then 0 when 'track_2' then 1 when 'supported' then 2 else 3 end,
         case locality when 'urban' then 0 when 'rural' then 1 else 2 end
"""

SQL_NOT_CONDUCTED = f"""
with ord as ({SQL_PROCEDURE_ORDER})
select n.*, ord.sort_order from marts.rpt_procedures_not_conducted as n
inner join ord using (procedure_code)
where n.year in (?, ?) and n.group_code in ('supported', 'region')
order by n.group_code = 'region', ord.sort_order, n.year
"""

SQL_DEFICITS = """
select * from marts.rpt_resource_deficits_by_municipality where year = ?
order by is_region_total, shnor_share desc, lower(municipality_name)
"""

SQL_RISK_ZONE = """
select * from marts.rpt_risk_zone_by_municipality where year = ?
order by is_region_total, lower(municipality_name)
"""
# the denominator of rpt_risk_zone_by_municipality.risk_zone_share, as the footnote states it
RISK_ZONE_SHARE_OF = "от школ МО, для которых рассчитан ИСБШ"

SQL_ACADEMIC_DEBT = """
select * from marts.rpt_academic_debt_by_municipality where academic_year = ? and period = ?
order by is_region_total, lower(municipality_name)
"""
SQL_ACADEMIC_DEBT_PERIODS = """
select distinct academic_year, year, period from marts.rpt_academic_debt_by_municipality
order by year, period
"""

SQL_MUNICIPALITY_COMPARISON = """
select d.municipality_code, d.municipality_name, d.year,
       d.shnor_share, r.risk_zone_share, d.staffing_deficit_share, d.infrastructure_deficit_share,
       a.debt_share, a.academic_year, a.period
from marts.rpt_resource_deficits_by_municipality as d
left join marts.rpt_risk_zone_by_municipality as r
    on d.municipality_code = r.municipality_code and d.year = r.year
left join marts.rpt_academic_debt_by_municipality as a
    on d.municipality_code = a.municipality_code and a.academic_year = ? and a.period = ?
where d.year = ? and not d.is_region_total
order by d.shnor_share desc, lower(d.municipality_name)
"""

# delivery completeness per municipality × source × year (issue 9); shown when the mart exists
COMPLETENESS_MART = "fct_delivery_completeness"
SQL_COMPLETENESS = f"""
select year as "Год", coalesce(municipality_name, municipality_code) as "МО", source_ru as "Источник",
       n_expected_schools as "Ожидалось школ", n_delivered_schools as "Поставили",
       n_missing_schools as "Без данных", missing_school_ids as "Коды ОО без данных"
from marts.{COMPLETENESS_MART}
where year in (?, ?) and not is_complete
order by year, municipality_code, source
"""

# latest year <= Y of a yearly mart (context data of the list year: deficits, ИСБШ)
SQL_CONTEXT_YEAR = "select max(year) from marts.{mart} where year <= ?"


@dataclass(frozen=True)
class ListYear:
    list_year: int
    results_year: int
    is_computable: bool
    reason_ru: str | None
    missing_results_year: int | None


def rows(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None) -> list[dict]:
    cur = con.cursor()
    try:
        result = cur.execute(sql, params or [])
        names = [d[0] for d in result.description]
        return [dict(zip(names, r)) for r in result.fetchall()]
    finally:
        cur.close()


def scalar(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None) -> Any:
    cur = con.cursor()
    try:
        row = cur.execute(sql, params or []).fetchone()
        return row[0] if row else None
    finally:
        cur.close()


def has_table(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    return bool(
        scalar(
            con,
            "select count(*) from information_schema.tables where table_schema = ? and table_name = ? "
            "and table_catalog = current_database()",
            [schema, table],
        )
    )


def list_years(con: duckdb.DuckDBPyConnection) -> dict[int, ListYear]:
    sql = (
        SQL_LIST_YEARS_DIM if has_table(con, "marts", "dim_list_year") else SQL_LIST_YEARS_FALLBACK
    )
    return {
        r["list_year"]: ListYear(
            int(r["list_year"]),
            int(r["results_year"]),
            bool(r["is_computable"]),
            r["not_computable_reason_ru"],
            r["missing_results_year"],
        )
        for r in rows(con, sql)
    }


def profile(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    found = rows(con, SQL_PROFILE)
    return found[0] if found else {}


def data_as_of(con: duckdb.DuckDBPyConnection) -> dt.date | None:
    """The date of the latest loaded delivery: what the data are as of (not the clock)."""
    value = scalar(con, SQL_DATA_AS_OF)
    if value is None:
        return None
    return (
        value.date() if isinstance(value, dt.datetime) else dt.date.fromisoformat(str(value)[:10])
    )


def input_files(con: duckdb.DuckDBPyConnection) -> list[dict]:
    return rows(con, SQL_INPUT_FILES)


def context_year(con: duckdb.DuckDBPyConnection, mart: str, year: int) -> int | None:
    value = scalar(con, SQL_CONTEXT_YEAR.format(mart=mart), [year])
    return int(value) if value is not None else None


# --- the school card (all schools of a list year at once; one school is a filter in Python) ------
SQL_CARD_SCHOOLS = """
select l.school_id, l.list_year, l.results_year, l.is_shnor, l.fioko_cluster, l.fioko_cluster_ru,
       l.cluster_measure_value, l.n_flagged_procedures, l.flagged_procedures, l.persistent_procedures,
       s.school_name, s.municipality_code, s.municipality_name, s.locality_ru, s.is_small, s.has_grade_9,
       s.has_grade_11, s.enrolment, s.support_programmes_to_date, s.first_support_year, s.year as registry_year
from marts.fct_shnor_list as l
left join marts.dim_school as s on l.school_id = s.school_id and l.results_year = s.year
where l.list_year = ?
order by lower(s.municipality_name), l.school_id
"""

SQL_CARD_TRANSITIONS = """
select school_id, list_year_from, list_year_to, cluster_from, cluster_from_ru, transition_type,
       transition_type_ru, transition_direction
from marts.fct_cluster_transitions where list_year_to = ?
"""

SQL_CARD_ISBSH = """
select school_id, year, isbsh, isbsh_quartile, is_risk_zone, municipal_position_ru,
       is_small_number_suppressed
from marts.fct_isbsh where year = ?
"""

SQL_CARD_PROCEDURES = (
    """
select p.school_id, p.procedure_code, p.procedure_name_ru, p.year, p.participants, p.failing, p.fail_share,
       p.is_informative, p.is_flagged, p.is_small_number_suppressed, o.sort_order
from marts.fct_procedure_results as p
inner join ("""
    + SQL_PROCEDURE_ORDER
    + """) as o using (procedure_code)
where p.counts_for_list and p.year between ? and ?
order by p.school_id, o.sort_order, p.year
"""
)

SQL_CARD_RISK_PROFILE = """
select school_id, year, factor_number, factor_name_ru, factor_score, significance, significance_ru,
       n_high_factors
from marts.fct_risk_profile where year = ?
order by school_id, case significance when 'high' then 0 when 'medium' then 1 when 'low' then 2 else 3 end,
         factor_number
"""

SQL_DEFICIT_RULES = """
select r.rule_code, r.deficit_type, r.rule_ru
from reference.deficit_rules as r
inner join marts.dim_methodology_profile as p on r.rule_set = p.deficit_rule_set
where r.is_enabled order by r.deficit_type desc, r.rule_code
"""
# one column has_<rule> per rule in fct_resource_deficits
SQL_CARD_DEFICITS = """
select school_id, year, has_resource_survey, has_staffing_deficit, has_infrastructure_deficit, {columns}
from marts.fct_resource_deficits where year = ?
"""

SQL_CARD_DEBT = """
select school_id, academic_year, year, period, period_ru, students_total, with_debt, debt_share,
       attending_extra_share, iom_share, debt_closed_share, is_small_number_suppressed
from marts.fct_academic_debt where year between ? and ?
order by school_id, year, period = 'year_end'
"""

SQL_CARD_TARGETS = """
select * from marts.fct_programme_targets
where year = (select max(t.year) from marts.fct_programme_targets as t
              where t.school_id = fct_programme_targets.school_id and t.year <= ?)
order by school_id, indicator
"""


def small_number_min(con: duckdb.DuckDBPyConnection) -> int | None:
    """The small-number minimum the connection's figures were suppressed under (None: not a
    published connection, publishing/small_numbers.py)."""
    return published_small_number_min(con)
