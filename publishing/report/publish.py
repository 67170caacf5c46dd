"""Publish the regional report and the school cards from the serving warehouse, through the gate
of every publication: only from a serving warehouse whose embedded audit record passed.

``publications/<Y>/report/v<N>/``: ``report_<Y>.html`` (self-contained), ``report_<Y>.pdf`` (A4
landscape, page numbers), ``report_<Y>.xlsx`` (one sheet a table), ``sources.json`` (the mart,
column and key of every figure), ``manifest.json``.

``publications/<Y>/cards/v<N>/``: ``cards_<Y>.pdf`` (every school, one after another),
``cards_<Y>.html``, ``html/<school>.html`` and ``pdf/<school>.pdf`` (one card a school),
``manifest.json``; ``publications/<Y>/cards/<school>/v<N>/`` for one card (``eduq card``).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from core.settings import Settings
from gate.promote import ServingAudit
from gate.publishable import require_audited as gate_require_audited
from gate.publishable import require_publishable
from publishing.errors import ListYearNotAvailable, PublicationRefused
from publishing.report import queries, regional, render
from publishing.report.content import document_content, fingerprint
from publishing.report.versioning import (
    Published,
    code_fingerprint,
    publish_version,
    software_versions,
)
from publishing.small_numbers import open_published

Progress = Callable[[int, int, str], None]


@dataclass
class DocumentResult:
    what: str  # "report" | "cards" | "card"
    list_year: int
    status: str  # published | unchanged
    version: int
    directory: Path
    files: list[str] = field(default_factory=list)
    build_id: str = ""
    seconds: float = 0.0
    count: int = 1
    continued: list[str] = field(default_factory=list)  # cards that run on (too long even compact)

    @property
    def main_file(self) -> Path:
        names = {
            "report": f"report_{self.list_year}.pdf",
            "cards": f"cards_{self.list_year}.pdf",
            "card": "card.pdf",
        }
        return self.directory / names[self.what]

    def render(self) -> str:
        label = {
            "report": f"Regional report {self.list_year}",
            "cards": f"School cards {self.list_year} ({self.count} schools)",
            "card": f"School card {self.list_year}",
        }[self.what]
        if self.status == "unchanged":
            head = f"{label}: unchanged since v{self.version}; nothing new published"
        else:
            head = f"{label}: published v{self.version} in {self.seconds:.1f} s"
        tail = (
            f"\n  {len(self.continued)} card(s) did not fit one page even compact and run on "
            f"(each says so on its first page): {', '.join(self.continued)}"
            if self.continued
            else ""
        )
        return f"{head}\n  {self.main_file}{tail}"


@dataclass(frozen=True)
class Gate:
    audit: ServingAudit
    data_as_of: dt.date | None

    @property
    def document_date(self) -> dt.date:
        """The date of the audit that let this warehouse be served (not the clock)."""
        return self.audit.audited_at.date()


def open_serving(
    settings: Settings,
) -> contextlib.AbstractContextManager[duckdb.DuckDBPyConnection]:
    """The serving warehouse as publications read it: a damaged file is refused
    (gate/publishable.py), figures about fewer than EDUQ_SMALL_NUMBER_MIN pupils are suppressed
    (publishing/small_numbers.py)."""
    serving = settings.serving_db
    if not serving.exists():
        raise PublicationRefused(
            f"no serving warehouse at {serving}: run `eduq run` first. Nothing was published."
        )
    return open_published(serving, settings.small_number_min, settings)


def require_audited(con: duckdb.DuckDBPyConnection, serving: Path) -> Gate:
    """The gate of every publication (gate/publishable.py): a passed audit record."""
    return Gate(gate_require_audited(con, serving), queries.data_as_of(con))


def resolve_list_year(con: duckdb.DuckDBPyConnection, list_year: int | None) -> int:
    """The list year asked for, or the latest computed one; either way one the gate lets be
    published (a list that cannot be computed, or whose results are incomplete, has no report)."""
    if list_year is not None:
        require_publishable(con, list_year)
        return list_year
    latest = regional.latest_list_year(con)
    if latest is None:
        raise ListYearNotAvailable(
            "the serving warehouse has no computable ШНОР list yet: nothing to publish"
        )
    require_publishable(con, latest)
    return latest


def _warehouse(gate: Gate) -> dict:
    a = gate.audit
    return {
        "build_id": a.build_id,
        "candidate_sha256": a.candidate_sha256,
        "audited_at": str(a.audited_at),
        "promoted_at": str(a.promoted_at),
        "checks": a.record.get("summary", {}),
        "warnings": [
            f"{c['key']} [{c['asset']}]: {c['message']}"
            for c in a.record.get("checks", [])
            if c.get("level") == "warning" and c.get("status") in ("failed", "error", "not_run")
        ],
    }


def report_dir(settings: Settings, list_year: int) -> Path:
    return settings.publications_dir / str(list_year) / "report"


def publish_report(settings: Settings, list_year: int | None = None) -> DocumentResult:
    """Publish the regional report of ``list_year`` (default: the latest computable list)."""
    started = time.perf_counter()
    with open_serving(settings) as con:
        gate = require_audited(con, settings.serving_db)
        list_year = resolve_list_year(con, list_year)
        doc = regional.build_report(
            con, list_year, build_id=gate.audit.build_id, document_date=gate.document_date
        )
        profile = queries.profile(con)
        inputs = queries.input_files(con)
        results_year = queries.list_years(con)[list_year].results_year
    content = document_content(doc)
    # what a reader sees, the data date and the renderer; not the build id nor the document date,
    # so that a rebuild from the same inputs publishes nothing new
    facts = [f for f in content["facts"] if f[0] not in ("Сборка хранилища", "Дата формирования")]
    print_fp = fingerprint({**content, "facts": facts}, code_fingerprint(), software_versions())
    stem = f"report_{list_year}"

    def files(version: int) -> dict[str, bytes]:
        label = f"v{version}"
        html = render.render_html([doc], version_label=label)
        for_pdf = render.render_html([doc], version_label=label, for_pdf=True)
        tables = doc.tables()
        return {
            f"{stem}.html": html.encode("utf-8"),
            f"{stem}.pdf": render.render_pdf(for_pdf, gate.document_date),
            f"{stem}.xlsx": render.render_xlsx(tables, gate.document_date, doc.subtitle),
            "sources.json": _json(render.sources_map(tables)),
        }

    def manifest(version: int, previous: int | None, written: dict[str, bytes]) -> dict:
        return {
            "document": "Региональный отчёт: система работы со ШНОР и ШНСУ",
            "list_year": list_year,
            "results_year": results_year,
            "version": version,
            "previous_version": previous,
            "document_date": gate.document_date.isoformat(),
            "data_as_of": gate.data_as_of.isoformat() if gate.data_as_of else None,
            "methodology": {
                "profile": profile.get("profile_name"),
                "version": profile.get("profile_version"),
                "parameters": {k: _plain(v) for k, v in profile.items()},
            },
            "sections": [s.title for s in doc.sections],
            "tables": [
                {"sheet": render.sheet_name(t), "title": t.title, "rows": len(t.rows)}
                for t in doc.tables()
            ],
            "charts": [c.key for c in doc.charts()],
            "warehouse": _warehouse(gate),
            "inputs": [{k: _plain(v) for k, v in f.items()} for f in inputs],
            "software": software_versions(),
            "reproducibility": (
                "The same serving warehouse gives the same bytes of every file: dates come from the audit "
                "record and the loaded data, charts from vl-convert, fonts subset with a fixed timestamp."
            ),
        }

    published = publish_version(report_dir(settings, list_year), print_fp, files, manifest)
    return _result("report", list_year, published, gate, started)


def _result(
    what: str, list_year: int, p: Published, gate: Gate, started: float, count: int = 1
) -> DocumentResult:
    return DocumentResult(
        what,
        list_year,
        p.status,
        p.version,
        p.directory,
        p.files,
        gate.audit.build_id,
        time.perf_counter() - started,
        count,
    )


def _plain(value: object) -> object:
    if isinstance(value, (int, float, str, bool)) or value is None:
        return value
    return str(value)


def _json(data: object) -> bytes:
    from core.files import dumps_json

    return dumps_json(data).encode("utf-8")


# --- school cards -------------------------------------------------------------------------------
def cards_dir(settings: Settings, list_year: int) -> Path:
    return settings.publications_dir / str(list_year) / "cards"


def publish_cards(
    settings: Settings,
    list_year: int | None = None,
    school_id: str | None = None,
    progress: Progress | None = None,
) -> DocumentResult:
    """Publish the cards of every school of ``list_year`` (or of one school) as one PDF and HTML of
    all, and a folder of one HTML and one PDF per school."""
    from publishing.report import card, cards_pdf

    started = time.perf_counter()
    with open_serving(settings) as con:
        gate = require_audited(con, settings.serving_db)
        list_year = resolve_list_year(con, list_year)
        data = card.read_cards(con, list_year)
    schools = [card.school_row(data, school_id)] if school_id else data.schools
    docs = [
        card.build_card(data, s, build_id=gate.audit.build_id, document_date=gate.document_date)
        for s in schools
    ]
    content = [document_content(d) for d in docs]
    print_fp = fingerprint(content, code_fingerprint(), software_versions(), gate.data_as_of)
    moment = gate.document_date
    fitted: list[render.Fit] = []  # how each card was laid out (known once the PDF is rendered)

    def files(version: int) -> dict[str, bytes]:
        label = f"v{version}"
        page = render.CARD_PAGE
        total = len(docs)
        for n, doc in enumerate(docs, start=1):
            render.draw_charts(doc)
            if progress is not None and (n % 50 == 0 or n == total):
                progress(n, total, "charts")

        def pdf_progress(done: int, of: int) -> None:
            if progress is not None:
                progress(done, of, "pdf")

        # the PDF from the cards' HTML (WeasyPrint): all cards, and each card's pages; a card that
        # ran onto a second page was laid out again more compactly, and its HTML says how
        pdf = cards_pdf.render_cards_pdf(
            docs,
            version_label=label,
            moment=moment,
            title=f"Карточки школ, список ШНОР {list_year}",
            progress=pdf_progress,
        )
        fitted.extend(pdf.fits)
        if school_id:
            html = render.render_html(
                docs, version_label=label, page=page, toc=False, fits=pdf.fits
            )
            return {"card.html": html.encode("utf-8"), "card.pdf": pdf.cards[0]}
        out: dict[str, bytes] = {
            f"cards_{list_year}.pdf": pdf.whole,
            f"cards_{list_year}.html": render.render_html(
                docs, version_label=label, page=page, toc=False, fits=pdf.fits
            ).encode("utf-8"),
        }
        for n, (doc, single, fit) in enumerate(zip(docs, pdf.cards, pdf.fits), start=1):
            sid = doc.anchor.removeprefix("card-")
            out[f"pdf/{sid}.pdf"] = single
            out[f"html/{sid}.html"] = render.render_html(
                [doc], version_label=label, page=page, toc=False, fits=[fit]
            ).encode("utf-8")
            if progress is not None and (n % 50 == 0 or n == total):
                progress(n, total, "folder")
        return out

    def manifest(version: int, previous: int | None, written: dict[str, bytes]) -> dict:
        return {
            "document": "Карточки школ" if not school_id else f"Карточка школы {school_id}",
            "list_year": list_year,
            "results_year": data.results_year,
            "schools": [s["school_id"] for s in schools],
            "version": version,
            "previous_version": previous,
            "document_date": moment.isoformat(),
            "data_as_of": gate.data_as_of.isoformat() if gate.data_as_of else None,
            "context_years": {
                "isbsh": data.isbsh_year,
                "risk_profile": data.risk_year,
                "resource_deficits": data.deficit_year,
            },
            "methodology": {"profile": data.basis.name, "version": data.basis.version},
            # one page a card: the cards laid out in a compact step (templates/card_compact.css),
            # and any that ran on even so (each says so on its first page)
            "layout": {
                "compact": {s["school_id"]: f.step for s, f in zip(schools, fitted) if f.step},
                "continued": [s["school_id"] for s, f in zip(schools, fitted) if f.continued],
            },
            "warehouse": _warehouse(gate),
            "software": software_versions(),
        }

    folder = (
        cards_dir(settings, list_year) / school_id if school_id else cards_dir(settings, list_year)
    )
    published = publish_version(folder, print_fp, files, manifest)
    result = _result(
        "card" if school_id else "cards", list_year, published, gate, started, len(docs)
    )
    result.continued = [s["school_id"] for s, f in zip(schools, fitted) if f.continued]
    return result
