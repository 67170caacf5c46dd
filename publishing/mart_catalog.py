"""The public marts as their readers see them: every table of the schema ``marts`` of a warehouse,
its columns and types (from the warehouse), its description, column descriptions and primary key
(from the dbt manifest, i.e. the model's .yml).

The list of marts is read from the warehouse, never written down here: a mart added to the dbt
project is published to PostgreSQL, Parquet and the documentation by the next build.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import duckdb

from core.dbt_manifest import read_manifest
from publishing.errors import PublishingError

PUBLIC_SCHEMA = "marts"


class ManifestMissing(PublishingError):
    """The dbt manifest that describes the marts is missing or unreadable."""


@dataclass(frozen=True)
class MartColumn:
    name: str
    data_type: str  # DuckDB's name of the type, e.g. VARCHAR, BIGINT, DECIMAL(18,3)
    nullable: bool
    description: str


@dataclass(frozen=True)
class Mart:
    name: str
    description: str
    columns: tuple[MartColumn, ...]
    primary_key: tuple[str, ...]

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]


@dataclass(frozen=True)
class ModelDocs:
    description: str
    columns: dict[str, str]
    primary_key: tuple[str, ...]


def _clean(text: str | None) -> str:
    return re.sub(r"\s+", " ", text or "").strip()


def read_manifest_docs(manifest: Path) -> dict[str, ModelDocs]:
    """Descriptions and primary keys of the dbt models of the schema ``marts``, by model name.

    The primary key is the key of the model's ``unique_combination_of_columns`` test (in its
    order), else the one dbt infers (``unique`` + ``not_null`` tests or constraints).
    """
    try:  # under the shared lock of its target folder: a parse may be rewriting it (core/dbt_manifest.py)
        data = read_manifest(Path(manifest))
    except (OSError, json.JSONDecodeError) as exc:
        raise ManifestMissing(
            f"cannot read the dbt manifest {manifest} ({exc}); it describes the marts. Build the "
            "warehouse (`eduq run`) or parse the dbt project (`cd dbt_project && dbt parse`)."
        ) from exc
    nodes = data.get("nodes", {})
    keys: dict[str, tuple[str, ...]] = {}
    for node in nodes.values():
        meta = node.get("test_metadata") or {}
        if (
            node.get("resource_type") == "test"
            and meta.get("name") == "unique_combination_of_columns"
        ):
            columns = meta.get("kwargs", {}).get("combination_of_columns")
            if node.get("attached_node") and columns:
                keys.setdefault(node["attached_node"], tuple(columns))
    out = {}
    for unique_id, node in nodes.items():
        if node.get("resource_type") != "model" or node.get("schema") != PUBLIC_SCHEMA:
            continue
        out[node.get("alias") or node["name"]] = ModelDocs(
            description=_clean(node.get("description")),
            columns={
                name: _clean(column.get("description"))
                for name, column in node.get("columns", {}).items()
            },
            primary_key=keys.get(unique_id) or tuple(node.get("primary_key") or ()),
        )
    return out


def public_mart_names(con: duckdb.DuckDBPyConnection, database: str | None = None) -> list[str]:
    """The tables of the schema ``marts`` of the connected warehouse (or of the attached
    ``database``), by name."""
    return [
        r[0]
        for r in con.execute(
            """select table_name from duckdb_tables()
               where schema_name = ? and database_name = coalesce(?, current_database())
               order by table_name""",
            [PUBLIC_SCHEMA, database],
        ).fetchall()
    ]


def read_marts(
    con: duckdb.DuckDBPyConnection, manifest: Path, database: str | None = None
) -> list[Mart]:
    """Every public mart of the connected warehouse (or of the attached ``database``) with its
    columns, descriptions and key."""
    docs = read_manifest_docs(manifest)
    rows = con.execute(
        """select table_name, column_name, data_type, is_nullable
           from duckdb_columns()
           where schema_name = ? and database_name = coalesce(?, current_database())
           order by table_name, column_index""",
        [PUBLIC_SCHEMA, database],
    ).fetchall()
    columns: dict[str, list[tuple[str, str, bool]]] = {}
    for table, column, data_type, nullable in rows:
        columns.setdefault(table, []).append((column, data_type, bool(nullable)))
    marts = []
    for name in public_mart_names(con, database):
        doc = docs.get(name, ModelDocs("", {}, ()))
        marts.append(
            Mart(
                name=name,
                description=doc.description,
                columns=tuple(
                    MartColumn(c, t, n and c not in doc.primary_key, doc.columns.get(c, ""))
                    for c, t, n in columns.get(name, [])
                ),
                primary_key=tuple(
                    k for k in doc.primary_key if k in {c for c, _, _ in columns[name]}
                ),
            )
        )
    return marts


def undocumented(marts: list[Mart]) -> list[str]:
    """What a reader would find undescribed: ``mart`` (no description, no primary key) or
    ``mart.column`` (no description)."""
    out = []
    for mart in marts:
        if not mart.description:
            out.append(f"{mart.name}: no description")
        if not mart.primary_key:
            out.append(f"{mart.name}: no primary key (a unique_combination_of_columns test)")
        out += [f"{mart.name}.{c.name}: no description" for c in mart.columns if not c.description]
    return out
