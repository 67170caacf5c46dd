"""The project's table and view materializations (dbt_project/macros/materializations.sql) on a
project of three models that use them: a relation is replaced in place, and a rebuild that fails
leaves the old one as it was, rows, contract and comments included. Its comments
(dbt_project/macros/persist_docs.sql): the documented columns that exist, in one statement."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb

from orchestration.dbt_project import DBT_PROJECT_DIR

PROJECT = """
name: lean
version: "1.0"
config-version: 2
profile: lean
macro-paths: ["macros"]
flags: {send_anonymous_usage_stats: false}
models:
  lean:
    +materialized: table
    +persist_docs: {relation: true, columns: true}
"""

PROFILE = """
lean:
  target: dev
  outputs:
    dev: {type: duckdb, path: "{db}", threads: 1}
"""

SCHEMA = """
version: 2
models:
  - name: numbers
    description: Числа.
    config: {contract: {enforced: true}}
    columns:
      - {name: n, data_type: integer, description: Число., constraints: [{type: not_null}]}
      - {name: label, data_type: varchar, description: Подпись.}
  - name: numbers_view
    config: {materialized: view}
  - name: numbers_plain
"""

# with the var `fail` every model fails after the old relation was dropped (the rollback must
# bring it back): a table while its rows are written, a view when DuckDB binds it; `label`
# changes the rows
NUMBERS = """
select cast(n as integer) as n, '{{ var("label", "a") }}' as label
from range(3) as t(n)
where {{ 'error(\\'the model failed\\') is null' if var('fail', false) else 'true' }}
"""
NUMBERS_VIEW = NUMBERS.replace("error(\\'the model failed\\') is null", "no_such_column")


def _project(root: Path) -> Path:
    project = root / "lean"
    (project / "models").mkdir(parents=True)
    (project / "macros").mkdir()
    for macros in ("materializations.sql", "persist_docs.sql"):
        shutil.copy(DBT_PROJECT_DIR / "macros" / macros, project / "macros")
    (project / "dbt_project.yml").write_text(PROJECT, encoding="utf-8")
    db = root / "lean.duckdb"
    (project / "profiles.yml").write_text(PROFILE.replace("{db}", str(db)), encoding="utf-8")
    (project / "models" / "schema.yml").write_text(SCHEMA, encoding="utf-8")
    (project / "models" / "numbers.sql").write_text(NUMBERS, encoding="utf-8")
    (project / "models" / "numbers_plain.sql").write_text(NUMBERS, encoding="utf-8")
    (project / "models" / "numbers_view.sql").write_text(NUMBERS_VIEW, encoding="utf-8")
    return project


def _build(project: Path, **variables: object) -> tuple[bool, list[str]]:
    from dbt.cli.main import dbtRunner

    from orchestration.dbt_build import release_connections

    args = ["build", "--project-dir", str(project), "--profiles-dir", str(project), "--quiet"]
    # the statements in the file log, whatever DBT_LOG_* says
    args += ["--log-path", str(project / "logs"), "--log-level-file", "debug"]
    args += ["--log-format-file", "text"]
    args += ["--vars", json.dumps(variables)]
    try:
        result = dbtRunner().invoke(args)
    finally:
        release_connections()
    sql = []
    log = project / "logs" / "dbt.log"
    if log.exists():
        sql = log.read_text(encoding="utf-8").splitlines()
    return bool(result.success), sql


def _state(db: Path) -> dict:
    with duckdb.connect(str(db), read_only=True) as con:
        relations = con.execute(
            "select table_name, table_type from information_schema.tables "
            "where table_schema = 'main' order by 1"
        ).fetchall()
        rows = {
            name: con.execute(f"select * from {name} order by all").fetchall()
            for name, _ in relations
        }
        comments = con.execute(
            "select table_name, column_name, comment from duckdb_columns() "
            "where schema_name = 'main' and comment is not null order by all"
        ).fetchall()
        not_null = con.execute(
            "select table_name, column_name from duckdb_columns() "
            "where schema_name = 'main' and not is_nullable order by all"
        ).fetchall()
    return {"relations": relations, "rows": rows, "comments": comments, "not_null": not_null}


def test_relations_are_replaced_in_place_and_a_failed_rebuild_keeps_the_old_ones(
    tmp_path: Path,
) -> None:
    project = _project(tmp_path)
    db = tmp_path / "lean.duckdb"
    ok, _ = _build(project)
    assert ok
    first = _state(db)
    assert first["relations"] == [
        ("numbers", "BASE TABLE"),
        ("numbers_plain", "BASE TABLE"),
        ("numbers_view", "VIEW"),
    ]
    assert first["rows"]["numbers"] == [(0, "a"), (1, "a"), (2, "a")]
    assert ("numbers", "n", "Число.") in first["comments"]
    assert first["not_null"] == [("numbers", "n")]  # the contract's constraint

    ok, _ = _build(project, label="b")  # replaced: new rows, nothing left beside them
    assert ok
    second = _state(db)
    assert second["relations"] == first["relations"]
    assert second["rows"]["numbers"] == [(0, "b"), (1, "b"), (2, "b")]
    assert second["rows"]["numbers_view"] == second["rows"]["numbers"]
    assert second["comments"] == first["comments"] and second["not_null"] == first["not_null"]

    ok, _ = _build(project, label="c", fail=True)  # every model fails half-way
    assert not ok
    assert _state(db) == second  # the tables, the view, their rows and comments as they were

    # a model that changes from a view to a table (and back) replaces the other kind
    schema = project / "models" / "schema.yml"
    schema.write_text(
        SCHEMA.replace("config: {materialized: view}", "config: {materialized: table}"), "utf-8"
    )
    assert _build(project)[0]
    assert ("numbers_view", "BASE TABLE") in _state(db)["relations"]
    schema.write_text(SCHEMA, "utf-8")
    assert _build(project)[0]
    assert ("numbers_view", "VIEW") in _state(db)["relations"]


# the contracted model as SCHEMA has it, a label's comment with quotes and dollars; the others
# documented
DOCUMENTED = (
    SCHEMA.split("  - name: numbers_view")[0].replace(
        "description: Подпись.}", "description: \"Подпись: 'a' или $$b$$.\"}"
    )
    + """  - name: numbers_plain
    description: Числа без контракта.
    columns:
      - {name: label, description: Подпись.}
      - {name: gone, description: Столбца нет в модели.}
      - {name: Метка, description: Столбец в кавычках., quote: true}
  - name: numbers_view
    description: Представление.
    config: {materialized: view}
    columns:
      - {name: n, description: Число представления.}
