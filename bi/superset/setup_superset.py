"""Set up eduq's Superset: the admin user, the marts' databases, and the datasets, charts and
dashboard of bi/superset/assets/ (Superset's own export format, YAML).

Run by scripts/superset.sh with the Python of Superset's virtual environment, after
``superset db upgrade`` and ``superset init``:

    python setup_superset.py --assets bi/superset/assets --pg-url postgresql://eduq_bi:…@127.0.0.1:5433/eduq \
        --admin-password-file $EDUQ_HOME/superset/admin_password [--duckdb $EDUQ_HOME/warehouse/serving.duckdb]

- the PostgreSQL marts are registered with the read-only login given (the URI in the asset file is a
  placeholder);
- the serving DuckDB file is registered read-only (``{"connect_args": {"read_only": true}}``, no
  access to other files) when this environment's DuckDB 1.x can open it; a DuckDB 2.0 file is
  skipped with a message;
- every chart gets the query context Superset builds from its form data, so that its data can be
  read through the API (``GET /api/v1/chart/<id>/data/``);
- running it again updates everything in place (same UUIDs).
"""

from __future__ import annotations

import argparse
import json
import sys
import uuid
from pathlib import Path

import yaml

ADMIN = "admin"
DUCKDB_UUID = "6f1f2a0e-7d0b-5d0e-9a55-0c8f3b1e2d40"
DUCKDB_NAME = "eduq — хранилище (DuckDB, только чтение)"


def read_assets(folder: Path, pg_url: str) -> dict[str, str]:
    """file name inside the bundle -> YAML text, with the real PostgreSQL URI."""
    contents = {}
    for path in sorted(folder.rglob("*.yaml")):
        name = path.relative_to(folder).as_posix()
        text = path.read_text(encoding="utf-8")
        if name.startswith("databases/"):
            config = yaml.safe_load(text)
            config["sqlalchemy_uri"] = pg_url.replace("postgresql://", "postgresql+psycopg2://", 1)
            text = yaml.safe_dump(config, allow_unicode=True, sort_keys=False)
        contents[name] = text
    return contents


def ensure_admin(security_manager, password: str):
    user = security_manager.find_user(username=ADMIN)
    role = security_manager.find_role("Admin")
    if user is None:
        user = security_manager.add_user(
            ADMIN, "eduq", "admin", "admin@localhost", role, password=password
        )
        if not user:
            sys.exit("could not create the Superset admin user")
    else:
        security_manager.reset_password(user.id, password)
    return user


def duckdb_readable(path: Path) -> str:
    """'' when this environment's DuckDB opens ``path`` read-only, else why not."""
    import duckdb

    try:
        with duckdb.connect(str(path), read_only=True) as con:
            con.execute("select count(*) from information_schema.tables").fetchone()
    except duckdb.Error as exc:
        return f"DuckDB {duckdb.__version__} cannot open it: {str(exc).splitlines()[0]}"
    return ""


def register_duckdb(db, Database, path: Path) -> None:
    extra = {
        "engine_params": {
            "connect_args": {"read_only": True, "config": {"enable_external_access": False}}
        },
        "allows_virtual_table_explore": True,
    }
    database = db.session.query(Database).filter_by(uuid=uuid.UUID(DUCKDB_UUID)).one_or_none()
    if database is None:
        database = Database(uuid=uuid.UUID(DUCKDB_UUID), database_name=DUCKDB_NAME)
        db.session.add(database)
    database.set_sqlalchemy_uri(f"duckdb:///{path}")
    database.extra = json.dumps(extra)
    database.expose_in_sqllab = True
    database.allow_dml = False
    database.allow_ctas = False
    database.allow_cvas = False
    database.allow_file_upload = False


def save_query_contexts(db, Slice, chart_uuids: list[str]) -> None:
    from superset.migrations.shared.migrate_viz.query_functions import build_query_context

    for value in chart_uuids:
        chart = db.session.query(Slice).filter_by(uuid=uuid.UUID(value)).one()
        form_data = json.loads(chart.params)
        form_data["datasource"] = f"{chart.datasource_id}__{chart.datasource_type}"
        form_data["slice_id"] = chart.id
        chart.params = json.dumps(form_data, ensure_ascii=False)
        context = build_query_context(form_data)
        axis = form_data.get("x_axis")
        if axis:  # a category axis (not time): the front end groups by it first
            for query in context["queries"]:
                if axis not in query["columns"]:
                    query["columns"].insert(
                        0,
                        {
                            "columnType": "BASE_AXIS",
                            "sqlExpression": axis,
                            "label": axis,
                            "expressionType": "SQL",
                        },
                    )
        chart.query_context = json.dumps(context, ensure_ascii=False)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assets", type=Path, required=True)
    parser.add_argument("--pg-url", required=True)
    parser.add_argument("--admin-password-file", type=Path, required=True)
    parser.add_argument("--duckdb", type=Path)
    args = parser.parse_args()

    from flask import g
    from superset.app import create_app

    app = create_app()
    with app.app_context(), app.test_request_context():
        from superset import db, security_manager
        from superset.commands.importers.v1.assets import ImportAssetsCommand
        from superset.models.core import Database
        from superset.models.slice import Slice

        g.user = ensure_admin(security_manager, args.admin_password_file.read_text().strip())
        db.session.commit()
        contents = read_assets(args.assets, args.pg_url)
        ImportAssetsCommand(contents).run()
        charts = [
            yaml.safe_load(text)["uuid"]
            for name, text in contents.items()
            if name.startswith("charts/")
        ]
        save_query_contexts(db, Slice, charts)
        message = "the serving DuckDB file: not registered (none given)"
        if args.duckdb:
            why = duckdb_readable(args.duckdb) if args.duckdb.exists() else "it does not exist"
            if why:
                message = f"the serving DuckDB file {args.duckdb}: not registered ({why})"
            else:
                register_duckdb(db, Database, args.duckdb)
                message = f"the serving DuckDB file {args.duckdb}: registered read-only"
        db.session.commit()
    datasets = sum(1 for name in contents if name.startswith("datasets/"))
    print(
        f"Superset: PostgreSQL marts registered; {datasets} datasets, {len(charts)} charts and the "
        f"dashboard imported; {message}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
