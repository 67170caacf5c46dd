"""The whole pipeline on a small generated region, through Dagster with real DuckDB and dbt,
checked against values computed independently from the landing files (tests/integration/expected.py)."""

from __future__ import annotations

import duckdb
import pandas as pd
import pytest

from tests.integration import expected

pytestmark = pytest.mark.integration


def _serving(region) -> duckdb.DuckDBPyConnection:
    return duckdb.connect(str(region.settings.serving_db), read_only=True)


def test_every_delivered_row_is_loaded_and_nothing_quarantined(small_region) -> None:
    # raw is in the candidate (the working warehouse); serving has the delivery history without it
    with duckdb.connect(str(small_region.settings.candidate_db), read_only=True) as con:
        for source, rows in small_region.expected_counts.items():
            loaded = con.execute(f"select count(*) from raw.{source}").fetchone()[0]
            assert loaded == rows, source
        assert con.execute("select count(*) from raw._quarantine").fetchone()[0] == 0
        log = con.execute(
            "select count(*), sum(rows_read), sum(rows_loaded) from raw._load_log where status = 'loaded'"
        ).fetchone()
    delivered = [p for p in small_region.landing_copy.rglob("*") if p.suffix in (".csv", ".xlsx")]
    assert log[0] == len(delivered)
    assert log[1] == log[2] == sum(small_region.expected_counts.values())
    with _serving(small_region) as con:  # readers get the delivery history, not the raw rows
        served = con.execute(
            "select count(*), sum(rows_read) from meta.load_log where status = 'loaded'"
        ).fetchone()
        schemas = {r[0] for r in con.execute("select schema_name from duckdb_schemas()").fetchall()}
    assert served == (log[0], log[1])
    assert "raw" not in schemas and "staging" not in schemas and "intermediate" not in schemas


def test_every_asset_materialised_and_every_check_passed(small_region) -> None:
    from orchestration.definitions import get_definitions

    defs = get_definitions()

    graph = defs.resolve_asset_graph()
    # the events of the build are in the process that built the region (tests/conftest.py)
    assert small_region.build_events, "run in the unit of work that builds the region"
    instance = small_region.instance
    for key in graph.get_all_asset_keys():
        if key.path[0] == "publications":
            continue  # partitioned: checked in test_published_list
        if key.to_user_string() == "warehouse/postgres":
            continue  # skipped without PostgreSQL (test_bi_files.py); tests/bi runs it with one
        assert instance.get_latest_materialization_event(key) is not None, key.to_user_string()
    checks = list(graph.asset_check_keys)
    assert len(checks) > 50
    from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus

    for check in checks:
        record = instance.event_log_storage.get_latest_asset_check_execution_by_key([check]).get(
            check
        )
        assert record is not None, check
        assert record.status == AssetCheckExecutionRecordStatus.SUCCEEDED, check
        assert record.event.asset_check_evaluation.passed, check


def test_procedure_results_match_independent_computation(small_region) -> None:
    with _serving(small_region) as con:
        actual = con.execute(
            "select school_id, procedure_code, year, participants, failing from marts.fct_procedure_results"
        ).df()
    want = small_region.expected_results
    merged = want.merge(
        actual,
        how="outer",
        on=["school_id", "procedure_code", "year"],
        suffixes=("_want", "_got"),
        indicator=True,
    )
    missing = merged[merged["_merge"] != "both"]
    assert missing.empty, missing.head(20).to_string()
    assert (merged["participants_want"] == merged["participants_got"]).all()
    assert (merged["failing_want"] == merged["failing_got"]).all()


def test_published_list_matches_independent_rule(small_region) -> None:
    summary = small_region.summary
    assert summary.list_year == 2025
    successors = _successors(small_region)
    want = expected.shnor_list(small_region.expected_results, successors)
    want = (
        want[want["list_year"] == summary.list_year].sort_values("school_id").reset_index(drop=True)
    )
    assert 0 < len(want) < 60
    csv_path = small_region.settings.publications_dir / "2025" / "v1" / "shnor_list_2025.csv"
    raw = csv_path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    published = pd.read_csv(csv_path, sep=";", encoding="utf-8-sig", dtype=str)
    assert list(published.columns[:5]) == [
        "№ п/п",
        "Муниципальное образование",
        "Код ОО (логин ФИС ОКО)",
        "Наименование ОО",
        "Кластер ФИОКО",
    ]
    got = published.sort_values("Код ОО (логин ФИС ОКО)").reset_index(drop=True)
    assert list(got["Код ОО (логин ФИС ОКО)"]) == list(want["school_id"])
    labels = {
        "basic": "базово неуспевающие",
        "moderate": "умеренно неуспевающие",
        "severe": "сильно неуспевающие",
    }
    assert list(got["Кластер ФИОКО"]) == [labels[c] for c in want["fioko_cluster"]]
    assert summary.list_size == len(want)
    assert sum(summary.by_cluster.values()) == len(want)
    parquet = pd.read_parquet(csv_path.with_suffix(".parquet"))
    assert len(parquet) == len(want)