"""
)


SEEDS = """
seeds:
  lean:
    +persist_docs: {relation: true, columns: true}
"""

DOCUMENTED_SEED = """
version: 2
seeds:
  - name: letters
    description: Буквы.
    columns:
      - {name: letter, description: Буква.}
"""


def test_comments_name_the_documented_columns_that_exist_in_one_statement(tmp_path: Path) -> None:
    project = _project(tmp_path)
    (project / "models" / "schema.yml").write_text(DOCUMENTED, encoding="utf-8")
    # a seed (no contract of its own) documented as the models are
    (project / "seeds").mkdir()
    (project / "seeds" / "letters.csv").write_text("letter\nа\nб\n", encoding="utf-8")
    (project / "seeds" / "schema.yml").write_text(DOCUMENTED_SEED, encoding="utf-8")
    with (project / "dbt_project.yml").open("a", encoding="utf-8") as fh:
        fh.write(SEEDS)
    (project / "models" / "numbers_plain.sql").write_text(
        NUMBERS.replace("as label", 'as label, 1 as "Метка"'), encoding="utf-8"
    )
    db = tmp_path / "lean.duckdb"
    ok, log = _build(project)
    assert ok  # a documented column the model does not have is no error (dbt warns of it)
    with duckdb.connect(str(db), read_only=True) as con:
        columns = con.execute(
            "select table_name, column_name, comment from duckdb_columns() "
            "where schema_name = 'main' and not internal order by all"
        ).fetchall()
        relations = con.execute(
            "select table_name, comment from duckdb_tables() where schema_name = 'main' "
            "union all select view_name, comment from duckdb_views() "
            "where schema_name = 'main' and not internal "
            "order by all"
        ).fetchall()
    assert relations == [
        ("letters", "Буквы."),
        ("numbers", "Числа."),
        ("numbers_plain", "Числа без контракта."),
        ("numbers_view", "Представление."),
    ]
    assert columns == [
        ("letters", "letter", "Буква."),
        ("numbers", "label", "Подпись: 'a' или $$b$$."),
        ("numbers", "n", "Число."),
        ("numbers_plain", "label", "Подпись."),
        ("numbers_plain", "n", None),
        ("numbers_plain", "Метка", "Столбец в кавычках."),
        ("numbers_view", "label", None),
        ("numbers_view", "n", "Число представления."),
    ]
    text = "\n".join(log)
    # a model with an enforced contract is not looked at again for its columns; another once
    looks = [line for line in log if "from (describe" in line.lower()]
    assert looks and not any('"numbers")' in line for line in looks)
    assert sum('"numbers_plain")' in line for line in looks) == 1
    # the relation's comment and its columns' in one statement (before dbt says it ran)
    after = text.split('comment on table "lean"."main"."numbers_plain"')[1]
    statement = after.split("SQL status")[0]
    assert 'comment on column "lean"."main"."numbers_plain".label' in statement
    assert 'comment on column "lean"."main"."numbers_plain"."Метка"' in statement
    assert "gone" not in statement
