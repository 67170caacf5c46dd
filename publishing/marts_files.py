"""Every public mart as files, for readers without a database: ``publications/<Y>/marts/v<N>/``.

- ``<mart>.csv``: UTF-8 with BOM, ``;``, a header of the warehouse column names, rows sorted by the
  primary key (the same marts give the same bytes);
- ``<mart>.parquet``: the same rows with their types;
- ``datapackage.json``: a Frictionless Data package (https://specs.frictionlessdata.io/) of the CSV
  files: for each mart its fields with types, the dbt descriptions (English with the Russian term),
  required fields, the primary key, the file's size and SHA-256;
- small-number protection (publishing/small_numbers.py): a figure about fewer than
  ``EDUQ_SMALL_NUMBER_MIN`` pupils is empty in Parquet and «<5» in CSV (a missing value of the
  datapackage), a text says «скрыто: менее 5 участников», the row's ``is_small_number_suppressed``
  is true;
- ``manifest.json``: the audited build, the checks, row counts and hashes of every file, what
  changed against the previous version, software versions.

Gated and versioned like the list (publishing/publish.py): only from a serving warehouse that
carries a passed audit, under the latest list year ``Y`` of the warehouse; a version is written in a
staging folder and renamed to ``v<N>`` (never overwritten, files read-only); when every CSV is
byte-identical to the latest version's, nothing new is published (``unchanged``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from core.files import dumps_json, folder_lock, fsync_dir
from core.settings import Settings
from gate.publishable import computed_list_years
from publishing.cells import neutralise_csv
from publishing.errors import PublicationRefused, VersionConflict
from publishing.mart_catalog import PUBLIC_SCHEMA, Mart
from publishing.publish import (
    list_dir,
    require_audited,
    software_versions,
    version_numbers,
)
from publishing.small_numbers import (
    SERVING_CATALOG,
    Protection,
    csv_schema,
    mark_csv,
    number_mark,
    open_published,
    read_published_marts,
)

BATCH_ROWS = 100_000
DATAPACKAGE = "datapackage.json"
MANIFEST = "manifest.json"
CSV_DIALECT = {"delimiter": ";", "quoteChar": '"', "header": True}

# DuckDB type -> Frictionless field type
FIELD_TYPES = {
    "VARCHAR": "string",
    "BOOLEAN": "boolean",
    "TINYINT": "integer",
    "SMALLINT": "integer",
    "INTEGER": "integer",
    "BIGINT": "integer",
    "HUGEINT": "integer",
    "UTINYINT": "integer",
    "USMALLINT": "integer",
    "UINTEGER": "integer",
    "UBIGINT": "integer",
    "FLOAT": "number",
    "DOUBLE": "number",
    "DATE": "date",
    "TIME": "time",
    "TIMESTAMP": "datetime",
    "TIMESTAMP WITH TIME ZONE": "datetime",
}


@dataclass
class MartsFilesResult:
    status: str  # published | unchanged | skipped
    list_year: int
    version: int = 0
    directory: Path | None = None
    rows: dict[str, int] = field(default_factory=dict)
    changed: list[str] = field(default_factory=list)
    build_id: str = ""
    message: str = ""

    def render(self) -> str:
        if self.status == "skipped":
            return f"Marts files {self.list_year}: not published ({self.message})"
        if self.status == "unchanged":
            return (
                f"Marts files {self.list_year}: unchanged since v{self.version}, nothing new "
                f"published\n  {self.directory}"
            )
        return (
            f"Marts files {self.list_year}: published v{self.version}, {len(self.rows)} marts, "
            f"{sum(self.rows.values())} rows\n  {self.directory}"
        )


def marts_dir(settings: Settings, list_year: int) -> Path:
    return list_dir(settings, list_year) / "marts"


def field_type(duckdb_type: str) -> str:
    if duckdb_type.startswith("DECIMAL"):
        return "number"
    return FIELD_TYPES.get(duckdb_type, "string")


def _order_by(mart: Mart) -> str:
    keys = mart.primary_key or tuple(mart.column_names)
    return ", ".join(f'"{k}"' for k in keys)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def write_mart_files(
    con: duckdb.DuckDBPyConnection,
    mart: Mart,
    folder: Path,
    protection: Protection | None = None,
    min_n: int = 5,
) -> dict:
    """``<mart>.csv`` and ``<mart>.parquet`` in ``folder``; returns rows, sizes and hashes. ``con``
    is a published connection (the rule already applied); ``protection`` marks the CSV's cells."""
    columns = ", ".join(f'"{c}"' for c in mart.column_names)
    relation = con.sql(
        f'select {columns} from {PUBLIC_SCHEMA}."{mart.name}" order by {_order_by(mart)}'
    )
    reader = relation.to_arrow_reader(BATCH_ROWS)
    csv_path, parquet_path = folder / f"{mart.name}.csv", folder / f"{mart.name}.parquet"
    rows = 0
    with open(csv_path, "wb") as out:
        out.write("\ufeff".encode())
        with (
            pacsv.CSVWriter(
                out,
                csv_schema(reader.schema, protection),
                write_options=pacsv.WriteOptions(delimiter=";"),
            ) as csv,
            pq.ParquetWriter(parquet_path, reader.schema) as parquet,
        ):
            for batch in reader:
                # «<5» in suppressed cells; CSV injection neutralised (publishing/cells.py)
                csv.write_batch(mark_csv(neutralise_csv(batch), protection, min_n))
                parquet.write_batch(batch)
                rows += batch.num_rows
    return {
        "rows": rows,
        "csv": {
            "name": csv_path.name,
            "bytes": csv_path.stat().st_size,
            "sha256": _sha256(csv_path),
        },
        "parquet": {
            "name": parquet_path.name,
            "bytes": parquet_path.stat().st_size,
            "sha256": _sha256(parquet_path),
        },
    }


