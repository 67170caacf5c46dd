"""Publication of the yearly ШНОР list from the serving warehouse, versioned and never overwritten.

``publications/<list_year>/v<N>/`` holds:

- ``shnor_list_<year>.xlsx`` — the document, formatted for print;
- ``shnor_list_<year>.csv`` (UTF-8 with BOM, ``;``) and ``.parquet`` — the same list with every column;
- ``diff_v<N-1>_v<N>.csv`` — from v2 on: schools added, removed, cluster changed against v<N-1>;
- ``manifest.json`` — input files with hashes, row counts, methodology profile and version, check
  results, software versions, created_at, the audited build the list comes from.

The gate: nothing is published unless the serving warehouse carries a passed audit record
(embedded by promotion). A list identical to the latest version (same CSV bytes, i.e. same
schools, clusters, reasons and profile) is not published again: the result is ``unchanged``.
"""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import io
import platform
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from core import duck
from core.files import dumps_json, folder_lock, sha256_bytes, write_version_folder
from core.settings import Settings
from gate.publishable import require_audited, require_publishable
from publishing.cells import neutralise_csv
from publishing.errors import PublicationRefused, VersionConflict
from publishing.shnor_list import (
    CLUSTER,
    LIST_COLUMNS,
    SCHOOL_ID,
    count_by_cluster,
    list_profile,
    published_table,
    read_list,
)
from publishing.small_numbers import open_published
from publishing.xlsx import DocumentInfo, render_xlsx

VERSION_DIR = re.compile(r"^v(\d+)$")
SOFTWARE = (
    "eduq",
    "dagster",
    "dagster-dbt",
    "dbt-core",
    "dbt-duckdb",
    "duckdb",
    "great-expectations",
    "pandas",
    "pyarrow",
    "openpyxl",
)
DIFF_COLUMNS = (
    "Изменение",
    SCHOOL_ID,
    LIST_COLUMNS["school_name"],
    LIST_COLUMNS["municipality_name"],
    "Кластер (было)",
    "Кластер (стало)",
)
ADDED, REMOVED, CHANGED = "добавлена", "исключена", "изменён кластер"


@dataclass
class PublicationResult:
    list_year: int
    status: str  # published | unchanged
    version: int
    directory: Path
    rows: int
    by_cluster: dict[str, int]
    files: tuple[Path, ...] = ()
    diff: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    build_id: str = ""

    def render(self) -> str:
        clusters = ", ".join(f"{k}: {v}" for k, v in self.by_cluster.items())
        if self.status == "unchanged":
            head = (
                f"ШНОР list {self.list_year}: unchanged since v{self.version} ({self.rows} schools); "
                f"nothing new published"
            )
        else:
            head = f"ШНОР list {self.list_year}: published v{self.version}, {self.rows} schools ({clusters})"
            if self.diff:
                head += (
                    f"; against v{self.version - 1}: {self.diff.get('added', 0)} added, "
                    f"{self.diff.get('removed', 0)} removed, {self.diff.get('cluster_changed', 0)} cluster changed"
                )
        lines = [head, f"  in {self.directory}"]
        lines += [f"  warning: {w}" for w in self.warnings]
        return "\n".join(lines)


def list_dir(settings: Settings, list_year: int) -> Path:
    return settings.publications_dir / str(list_year)


def versions(settings: Settings, list_year: int) -> list[int]:
    """Published versions of a year's list (folders v<N> with a manifest), ascending."""
    return version_numbers(list_dir(settings, list_year))


def version_numbers(folder: Path) -> list[int]:
    """Published versions in ``folder`` (sub-folders v<N> with a manifest), ascending."""
    if not folder.exists():
        return []
    found = []
    for child in folder.iterdir():
        match = VERSION_DIR.match(child.name)
        if match and child.is_dir() and (child / "manifest.json").exists():
            found.append(int(match.group(1)))
    return sorted(found)


def file_names(list_year: int) -> dict[str, str]:
    stem = f"shnor_list_{list_year}"
    return {"xlsx": f"{stem}.xlsx", "csv": f"{stem}.csv", "parquet": f"{stem}.parquet"}


def render_csv(published: pa.Table) -> bytes:
    buffer = io.BytesIO()
    buffer.write("\ufeff".encode())
    # a text beginning with = + - @ gets an apostrophe (CSV injection; publishing/cells.py)
    pacsv.write_csv(neutralise_csv(published), buffer, pacsv.WriteOptions(delimiter=";"))
    return buffer.getvalue()


def render_parquet(published: pa.Table) -> bytes:
    buffer = io.BytesIO()
    pq.write_table(published, buffer)
    return buffer.getvalue()


