"""DuckDB's and dbt's resources come from EDUQ_* settings (issue 10): memory limit, threads and
spill folder for every connection, dbt's parallel nodes for the build; a bad value is one clear
line, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.settings import DEFAULT_DBT_THREADS, SettingsError, load_settings
from orchestration.dbt_build import build_args
from orchestration.dbt_project import dbt_env

NAMES = (
    "EDUQ_DUCKDB_MEMORY_LIMIT",
    "EDUQ_DUCKDB_THREADS",
    "EDUQ_DUCKDB_TEMP_DIR",
    "EDUQ_DBT_THREADS",
    "EDUQ_LOAD_WORKERS",
)


@pytest.fixture()
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("EDUQ_HOME", str(tmp_path))
    for name in NAMES:
        monkeypatch.delenv(name, raising=False)
    return tmp_path


def test_defaults_are_a_safe_share_of_the_machine(home: Path) -> None:
    settings = load_settings()
    limit = settings.duckdb_memory_limit
    assert limit.endswith("MB") and 256 <= int(limit[:-2]) <= 2816
    assert settings.spill_dir == home / "warehouse" / "tmp"
    assert settings.dbt_threads == DEFAULT_DBT_THREADS == 4
    args = build_args(settings)
    assert args[args.index("--threads") + 1] == "4"


def test_the_settings_reach_duckdb_and_dbt(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EDUQ_DUCKDB_MEMORY_LIMIT", "2GB")
    monkeypatch.setenv("EDUQ_DUCKDB_THREADS", "1")
    monkeypatch.setenv("EDUQ_DUCKDB_TEMP_DIR", str(home / "spill"))
    monkeypatch.setenv("EDUQ_DBT_THREADS", "1")
    settings = load_settings()
    assert settings.duckdb_config() == {
        "memory_limit": "2GB",
        "threads": "1",
        "temp_directory": str(home / "spill"),
    }
    env = dbt_env(settings)
    assert (env["EDUQ_DUCKDB_MEMORY_LIMIT"], env["EDUQ_DUCKDB_THREADS"]) == ("2GB", "1")
    assert env["EDUQ_DUCKDB_TEMP_DIR"] == str(home / "spill")
    args = build_args(settings)
    assert args[args.index("--threads") + 1] == "1"


def test_a_connection_of_the_pipeline_has_the_settings_and_one_configuration_per_file(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """core.duck.connect: the settings' memory limit, threads and spill folder (not made: DuckDB
    makes it when it spills); threads of their own only for an in-memory database (DuckDB refuses
    a second connection to an open file with another configuration)."""
    import duckdb

    from core import duck

    spill = (home / "deep" / "spill").resolve()
    monkeypatch.setenv("EDUQ_DUCKDB_MEMORY_LIMIT", "1GB")
    monkeypatch.setenv("EDUQ_DUCKDB_THREADS", "2")
    monkeypatch.setenv("EDUQ_DUCKDB_TEMP_DIR", str(spill))
    settings = load_settings()
    query = "select current_setting('threads'), current_setting('temp_directory')"
    for memory in (None, ":memory:"):
        with duck.connect(memory, settings=settings, threads=0) as con:
            assert con.execute(query).fetchall() == [(1, str(spill))]
    assert not spill.exists()
    db = home / "w.duckdb"
    with duck.connect(db, settings) as first, duck.connect(db, settings) as second:
        assert (
            first.execute(query).fetchall() == second.execute(query).fetchall() == [(2, str(spill))]
        )
        with pytest.raises(duckdb.ConnectionException, match="different configuration"):
            duckdb.connect(str(db))
    with pytest.raises(ValueError, match="in-memory"):
        duck.connect(db, settings, threads=1)
    with pytest.raises(ValueError, match="not both"):
        duck.connect(settings=settings, config={"threads": "1"})
    assert duck.resources(None) == {}


@pytest.mark.parametrize("name", ["EDUQ_DUCKDB_THREADS", "EDUQ_DBT_THREADS", "EDUQ_LOAD_WORKERS"])
def test_a_bad_number_is_a_clear_error(
    home: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    monkeypatch.setenv(name, "four")
    with pytest.raises(SettingsError, match=f"{name}='four' is not a whole number"):
        load_settings()


def test_duckdbs_settings_are_set_once_when_the_database_opens() -> None:
    """dbt-duckdb runs the profile's `settings` again on every new cursor (every node of a build:
    two more statements per node), and DuckDB refuses to set temp_directory once it has spilled
    there: a country build and a demo build under a 120 MB limit failed with «Cannot switch
    temporary directory after the current one has been used». Spill folder, memory and threads
    belong to `config_options` (used once, at connect)."""
    import yaml

    from orchestration.dbt_project import DBT_PROJECT_DIR

    output = yaml.safe_load((DBT_PROJECT_DIR / "profiles.yml").read_text(encoding="utf-8"))
    dev = output["eduq"]["outputs"]["dev"]
    assert "settings" not in dev
    options = dev["config_options"]
    assert set(options) == {
        "temp_directory",
        "memory_limit",
        "threads",
        "checkpoint_threshold",
        "max_vacuum_tasks",
    }
    # a checkpoint at 256 MB of write-ahead log, not DuckDB's 16 MB (a night's build checkpointed
    # the whole file a few times), bounded: changes not yet checkpointed stay in memory
    assert options["checkpoint_threshold"] == "256MB"
    # no row groups merged at dbt's checkpoints either (see connect_for_loading)
    assert options["max_vacuum_tasks"] == "0"
    for key, env in [
        ("temp_directory", "EDUQ_DUCKDB_TEMP_DIR"),
        ("memory_limit", "EDUQ_DUCKDB_MEMORY_LIMIT"),
        ("threads", "EDUQ_DUCKDB_THREADS"),
    ]:
        assert env in options[key]


def _row_groups(con, table: str) -> list[int]:
    return [
        n
        for _, n in con.execute(
            f"select row_group_id, max(count) from pragma_storage_info('{table}') "
            "group by 1 order by 1"
        ).fetchall()
    ]


@pytest.mark.parametrize("loading", [True, False])
def test_a_loads_checkpoint_leaves_the_raw_row_groups_as_written(home: Path, loading: bool) -> None:
    """Deliveries loaded night after night leave partly filled row groups in a raw table; DuckDB's
    checkpoint merges adjacent ones (reading and compressing them again, on one core) unless the
    connection is the loader's (:func:`connect_for_loading`): then every row group stays as it was
    written, and a night's checkpoint writes only its own rows."""
    from ingestion.warehouse import connect, connect_for_loading

    settings = load_settings()
    path = home / "w.duckdb"
    with connect(path, settings=settings) as con:
        con.execute("create table t (file_id integer, v varchar)")
        con.execute("insert into t select 1, 'value ' || (i % 977) from range(200000) r(i)")
    with connect(path, settings=settings) as con:
        con.execute("insert into t select 2, 'value ' || (i % 977) from range(30000) r(i)")
    with connect(path, settings=settings) as con:
        assert _row_groups(con, "t") == [122880, 77120, 30000]
    opened = connect_for_loading(path, settings) if loading else connect(path, settings=settings)
    with opened as con:
        con.execute("insert into t select 3, 'value ' || (i % 977) from range(20000) r(i)")
        con.execute("checkpoint")
        after = _row_groups(con, "t")
        counts = con.execute("select file_id, count(*) from t group by 1 order by 1").fetchall()
    assert counts == [(1, 200000), (2, 30000), (3, 20000)]
    if loading:
        assert after == [122880, 77120, 30000, 20000]
    else:  # DuckDB's default: the two partly filled row groups became one
        assert after == [122880, 107120, 20000]


