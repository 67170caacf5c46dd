"""Write a synthetic region: reference files once, then one pass over the schools per year
with every file of that year open, each row written as soon as it is produced."""

from __future__ import annotations

import json
from collections.abc import Iterable
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import headers as h
from .context import (
    academic_debt_rows,
    programme_target_rows,
    resource_row,
    risk_rows,
    social_passport_row,
)
from .model import school_year
from .region import Region, build_region
from .results import gia_rows, vpr_stats_rows, vpr_student_rows
from .spec import DEFAULT_YEARS, GENERATOR_VERSION, RegionSpec
from .writers import CsvSink, Sink, XlsxSink

MANIFEST = "region_manifest.json"
YES, NO = "да", "нет"


@dataclass(frozen=True)
class FileReport:
    path: str  # relative to the output folder, with forward slashes
    source: str
    rows: int  # data rows (title block and header not counted)
    year: int | None


@dataclass
class GenerationReport:
    out_dir: Path
    spec: RegionSpec
    files: list[FileReport] = field(default_factory=list)

    @property
    def manifest_path(self) -> Path:
        return self.out_dir / MANIFEST

    def rows_by_source(self) -> dict[str, int]:
        totals: dict[str, int] = {}
        for f in self.files:
            totals[f.source] = totals.get(f.source, 0) + f.rows
        return totals


def generate_region(
    out_dir: Path | str,
    seed: int = 42,
    schools: int = 335,
    years: Iterable[int] = DEFAULT_YEARS,
    **options: Any,
) -> GenerationReport:
    """Generate a synthetic region's input files into `out_dir` (created if needed).

    `options` are further `RegionSpec` fields (region_code, fail_shift, ...). Existing files of
    the same names are replaced; nothing else in `out_dir` is touched.
    """
    spec = RegionSpec(seed=seed, schools=schools, years=tuple(years), **options)
    return write_region(Path(out_dir), spec)


def write_region(out_dir: Path, spec: RegionSpec) -> GenerationReport:
    out_dir.mkdir(parents=True, exist_ok=True)
    region = build_region(spec)
    report = GenerationReport(out_dir, spec)
    report.files.append(_school_codes(out_dir, region))
    report.files.append(_successors(out_dir, region))
    report.files.append(_programmes(out_dir, region))
    report.files.append(_targets(out_dir, region))
    for year in spec.years:
        report.files.extend(_year(out_dir, region, year))
    _write_manifest(report)
    return report


# what a landing folder may hold besides deliveries: the loader skips these too
_NOT_DELIVERIES = {"thumbs.db", ".ds_store", MANIFEST}
REJECTED_DIR = "rejected"  # files the loader rejected wait there; they are not loaded again


def files_not_generated(folder: Path) -> list[Path]:
    """Files of ``folder`` waiting to be loaded that the generator did not write: everything
    that its ``region_manifest.json`` does not list (all files when there is no manifest).

    Hidden files, Office lock files («~$…») and the ``rejected/`` folder are not deliveries
    and are left out, as the loader leaves them out."""
    if not folder.is_dir():
        return []
    listed: set[str] = set()
    manifest = folder / MANIFEST
    if manifest.is_file():
        try:
            listed = {f["path"] for f in json.loads(manifest.read_text(encoding="utf-8"))["files"]}
        except (ValueError, KeyError, TypeError):
            listed = set()  # not our manifest: nothing is known to be generated
    found = []
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder)
        if (
            not path.is_file()
            or path.name.lower() in _NOT_DELIVERIES
            or path.name.startswith((".", "~$"))
            or relative.parts[0] == REJECTED_DIR
        ):
            continue
        if relative.as_posix() not in listed:
            found.append(path)
    return found


def _report(out_dir: Path, sink: Sink, source: str, year: int | None) -> FileReport:
    return FileReport(sink.path.relative_to(out_dir).as_posix(), source, sink.rows, year)


def _school_codes(out_dir: Path, region: Region) -> FileReport:
    with CsvSink(out_dir / h.path_of("school_codes"), h.SCHOOL_CODES, lineterminator="\n") as sink:
        for s in region.schools:
            sink.write_many(
                [
                    (h.SYSTEM_FIS_OKO, s.school_id, s.school_id),
                    (h.SYSTEM_RCOI, s.exam_code, s.school_id),
                    (h.SYSTEM_OKPO, s.okpo, s.school_id),
                ]
            )
    return _report(out_dir, sink, "school_codes", None)


def _successors(out_dir: Path, region: Region) -> FileReport:
    with XlsxSink(
        out_dir / h.path_of("school_successors"),
        h.SHEET_SUCCESSORS,
        h.SUCCESSORS,
        widths=(20, 24, 20),
    ) as sink:
        for r in region.reorganisations:
            sink.write(
                (region.schools[r.old].school_id, region.schools[r.new].school_id, r.effective_date)
            )
    return _report(out_dir, sink, "school_successors", None)