def render_list_files(table: pa.Table, info: DocumentInfo) -> dict[str, bytes]:
    """The list files of one version as bytes (deterministic: same list and info give same bytes)."""
    published = published_table(table)
    names = file_names(info.list_year)
    return {
        names["xlsx"]: render_xlsx(table, info),
        names["csv"]: render_csv(published),
        names["parquet"]: render_parquet(published),
    }


def compute_diff(previous: pa.Table, current: pa.Table) -> pa.Table:
    """Schools added, removed or with a changed cluster (published tables, Russian headers)."""

    def rows(t: pa.Table) -> dict[str, dict[str, Any]]:
        return {r[SCHOOL_ID]: r for r in t.to_pylist()}

    old, new = rows(previous), rows(current)
    out = []
    for school in sorted(set(old) | set(new)):
        before, after = old.get(school), new.get(school)
        if before is None:
            change = ADDED
        elif after is None:
            change = REMOVED
        elif before[CLUSTER] != after[CLUSTER]:
            change = CHANGED
        else:
            continue
        ref = after or before
        out.append(
            {
                DIFF_COLUMNS[0]: change,
                DIFF_COLUMNS[1]: school,
                DIFF_COLUMNS[2]: ref[LIST_COLUMNS["school_name"]],
                DIFF_COLUMNS[3]: ref[LIST_COLUMNS["municipality_name"]],
                DIFF_COLUMNS[4]: before[CLUSTER] if before else None,
                DIFF_COLUMNS[5]: after[CLUSTER] if after else None,
            }
        )
    order = {ADDED: 0, REMOVED: 1, CHANGED: 2}
    out.sort(key=lambda r: (order[r[DIFF_COLUMNS[0]]], r[DIFF_COLUMNS[1]]))
    schema = pa.schema([(c, pa.string()) for c in DIFF_COLUMNS])
    return pa.Table.from_pylist(out, schema=schema)


def diff_counts(diff: pa.Table) -> dict[str, int]:
    changes = diff.column(DIFF_COLUMNS[0]).to_pylist()
    return {
        "added": changes.count(ADDED),
        "removed": changes.count(REMOVED),
        "cluster_changed": changes.count(CHANGED),
    }


def software_versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in SOFTWARE:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def _load_log_columns(con: duckdb.DuckDBPyConnection) -> set[str]:
    """The columns of the serving file's meta.load_log (a file promoted by an older eduq has fewer)."""
    return {r[0] for r in con.execute("select * from meta.load_log limit 0").description or ()}


def _manifest_entry(keys: tuple[str, ...], values) -> dict[str, Any]:
    """A load-log line as a manifest names it (times as text)."""
    return dict(zip(keys, (str(v) if isinstance(v, dt.datetime) else v for v in values)))