def test_dbts_environment_is_set_for_the_block_and_restored_after_it(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """core.environ.temporary_environment: what run_build gives dbt holds inside the block only,
    also when the block fails; a variable set before keeps its value, one unset before is unset,
    one unset for the block comes back."""
    import os

    from core.environ import temporary_environment

    monkeypatch.setenv("EDUQ_DUCKDB_THREADS", "3")
    monkeypatch.setenv("EDUQ_METHODOLOGY_PROFILE", "fioko_2025")
    monkeypatch.delenv("EDUQ_DBT_DB_PATH", raising=False)
    env = dbt_env(load_settings())
    env["EDUQ_DUCKDB_THREADS"] = "1"
    with (
        pytest.raises(RuntimeError),
        temporary_environment(env, unset=("EDUQ_METHODOLOGY_PROFILE",)),
    ):
        assert {name: os.environ.get(name) for name in env} == env
        assert "EDUQ_METHODOLOGY_PROFILE" not in os.environ
        raise RuntimeError("the build failed")
    assert os.environ["EDUQ_DUCKDB_THREADS"] == "3"
    assert os.environ["EDUQ_METHODOLOGY_PROFILE"] == "fioko_2025"
    assert "EDUQ_DBT_DB_PATH" not in os.environ
    assert "EDUQ_DUCKDB_TEMP_DIR" not in os.environ


def test_quoted_names_and_text_read_back_as_they_were() -> None:
    """core.duck.quote_identifier / quote_literal (the one pair every generated statement uses):
    quotes, Cyrillic and spaces in a name or a text come back from DuckDB unchanged."""
    from core import duck

    names = ["plain", 'with "quotes"', "Код ОО", 'a""b', "it's"]
    texts = ["it's", "''", 'say "hi"', "МБОУ «Школа № 1»", ""]
    with duck.connect() as con:
        columns = ", ".join(f"{duck.quote_identifier(n)} varchar" for n in names)
        con.execute(f"create table t ({columns})")
        assert [c[0] for c in con.execute("describe t").fetchall()] == names
        values = ", ".join(duck.quote_literal(t) for t in texts)
        con.execute(f"insert into t values ({values})")
        assert con.execute("select * from t").fetchall() == [tuple(texts)]
