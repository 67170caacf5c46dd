"""Checks on the marts (schema ``marts``) that the published list and analysts read.

The marts grow (the methodology marts land in stages), so the suite is built from the tables and
columns that exist: a check whose table is not there yet is not created (or, run against an
older warehouse, skipped), and it activates when the mart lands. Generic checks apply to every
mart: shares (columns ``*_share``) lie in 0..1; the known grains hold one row per key.
"""

from __future__ import annotations

from collections.abc import Mapping

from gate.expectations.check import Catalog, Check, Level, SkipCheck, expect, rows_in_words

# one row per key: the grain of each mart (as stated in its dbt .yml)
MART_KEYS: dict[str, tuple[str, ...]] = {
    "dim_school": ("school_id", "year"),
    "fct_procedure_results": ("school_id", "procedure_code", "year"),
    "fct_shnor_list": ("school_id", "list_year"),
    "fct_isbsh": ("school_id", "year"),
    "fct_resource_deficits": ("school_id", "year"),
    "dim_list_year": ("list_year",),
    "fct_delivery_completeness": ("year", "municipality_code", "source"),
}

# share-like columns that do not follow the *_share naming convention
EXTRA_SHARE_COLUMNS: dict[str, tuple[str, ...]] = {"fct_shnor_list": ("cluster_measure_value",)}

# warning when the list of a year differs in size from the previous year's by more than this
# fraction (a data-quality signal for a person to look at, not a methodology parameter)
LIST_SIZE_CHANGE_LIMIT = 1 / 3

# the full-precision index first: quartiles are formed on it (the rounded one may tie)
ISBSH_VALUE_COLUMNS = ("isbsh_exact", "isbsh", "isbsh_value", "isbsh_index", "isbsh_score")
ISBSH_QUARTILE_COLUMNS = ("isbsh_quartile", "regional_quartile", "quartile")

# the cluster bounds of each profile and whether each bound is inclusive: the check bins by the
# profile's own rule, as the model does (a profile may flip ≥ / >)
PROFILE_BOUNDS = """
profile_bounds as (
    select profile_name, profile_version,
           cast(max(value) filter (where parameter = 'cluster_moderate_from') as double) as moderate_from,
           coalesce(cast(max(value) filter (where parameter = 'cluster_moderate_inclusive') as boolean), true)
               as moderate_inclusive,
           cast(max(value) filter (where parameter = 'cluster_severe_above') as double) as severe_above,
           coalesce(cast(max(value) filter (where parameter = 'cluster_severe_inclusive') as boolean), false)
               as severe_inclusive
    from reference.methodology_profiles
    group by profile_name, profile_version
)"""


def share_columns(table: str, columns: tuple[str, ...]) -> list[str]:
    return [c for c in columns if c.endswith("_share") or c in EXTRA_SHARE_COLUMNS.get(table, ())]


def _shares_check(table: str, columns: tuple[str, ...]) -> Check:
    shares = share_columns(table, columns)
    key = [c for c in MART_KEYS.get(table, ()) if c in columns] or [
        c for c in ("school_id", "year") if c in columns
    ]
    # row by row: a year-local mart is judged in the years a build computed (Check.by_year)
    by_year = f"marts.{table}" if "year" in columns else ""

    def query(catalog: Catalog) -> str:
        present = share_columns(table, catalog[f"marts.{table}"])
        if not present:
            raise SkipCheck(f"marts.{table} has no share columns")
        return f"select {', '.join(key + present)} from {{rows}} order by {', '.join(key) or '1'}"

    return Check(
        name="shares_between_0_and_1",
        suite="marts",
        asset=("marts", table),
        level=Level.ERROR,
        by_year=by_year,
        description=f"Every share of marts.{table} ({', '.join(shares)}) is a fraction in 0..1 (shares are "
        "stored as fractions; percentages are the report's job). A value outside means a formula or an input "
        "count is wrong.",
        query=query,
        expectations=tuple(
            expect("ExpectColumnValuesToBeBetween", column=c, min_value=0, max_value=1)
            for c in shares
        ),
    )