def write_marts(
    con: duckdb.DuckDBPyConnection,
    marts: Sequence[Mart],
    folder: Path,
    protections: Mapping[str, Protection],
    min_n: int,
    workers: int,
) -> dict[str, dict]:
    """:func:`write_mart_files` for every mart, up to ``workers`` at once (each on a cursor of
    ``con``, made here: the published views are in its in-memory catalog, which cursors share); by
    mart name in the order of ``marts``. A mart's files depend on that mart only, so they are the
    bytes of writing one after the other; the marts with the most rows start first (a country's 22
    marts: 4.3-5.3 s one after the other, 2.4 s two at a time). A mart that fails stops the marts
    not started yet; the error is raised once the ones under way have finished."""
    if workers <= 1 or len(marts) <= 1:
        return {
            mart.name: write_mart_files(con, mart, folder, protections.get(mart.name), min_n)
            for mart in marts
        }
    rows = dict(
        con.execute(
            "select table_name, estimated_size from duckdb_tables() "
            f"where database_name = '{SERVING_CATALOG}' and schema_name = '{PUBLIC_SCHEMA}'"
        ).fetchall()
    )
    most_rows_first = sorted(marts, key=lambda mart: -(rows.get(mart.name) or 0))
    cursors = [con.cursor() for _ in most_rows_first]
    try:
        with ThreadPoolExecutor(min(workers, len(marts)), thread_name_prefix="eduq-marts") as pool:
            futures = {
                mart.name: pool.submit(
                    write_mart_files, cursor, mart, folder, protections.get(mart.name), min_n
                )
                for mart, cursor in zip(most_rows_first, cursors, strict=True)
            }
            try:
                written = {name: future.result() for name, future in futures.items()}
            except BaseException:
                pool.shutdown(wait=True, cancel_futures=True)
                raise
    finally:
        for cursor in cursors:
            cursor.close()
    return {mart.name: written[mart.name] for mart in marts}


def datapackage(
    marts: list[Mart],
    files: dict[str, dict],
    info: dict,
    protections: dict[str, Protection] | None = None,
) -> dict:
    """The Frictionless Data package of the CSV files."""
    protections = protections or {}
    min_n = int(info.get("small_number_min", 5))
    resources = []
    for mart in marts:
        protection = protections.get(mart.name)
        fields = []
        for column in mart.columns:
            spec = {"name": column.name, "type": field_type(column.data_type)}
            if column.description:  # a protected column's says when it is hidden (small_numbers.py)
                spec["description"] = column.description
            if spec["type"] == "boolean":
                spec |= {"trueValues": ["true"], "falseValues": ["false"]}
            if spec["type"] == "datetime":
                spec["format"] = "any"
            if not column.nullable:
                spec["constraints"] = {"required": True}
            fields.append(spec)
        missing = [""] if protection is None else ["", number_mark(min_n)]
        schema: dict = {"fields": fields, "missingValues": missing}
        if mart.primary_key:
            schema["primaryKey"] = list(mart.primary_key)
        csv = files[mart.name]["csv"]
        resources.append(
            {
                "name": mart.name,
                "path": csv["name"],
                "profile": "tabular-data-resource",
                "title": mart.name,
                "description": mart.description,
                "format": "csv",
                "mediatype": "text/csv",
                "encoding": "utf-8-sig",
                "dialect": CSV_DIALECT,
                "bytes": csv["bytes"],
                "hash": f"sha256:{csv['sha256']}",
                "schema": schema,
            }
        )
    return {
        "profile": "tabular-data-package",
        "name": f"eduq-marts-{info['list_year']}",
        "title": f"Витрины хранилища качества образования: список {info['list_year']} года, "
        f"версия {info['version']}",
        "description": "Все публичные витрины (схема marts) проверенной сборки хранилища: ШНОР, "
        "кластеры ФИОКО, ИСБШ и зона риска, дефициты, рисковые профили, динамика. Каждая витрина — "
        "CSV (UTF-8 с BOM, разделитель «;») и Parquet с теми же строками. Защита малых чисел: "
        f"значения о группах менее чем из {min_n} обучающихся скрыты («{number_mark(min_n)}» в CSV, "
        "пусто в Parquet), в строке is_small_number_suppressed = true. Сборка: "
        f"{info['build_id']}; методика: {info['profile']}.",
        "version": str(info["version"]),
        "created": info["created_at"],
        "resources": resources,
    }