def _programmes(out_dir: Path, region: Region) -> FileReport:
    with CsvSink(
        out_dir / h.path_of("support_programmes"), h.SUPPORT_PROGRAMMES, lineterminator="\n"
    ) as sink:
        for m in region.programmes:
            sink.write((region.schools[m.school].school_id, m.programme, m.year))
    return _report(out_dir, sink, "support_programmes", None)


def _targets(out_dir: Path, region: Region) -> FileReport:
    """The target indicators of each supported school's programme (seed 001): written the year
    before the last results year, for the last one."""
    target_year = region.spec.years[-1]
    year = region.spec.years[-2] if len(region.spec.years) > 1 else target_year
    with CsvSink(
        out_dir / h.path_of("programme_targets"), h.PROGRAMME_TARGETS, lineterminator="\n"
    ) as sink:
        for school in sorted({m.school for m in region.programmes}):
            s = region.schools[school]
            if s.closed_from is not None and s.closed_from <= year:
                continue  # reorganised before the programme year: not in that year's registry
            sink.write_many(
                [
                    (s.school_id, *row, year, target_year)
                    for row in programme_target_rows(s, region.spec.seed)
                ]
            )
    return _report(out_dir, sink, "programme_targets", None)


def _year(out_dir: Path, region: Region, year: int) -> list[FileReport]:
    spec = region.spec
    seed = spec.seed
    title = f"{spec.region_name}, {year} год"
    student_vpr = year in spec.student_level_vpr
    with ExitStack() as stack:

        def open_(sink: Sink) -> Sink:
            return stack.enter_context(sink)

        sinks: dict[str, Sink] = {
            "schools": open_(
                XlsxSink(
                    out_dir / h.path_of("schools", year),
                    h.SHEET_SCHOOLS,
                    h.SCHOOLS,
                    title=("Реестр общеобразовательных организаций", title),
                    widths=(22, 60, 8, 28, 14, 16, 12, 12, 14),
                )
            ),
        }
        if student_vpr:
            sinks["vpr_results"] = open_(
                CsvSink(out_dir / h.path_of("vpr_results", year), h.VPR_RESULTS, encoding="cp1251")
            )
        else:
            sinks["vpr_school_stats"] = open_(
                XlsxSink(
                    out_dir / h.path_of("vpr_school_stats", year),
                    h.SHEET_VPR_STATS,
                    h.VPR_STATS,
                    title=(f"Статистика по отметкам ВПР {year}",),
                )
            )
        sinks["gia_results"] = open_(
            CsvSink(out_dir / h.path_of("gia_results", year), h.GIA_RESULTS, encoding="cp1251")
        )
        sinks["social_passport"] = open_(
            XlsxSink(
                out_dir / h.path_of("social_passport", year),
                h.SHEET_SOCIAL,
                h.SOCIAL_PASSPORT,
                title=("Социальный паспорт общеобразовательных организаций", title),
            )
        )
        sinks["resource_survey"] = open_(
            CsvSink(
                out_dir / h.path_of("resource_survey", year),
                h.RESOURCE_SURVEY,
                encoding="utf-8-sig",
            )
        )
        if year in spec.risk_years:
            sinks["risk_questionnaire"] = open_(
                CsvSink(
                    out_dir / h.path_of("risk_questionnaire", year),
                    h.RISK_QUESTIONNAIRE,
                    delimiter=",",
                    lineterminator="\n",
                )
            )
        sinks["academic_debt"] = open_(
            XlsxSink(out_dir / h.path_of("academic_debt", year), h.SHEET_DEBT, h.ACADEMIC_DEBT)
        )

        for school in region.active_schools(year):
            sy = school_year(region, school, year)
            m = school.municipality
            sinks["schools"].write(
                (
                    school.school_id,
                    school.name,
                    m.code,
                    m.name,
                    school.locality,
                    YES if sy.is_small else NO,
                    YES if school.has_grade_9 else NO,
                    YES if school.has_grade_11 else NO,
                    sy.enrolment,
                )
            )
            if student_vpr:
                sinks["vpr_results"].write_many(vpr_student_rows(sy, seed))
            else:
                sinks["vpr_school_stats"].write_many(vpr_stats_rows(sy, seed))
            sinks["gia_results"].write_many(gia_rows(sy, seed))
            sinks["social_passport"].write(social_passport_row(sy, seed))
            sinks["resource_survey"].write(resource_row(sy, seed))
            if "risk_questionnaire" in sinks:
                sinks["risk_questionnaire"].write_many(risk_rows(sy, seed))
            sinks["academic_debt"].write_many(academic_debt_rows(sy, seed))
    return [_report(out_dir, sink, source, year) for source, sink in sinks.items()]


def _write_manifest(report: GenerationReport) -> None:
    region_files = [
        {"path": f.path, "source": f.source, "year": f.year, "rows": f.rows} for f in report.files
    ]
    manifest = {
        "generator": "synthetic",
        "generator_version": GENERATOR_VERSION,
        "parameters": report.spec.to_json(),
        "files": region_files,
        "rows_by_source": report.rows_by_source(),
    }
    text = json.dumps(manifest, ensure_ascii=False, indent=2) + "\n"
    report.manifest_path.write_text(text, encoding="utf-8")