def _key_check(table: str, key: tuple[str, ...]) -> Check:
    # a key with the year is one per year: a year-local mart is judged in the years a build computed
    by_year = f"marts.{table}" if "year" in key else ""
    return Check(
        name="one_row_per_key",
        suite="marts",
        asset=("marts", table),
        level=Level.ERROR,
        by_year=by_year,
        description=f"marts.{table} has one row per {', '.join(key)} (its grain) and no key is empty. A "
        "duplicate would count a school twice in every figure built on it.",
        query=f"select {', '.join(key)} from {{rows}}",
        expectations=(
            expect("ExpectCompoundColumnsToBeUnique", column_list=list(key))
            if len(key) > 1
            else expect("ExpectColumnValuesToBeUnique", column=key[0]),
            *(expect("ExpectColumnValuesToNotBeNull", column=c) for c in key),
        ),
    )


def _isbsh_query(catalog: Catalog) -> str:
    columns = catalog["marts.fct_isbsh"]
    value = next((c for c in ISBSH_VALUE_COLUMNS if c in columns), None)
    quartile = next((c for c in ISBSH_QUARTILE_COLUMNS if c in columns), None)
    if value is None or quartile is None or "year" not in columns:
        raise SkipCheck(
            f"marts.fct_isbsh lacks year, a value column ({' / '.join(ISBSH_VALUE_COLUMNS)}) or "
            f"a quartile column ({' / '.join(ISBSH_QUARTILE_COLUMNS)})"
        )
    # quartiles are formed per year within a scope (profile parameter): the region, a municipality
    # or a locality type; without a quartile_scope column, the region
    scope = "'region'"
    if "quartile_scope" in columns:
        by = {"municipality": "municipality_code", "locality": "locality"}
        parts = [
            f"when '{name}' then cast({col} as varchar)"
            for name, col in by.items()
            if col in columns
        ]
        scope = f"quartile_scope || ':' || case quartile_scope {' '.join(parts)} else 'region' end"
    # per year, scope and quartile: size, value range, and the room that ties at the cut give
    return f"""
        with scored as (
            select year, {scope} as scope, {quartile} as quartile, {value} as value
            from marts.fct_isbsh where {value} is not null
        ),
        ties as (select year, scope, value, count(*) as tied from scored group by all),
        per_quartile as (
            select year, scope, quartile, count(*) as schools, min(value) as min_value, max(value) as max_value
            from scored group by all
        ),
        groups as (select year, scope, count(*) as scored_schools from scored group by all),
        cuts as (
            select q.year, q.scope, q.quartile, q.schools, g.scored_schools, q.min_value, q.max_value,
                   lead(q.min_value) over (partition by q.year, q.scope order by q.quartile) as next_min_value,
                   sum(q.schools) over (partition by q.year, q.scope order by q.quartile) as schools_up_to_quartile,
                   q.quartile * g.scored_schools / 4.0 as ideal_up_to_quartile
            from per_quartile as q join groups as g using (year, scope)
        )
        -- a tie at the cut (the last value of this quartile or the first of the next) gives room
        select c.*, abs(c.schools_up_to_quartile - c.ideal_up_to_quartile) as deviation,
               greatest(1, coalesce(below.tied, 0), coalesce(above.tied, 0)) as tie_room,
               coalesce(c.next_min_value, c.max_value + 1) as next_min_or_open
        from cuts as c
        left join ties as below on below.year = c.year and below.scope = c.scope and below.value = c.max_value
        left join ties as above on above.year = c.year and above.scope = c.scope and above.value = c.next_min_value
        order by c.year, c.scope, c.quartile
    """