def input_files(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """Every load-log line whose rows are in the warehouse: the delivered files, and the rows of
    earlier files released from quarantine once their school code was known (those name the file
    they came from: ``released_from_file_id``, ingestion.release)."""
    # (a serving file promoted before releases existed has no such column: none released)
    released = (
        "released_from_file_id" if "released_from_file_id" in _load_log_columns(con) else "null"
    )
    rows = con.execute(
        f"""select file_id, source, file_name, file_hash, size_bytes, rows_read, rows_loaded,
                   rows_quarantined, years, loaded_at, {released}
            from meta.load_log where status in ('loaded', 'released') order by file_id"""
    ).fetchall()
    keys = (
        "file_id",
        "source",
        "file_name",
        "sha256",
        "size_bytes",
        "rows_read",
        "rows_loaded",
        "rows_quarantined",
        "years",
        "loaded_at",
    )
    files = []
    for *values, released_from in rows:
        entry = _manifest_entry(keys, values)
        if released_from is not None:
            entry["released_from_file_id"] = released_from
        files.append(entry)
    return files


def withdrawn_files(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """The delivered files withdrawn before this build (`eduq withdraw`): not among the inputs,
    named with when and why (a serving file promoted before withdrawals existed has none)."""
    if "withdrawn_reason" not in _load_log_columns(con):
        return []
    rows = con.execute(
        """select file_id, source, file_name, file_hash, years, withdrawn_at, withdrawn_reason
           from meta.load_log where status = 'withdrawn' and released_from_file_id is null
           order by file_id"""
    ).fetchall()
    keys = ("file_id", "source", "file_name", "sha256", "years", "withdrawn_at", "reason")
    return [_manifest_entry(keys, row) for row in rows]


def published_unchanged(settings: Settings, list_year: int) -> int | None:
    """The version of ``list_year`` whose list is exactly what the serving warehouse holds now (the
    same CSV bytes publish_list would write), or None when a publication would make a new version."""
    existing = versions(settings, list_year)
    if not existing or not settings.serving_db.exists():
        return None
    with duck.connect(settings.serving_db, settings, read_only=True) as con:
        csv_bytes = render_csv(published_table(read_list(con, list_year)))
    latest = list_dir(settings, list_year) / f"v{existing[-1]}" / file_names(list_year)["csv"]
    return existing[-1] if latest.read_bytes() == csv_bytes else None


def publish_list(settings: Settings, list_year: int) -> PublicationResult:
    """Publish the ШНОР list of ``list_year`` from the serving warehouse (see the module docstring)."""
    serving = settings.serving_db
    if not serving.exists():
        raise PublicationRefused(
            f"no serving warehouse at {serving}: run `eduq run` first. Nothing was published."
        )
    # a damaged file is refused (gate/publishable.py); the list shows no figure about fewer than
    # EDUQ_SMALL_NUMBER_MIN pupils (publishing/small_numbers.py: the profile's min_participants)
    with open_published(serving, settings.small_number_min, settings) as con:
        audit = require_audited(con, serving)
        require_publishable(con, list_year)
        table = read_list(con, list_year)
        profile = list_profile(con, list_year)
        inputs = input_files(con)
        withdrawn = withdrawn_files(con)
    by_cluster = count_by_cluster(table)
    warnings = [
        f"{c['key']} [{c['asset']}]: {c['message']}"
        for c in audit.record.get("checks", [])
        if c["level"] == "warning" and c["status"] in ("failed", "error", "not_run")
    ]
    folder = list_dir(settings, list_year)
    with folder_lock(folder):
        existing = versions(settings, list_year)
        published = published_table(table)
        csv_bytes = render_csv(published)
        if existing:
            latest = folder / f"v{existing[-1]}"
            if (latest / file_names(list_year)["csv"]).read_bytes() == csv_bytes:
                return PublicationResult(
                    list_year,
                    "unchanged",
                    existing[-1],
                    latest,
                    table.num_rows,
                    by_cluster,
                    warnings=warnings,
                    build_id=audit.build_id,
                )
        version = (existing[-1] if existing else 0) + 1
        target = folder / f"v{version}"
        if target.exists():
            raise VersionConflict(
                f"{target} exists without a manifest (an interrupted publication?); published "
                "versions are never overwritten: move it aside and publish again."
            )
        results_years = sorted(set(table.column("results_year").to_pylist()))
        info = DocumentInfo(
            list_year=list_year,
            results_year=results_years[0] if results_years else list_year - 1,
            document_date=settings.today,
            profile_name=profile[0],
            profile_version=profile[1],
            version=version,
        )
        files = render_list_files(table, info)
        diff_summary: dict[str, int] = {}
        if existing:
            previous = pq.read_table(folder / f"v{existing[-1]}" / file_names(list_year)["parquet"])
            diff = compute_diff(previous, published)
            diff_summary = diff_counts(diff)
            files[f"diff_v{existing[-1]}_v{version}.csv"] = render_csv(diff)
        manifest = {
            "document": "Список школ с низкими образовательными результатами (ШНОР)",
            "list_year": list_year,
            "results_years": results_years,
            "version": version,
            "previous_version": existing[-1] if existing else None,
            "created_at": dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat(),
            "document_date": settings.today.isoformat(),
            "methodology": {"profile": profile[0], "version": profile[1]},
            "rows": {
                "schools": table.num_rows,
                "by_cluster": by_cluster,
                "warehouse_tables": audit.record.get("table_rows", {}),
            },
            "files": [
                {"name": name, "sha256": sha256_bytes(data), "bytes": len(data)}
                for name, data in sorted(files.items())
            ],
            "diff": diff_summary or None,
            "inputs": inputs,
            "withdrawn_inputs": withdrawn,
            "warehouse": {
                "build_id": audit.build_id,
                "candidate_sha256": audit.candidate_sha256,
                "audited_at": str(audit.audited_at),
                "promoted_at": str(audit.promoted_at),
            },
            "checks": {
                "passed": audit.passed,
                "summary": audit.record.get("summary", {}),
                "warnings": warnings,
                "results": [
                    {k: c.get(k) for k in ("key", "source", "asset", "level", "status", "message")}
                    for c in audit.record.get("checks", [])
                ],
            },
            "software": software_versions(),
        }
        files["manifest.json"] = dumps_json(manifest).encode("utf-8")
        write_version_folder(folder, target, files)
    return PublicationResult(
        list_year,
        "published",
        version,
        target,
        table.num_rows,
        by_cluster,
        tuple(target / n for n in sorted(files)),
        diff_summary,
        warnings,
        audit.build_id,
    )


def latest_version_dir(settings: Settings, list_year: int) -> Path | None:
    found = versions(settings, list_year)
    return list_dir(settings, list_year) / f"v{found[-1]}" if found else None