def _previous_hashes(folder: Path, version: int) -> dict[str, str]:
    manifest = json.loads((folder / f"v{version}" / MANIFEST).read_text(encoding="utf-8"))
    return {name: m["csv"]["sha256"] for name, m in manifest["marts"].items()}


def publish_marts_files(settings: Settings, list_year: int, manifest: Path) -> MartsFilesResult:
    """Publish every public mart of the serving warehouse under ``list_year`` (see the module
    docstring). ``manifest`` is the dbt manifest that describes the marts."""
    serving = settings.serving_db
    if not serving.exists():
        raise PublicationRefused(
            f"no serving warehouse at {serving}: run `eduq run` first. Nothing was published."
        )
    folder = marts_dir(settings, list_year)
    min_n = settings.small_number_min
    # a damaged file is refused (gate/publishable.py); small figures are suppressed (small_numbers.py)
    with open_published(serving, min_n, settings) as con:
        audit = require_audited(con, serving)
        years = computed_list_years(con)
        if not years or list_year != max(years):
            latest = max(years) if years else None
            return MartsFilesResult(
                "skipped",
                list_year,
                build_id=audit.build_id,
                message=f"the marts are published under the latest list year ({latest}) only",
            )
        published = read_published_marts(con, manifest)
        marts = [mart for mart, _ in published]
        protections = {mart.name: p for mart, p in published if p is not None}
        with folder_lock(folder):
            existing = version_numbers(folder)
            version = (existing[-1] if existing else 0) + 1
            target = folder / f"v{version}"
            if target.exists():
                raise VersionConflict(
                    f"{target} exists without a manifest (an interrupted publication?); published "
                    "versions are never overwritten: move it aside and publish again."
                )
            staging = folder / f".{target.name}.staging-{os.getpid()}"
            shutil.rmtree(staging, ignore_errors=True)
            staging.mkdir(parents=True)
            try:
                files = write_marts(
                    con, marts, staging, protections, min_n, settings.duckdb_threads
                )
                hashes = {name: f["csv"]["sha256"] for name, f in files.items()}
                previous = _previous_hashes(folder, existing[-1]) if existing else {}
                if existing and previous == hashes:
                    shutil.rmtree(staging)
                    return MartsFilesResult(
                        "unchanged",
                        list_year,
                        existing[-1],
                        folder / f"v{existing[-1]}",
                        {n: f["rows"] for n, f in files.items()},
                        build_id=audit.build_id,
                    )
                changed = sorted(
                    n for n in set(hashes) | set(previous) if hashes.get(n) != previous.get(n)
                )
                created = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()
                info = {
                    "list_year": list_year,
                    "version": version,
                    "build_id": audit.build_id,
                    "profile": audit.methodology_profile,
                    "created_at": created,
                    "small_number_min": min_n,
                }
                package = datapackage(marts, files, info, protections)
                record = {
                    "data_set": "Публичные витрины хранилища (схема marts)",
                    "list_year": list_year,
                    "version": version,
                    "previous_version": existing[-1] if existing else None,
                    "created_at": created,
                    "warehouse": {
                        "build_id": audit.build_id,
                        "candidate_sha256": audit.candidate_sha256,
                        "methodology_profile": audit.methodology_profile,
                        "audited_at": str(audit.audited_at),
                        "promoted_at": str(audit.promoted_at),
                    },
                    "checks": {
                        "passed": audit.passed,
                        "summary": audit.record.get("summary", {}),
                    },
                    "marts": files,
                    "small_number_protection": {
                        "min_pupils": min_n,
                        "protected_columns": {
                            name: dict(p.columns) for name, p in sorted(protections.items())
                        },
                    },
                    "changed_since_previous": changed if existing else None,
                    "software": software_versions(),
                }
                for name, data in ((DATAPACKAGE, package), (MANIFEST, record)):
                    (staging / name).write_text(dumps_json(data), encoding="utf-8")
                for path in staging.iterdir():
                    with open(path, "rb") as fh:
                        os.fsync(fh.fileno())
                    path.chmod(0o444)
                fsync_dir(staging)
                os.rename(staging, target)  # under the folder lock; `target` was checked absent
            except BaseException:
                shutil.rmtree(staging, ignore_errors=True)
                raise
            fsync_dir(folder)
    return MartsFilesResult(
        "published",
        list_year,
        version,
        target,
        {n: f["rows"] for n, f in files.items()},
        changed,
        audit.build_id,
    )