def mart_checks(catalog: Catalog) -> list[Check]:
    """The mart suite for the marts present in ``catalog`` (``"marts.<table>"`` -> columns)."""
    tables = {
        name.split(".", 1)[1]: cols for name, cols in catalog.items() if name.startswith("marts.")
    }
    checks: list[Check] = []
    for table in sorted(tables):
        columns = tables[table]
        key = MART_KEYS.get(table)
        if key and all(c in columns for c in key):
            checks.append(_key_check(table, key))
        if share_columns(table, columns):
            checks.append(_shares_check(table, columns))
    if "fct_shnor_list" in tables:
        checks += _shnor_list_checks()
    if "fct_procedure_results" in tables:
        checks.append(
            Check(
                name="failing_within_participants",
                suite="marts",
                asset=("marts", "fct_procedure_results"),
                level=Level.ERROR,
                by_year="marts.fct_procedure_results",  # row by row
                description="Every procedure result has participants (N ≥ 1) and 0 ≤ failing ≤ N.",
                query="""select school_id, procedure_code, year, participants, failing
                     from {rows} order by school_id, procedure_code, year""",
                expectations=(
                    expect("ExpectColumnValuesToBeBetween", column="participants", min_value=1),
                    expect("ExpectColumnValuesToBeBetween", column="failing", min_value=0),
                    expect(
                        "ExpectColumnPairValuesAToBeGreaterThanB",
                        column_A="participants",
                        column_B="failing",
                        or_equal=True,
                    ),
                ),
            )
        )
    if "fct_delivery_completeness" in tables:
        checks += _completeness_checks()
    if "fct_isbsh" in tables:
        checks.append(
            Check(
                name="quartiles_equal_within_ties",
                suite="marts",
                asset=("marts", "fct_isbsh"),
                level=Level.ERROR,
                description="ИСБШ quartiles, per year and quartile scope (region, municipality or locality): four "
                "quartiles (1 = lowest); each holds higher values than the one below and no value is split between "
                "two quartiles (ties stay together); the cumulative size at each cut is the ideal n·q/4 give or "
                "take the tie at the cut (at least 1). Quartile 1 is the risk zone, so a wrong cut puts schools in "
                "or out of it.",
                query=_isbsh_query,
                expectations=(
                    expect(
                        "ExpectColumnValuesToBeBetween", column="quartile", min_value=1, max_value=4
                    ),
                    expect(
                        "ExpectColumnPairValuesAToBeGreaterThanB",
                        column_A="next_min_or_open",
                        column_B="max_value",
                    ),
                    expect(
                        "ExpectColumnPairValuesAToBeGreaterThanB",
                        column_A="tie_room",
                        column_B="deviation",
                        or_equal=True,
                    ),
                ),
            )
        )
    return checks


def _incomplete_in_words(rows) -> str:
    parts = [
        f"{r.year}, {r.municipality_name or r.municipality_code}: {r.source_ru} — "
        f"{r.n_missing_schools} из {r.n_expected_schools} школ без данных"
        + (
            f" ({r.missing_school_ids})"
            if r.n_missing_schools <= 5 and r.missing_school_ids
            else ""
        )
        for r in rows.head(5).itertuples()
    ]
    more = f" (and {len(rows) - 5} more)" if len(rows) > 5 else ""
    return "; ".join(parts) + more


def _completeness_checks() -> list[Check]:
    """Deliveries that are not (yet) complete. Incompleteness is not wrong data: these are warnings
    (the warehouse is still promoted, with its completeness visible), and the publication gate
    refuses every list that depends on an incomplete year (marts.dim_list_year.is_publishable)."""
    asset = ("marts", "fct_delivery_completeness")
    return [
        Check(
            name="deliveries_complete",
            suite="marts",
            asset=asset,
            level=Level.WARNING,
            description="Every municipality delivered every source for every year of the registry: ВПР for each "
            "school with students, ОГЭ/ЕГЭ where it has 9th/11th grades, the social passport and the resource "
            "survey for each school. A year still being delivered shows here. The list built on it waits "
            "(dim_list_year) while a school with students has no result at all, or an exam that counts has none in "
            "the whole region or vanished since the year before; other gaps are this warning. Deliver the missing "
            "files, or correct the registry.",
            query="""
                select year, municipality_code, municipality_name, source, source_ru, n_expected_schools,
                       n_delivered_schools, n_missing_schools, missing_school_ids, is_complete
                from marts.fct_delivery_completeness
                order by year desc, municipality_code, source
            """,
            expectations=(
                expect("ExpectColumnValuesToBeInSet", column="is_complete", value_set=[True]),
            ),
            explain=lambda rows: (
                f"{len(rows)} delivery(ies) incomplete: {_incomplete_in_words(rows)}. Deliver the missing "
                "files (or correct the registry); whether a list waits for them is in marts.dim_list_year."
            ),
        ),
        Check(
            name="graduating_grades_have_exam_results",
            suite="marts",
            asset=asset,
            level=Level.WARNING,
            description="A school with a 9th grade has ОГЭ results and one with an 11th grade has ЕГЭ results, "
            "for the exams that count for the list under the methodology profile. A gap can be real (no "
            "graduates that year) or a missing file.",
            requires=(
                "reference.methodology_profile_procedures",
                "reference.procedures",
                "marts.dim_list_year",
            ),
            query="""
                with counted_exams as (
                    select distinct lower(p.exam) as source
                    from reference.methodology_profile_procedures as mp
                    join reference.procedures as p using (procedure_code)
                    where mp.counts_for_list
                      and mp.profile_name = (select min(profile_name) from marts.dim_list_year)
                )
                select year, municipality_code, municipality_name, source, source_ru, n_expected_schools,
                       n_missing_schools, missing_school_ids
                from marts.fct_delivery_completeness
                where source in (select source from counted_exams) and source in ('oge', 'ege')
                order by year desc, municipality_code, source
            """,
            expectations=(
                expect("ExpectColumnValuesToBeBetween", column="n_missing_schools", max_value=0),
            ),
            explain=lambda rows: (
                f"schools with a graduating grade but no exam results: {_incomplete_in_words(rows)}. "
                "No graduates that year, or a missing file?"
            ),
        ),
        Check(
            name="no_vanished_procedure",
            suite="marts",
            asset=("intermediate", "int_procedure_coverage"),
            level=Level.WARNING,
            description="No procedure vanished from a results year: a procedure that most schools had the year "
            "before and that most of them lack now is usually a lost subject file (exam centres export one file "
            "per exam and subject). A vanished procedure that counts for the list makes the year incomplete, so "
            "its list is not published. If the procedure really was not held that year, add it to seed "
            "procedures_not_held.",
            requires=("intermediate.int_procedure_coverage", "reference.procedures"),
            query="""
                select c.year, c.procedure_code, p.procedure_name_ru, c.n_schools_previous_year,
                       c.n_schools_continuing, c.n_schools, c.is_vanished
                from intermediate.int_procedure_coverage as c
                left join reference.procedures as p using (procedure_code)
                order by c.year desc, c.procedure_code
            """,
            expectations=(
                expect("ExpectColumnValuesToBeInSet", column="is_vanished", value_set=[False]),
            ),
            explain=lambda rows: "; ".join(
                f"{r.procedure_name_ru or r.procedure_code} {r.year}: {r.n_schools_continuing} of "
                f"{r.n_schools_previous_year} schools that had results in {r.year - 1} have them in "
                f"{r.year} — a lost subject file? Deliver it (or add the procedure to procedures_not_held)"
                for r in rows.itertuples()
            ),
        ),
    ]