def test_second_run_loads_nothing_new_and_publishes_the_same_list(small_region, tmp_path) -> None:
    from orchestration.runner import run_pipeline

    before = (
        small_region.settings.publications_dir / "2025" / "v1" / "shnor_list_2025.csv"
    ).read_bytes()
    # the same files delivered again under other names are skipped
    for path in small_region.landing_copy.rglob("*.csv"):
        (small_region.settings.landing_dir / f"again_{path.name}").write_bytes(path.read_bytes())
    summary = run_pipeline(small_region.settings, instance=small_region.instance)
    assert summary.sources == []
    assert summary.duplicates == len(list(small_region.landing_copy.rglob("*.csv")))
    after = (
        small_region.settings.publications_dir / "2025" / "v1" / "shnor_list_2025.csv"
    ).read_bytes()
    assert after == before


def _successors(region) -> dict[str, tuple[str, int]]:
    path = next(region.landing_copy.rglob("school_successors*.xlsx"))
    df = expected.read_xlsx(path)
    out = {}
    for old, new, date in zip(
        df["Код ОО (прежний)"], df["Код ОО (правопреемник)"], df["Дата реорганизации"]
    ):
        when = pd.Timestamp(date)
        out[old] = (new, when.year + (1 if when.month >= 7 else 0))
    return out


def test_a_withdrawn_file_holds_publication_until_a_run_publishes_the_list_without_it(
    small_region, tmp_path, monkeypatch
) -> None:
    """A wrong ВПР 2024 «correction» is loaded and published (v2); withdrawn, nothing is published
    from the serving warehouse that still holds it; the next run publishes v3, byte for byte the list
    of v1, whose manifest names the withdrawn file."""
    import json

    from gate.errors import PublicationRefused
    from ingestion.withdraw import withdraw
    from orchestration.runner import publish, run_pipeline
    from tests.integration.test_gates_support import copy_home, new_instance

    settings = copy_home(small_region.settings, tmp_path / "home", monkeypatch)
    folder = settings.publications_dir / "2025"
    v1 = (folder / "v1" / "shnor_list_2025.csv").read_bytes()
    (vpr,) = small_region.landing_copy.rglob("vpr_results_2024*.csv")
    frame = pd.read_csv(vpr, sep=";", dtype=str, encoding="cp1251")
    schools = sorted(frame["Код ОО"].unique())[:8]
    wrong = frame[frame["Код ОО"].isin(schools)].copy()
    wrong["Отметка"] = wrong["Отметка"].map(lambda m: m if pd.isna(m) else "2")
    name = "vpr_results_2024_исправление.csv"
    wrong.to_csv(settings.landing_dir / name, sep=";", index=False, encoding="cp1251")
    instance = new_instance()
    first = run_pipeline(settings, instance=instance, quiet=True)
    assert first.publication.version == 2
    assert (folder / "v2" / "shnor_list_2025.csv").read_bytes() != v1

    withdrawal = withdraw(settings, name, reason="не та выгрузка")
    with pytest.raises(PublicationRefused, match="withdrawn after the serving warehouse was built"):
        publish(settings, 2025, instance=instance)
    assert not (folder / "v3").exists()

    again = run_pipeline(settings, instance=instance, quiet=True)
    assert (
        f"Built without the withdrawn file {withdrawal.file_id} «{name}» (не та выгрузка)."
        in again.render()
    )
    assert again.publication.version == 3
    assert (folder / "v3" / "shnor_list_2025.csv").read_bytes() == v1
    manifest = json.loads((folder / "v3" / "manifest.json").read_text(encoding="utf-8"))
    assert [(w["file_id"], w["file_name"], w["reason"]) for w in manifest["withdrawn_inputs"]] == [
        (withdrawal.file_id, name, "не та выгрузка")
    ]
    assert withdrawal.file_id not in [f["file_id"] for f in manifest["inputs"]]
    assert not list(settings.warehouse_dir.glob("withdrawals-pending.json"))