def _shnor_list_checks() -> list[Check]:
    asset = ("marts", "fct_shnor_list")
    return [
        Check(
            name="listed_school_has_cluster",
            suite="marts",
            asset=asset,
            level=Level.ERROR,
            description="Every listed school (is_shnor) has a cluster measure and a FIOKO cluster known to the "
            "reference table (reference.fioko_clusters), with its Russian label; a school not listed has none.",
            requires=("reference.fioko_clusters",),
            query="""
                select l.school_id, l.list_year, l.is_shnor, l.cluster_measure_value, l.fioko_cluster,
                       l.fioko_cluster_ru,
                       case when l.is_shnor then c.fioko_cluster is not null
                            else l.fioko_cluster is null end as cluster_consistent
                from marts.fct_shnor_list as l
                left join reference.fioko_clusters as c on c.fioko_cluster = l.fioko_cluster
                where l.is_shnor or l.fioko_cluster is not null
                order by l.list_year, l.school_id
            """,
            expectations=(
                expect(
                    "ExpectColumnValuesToBeInSet", column="cluster_consistent", value_set=[True]
                ),
                expect("ExpectColumnValuesToNotBeNull", column="fioko_cluster_ru"),
                expect("ExpectColumnValuesToNotBeNull", column="cluster_measure_value"),
            ),
        ),
        Check(
            name="cluster_matches_measure",
            suite="marts",
            asset=asset,
            level=Level.ERROR,
            description="The cluster of every listed school is the bin of its cluster measure under the bounds "
            "of its methodology profile (reference.methodology_profiles), each bound inclusive or not as the "
            "profile says (cluster_*_inclusive): by default severe above 0.50, moderate from 0.40, basic "
            "below. Recomputed here independently of the model.",
            requires=("reference.methodology_profiles",),
            query=f"""
                with {PROFILE_BOUNDS.strip()}
                select l.school_id, l.list_year, l.profile_name, l.profile_version, l.cluster_measure_value,
                       l.fioko_cluster,
                       case when l.cluster_measure_value > b.severe_above
                                 or (b.severe_inclusive and l.cluster_measure_value = b.severe_above) then 'severe'
                            when l.cluster_measure_value > b.moderate_from
                                 or (b.moderate_inclusive and l.cluster_measure_value = b.moderate_from)
                                then 'moderate'
                            else 'basic' end as expected_cluster
                from marts.fct_shnor_list as l
                left join profile_bounds as b using (profile_name, profile_version)
                where l.is_shnor
                order by l.list_year, l.school_id
            """,
            expectations=(
                expect(
                    "ExpectColumnPairValuesToBeEqual",
                    column_A="fioko_cluster",
                    column_B="expected_cluster",
                ),
            ),
            explain=lambda rows: (
                f"{len(rows)} listed school(s) have a cluster that does not match their measure under the "
                "profile's bounds: "
                + rows_in_words(
                    rows,
                    (
                        "list_year",
                        "school_id",
                        "cluster_measure_value",
                        "fioko_cluster",
                        "expected_cluster",
                    ),
                )
                + ". The list model and its profile disagree: do not publish; report it to the maintainers."
            ),
        ),
        Check(
            name="listed_school_in_registry",
            suite="marts",
            asset=asset,
            level=Level.ERROR,
            description="Every listed school is in the school registry (marts.dim_school) of its results year, "
            "with a name and a municipality: the published list prints both.",
            requires=("marts.dim_school",),
            query="""
                select l.school_id, l.list_year, l.results_year, s.school_name, s.municipality_name,
                       s.school_id is not null as in_registry
                from marts.fct_shnor_list as l
                left join marts.dim_school as s on s.school_id = l.school_id and s.year = l.results_year
                where l.is_shnor
                order by l.list_year, l.school_id
            """,
            expectations=(
                expect("ExpectColumnValuesToBeInSet", column="in_registry", value_set=[True]),
                expect("ExpectColumnValuesToNotBeNull", column="school_name"),
                expect("ExpectColumnValuesToNotBeNull", column="municipality_name"),
            ),
        ),
        Check(
            name="list_size_by_cluster_adds_up",
            suite="marts",
            asset=asset,
            level=Level.ERROR,
            description="For every list year, the schools per cluster (basic + moderate + severe) add up to the "
            "number of listed schools, and every list year has a single methodology profile.",
            query="""
                select list_year,
                       count(*) filter (where is_shnor) as listed,
                       count(*) filter (where is_shnor and fioko_cluster = 'basic') as basic,
                       count(*) filter (where is_shnor and fioko_cluster = 'moderate') as moderate,
                       count(*) filter (where is_shnor and fioko_cluster = 'severe') as severe,
                       count(*) filter (where is_shnor and fioko_cluster in ('basic', 'moderate', 'severe'))
                           as listed_by_cluster,
                       count(distinct profile_name || ' ' || profile_version) as profiles
                from marts.fct_shnor_list
                group by list_year
                order by list_year
            """,
            expectations=(
                expect(
                    "ExpectColumnPairValuesToBeEqual",
                    column_A="listed",
                    column_B="listed_by_cluster",
                ),
                expect(
                    "ExpectColumnValuesToBeBetween", column="profiles", min_value=1, max_value=1
                ),
            ),
        ),
        Check(
            name="list_size_change_within_a_third",
            suite="marts",
            asset=asset,
            level=Level.WARNING,
            description="The list of each year differs in size from the previous year's by at most a third. A "
            "bigger jump is possible (a new procedure, a changed threshold) but is more often a missing or "
            "duplicated delivery: look before publishing.",
            query="""
                with sizes as (
                    select list_year, count(*) filter (where is_shnor) as listed
                    from marts.fct_shnor_list group by list_year
                ),
                compared as (
                    select list_year, listed,
                           lag(listed) over (order by list_year) as previous_listed,
                           lag(list_year) over (order by list_year) as previous_list_year
                    from sizes
                )
                select list_year, listed, previous_list_year, previous_listed,
                       abs(listed - previous_listed) / previous_listed::double as relative_change
                from compared
                where previous_list_year = list_year - 1 and previous_listed > 0
                order by list_year
            """,
            expectations=(
                expect(
                    "ExpectColumnValuesToBeBetween",
                    column="relative_change",
                    max_value=LIST_SIZE_CHANGE_LIMIT,
                ),
            ),
        ),
    ]


def mart_catalog_from_columns(
    columns_by_table: Mapping[str, tuple[str, ...]],
) -> dict[str, tuple[str, ...]]:
    """``{"fct_x": cols}`` -> ``{"marts.fct_x": cols}`` (e.g. from the dbt manifest)."""
    return {f"marts.{table}": tuple(cols) for table, cols in columns_by_table.items()}
