"""Country-sized input sets: many synthetic regions, written streaming, CSV or Parquet.

    from synthetic.country import CountrySpec, generate_country
    report = generate_country(Path("landing"), CountrySpec(regions=10))

`eduq generate --scale region|10|country` (or `--regions N`) calls it. A country is 85 regions of
450 schools (38,250 schools); each region is a whole, valid region for the pipeline (registry,
code crosswalk, reorganisations, support programmes, social passports, resource surveys, risk
questionnaires, academic debt, ВПР grades 4-8 and ОГЭ/ЕГЭ per participant in every results year),
built by `region.build_region` and drawn by the vectorised model of `batch.py`. About 660 result
rows per school and year: ~26 million a year for the country.

Codes are unique across regions: FIS OKO login `sch<RR><NNNN>` (RR = region 01..99), РЦОИ code
100000 + (RR - 1) * 9000 + a permutation of the school (6 digits), ОКПО likewise (8 digits),
municipality code `<RR><MM>`, participant code `<year>-<RR><NNNN>-<grade><NNN>`.

Layout, CSV (`format="csv"`, the way regions send files; one folder per region):

    region_manifest.json                      parameters, files, rows (ignored by the landing scan)
    region_01/schools/schools_2024.csv        UTF-8 with BOM, «;»        (the demo writes XLSX)
    region_01/school_codes.csv                UTF-8, «;»
    region_01/school_successors.csv           UTF-8 with BOM, «;», ДД.ММ.ГГГГ
    region_01/support_programmes.csv          UTF-8, «;»
    region_01/vpr/vpr_results_2024.csv        Windows-1251, «;», CRLF     (as the demo)
    region_01/gia/gia_results_2024.csv        Windows-1251, «;», CRLF     (as the demo)
    region_01/social_passport/social_passport_2024.csv     UTF-8 with BOM, «;»
    region_01/resource_survey/resource_survey_2024.csv     UTF-8 with BOM, «;», decimal comma
    region_01/risk_questionnaire/risk_questionnaire_2024.csv  UTF-8, «,» (last two years)
    region_01/academic_debt/academic_debt_2024.csv         UTF-8 with BOM, «;»

Parquet (`format="parquet"`): one file per source and year holding every region (the same
relative paths without the region folder, `.parquet`), typed columns under the contracts'
canonical English names (booleans, integers, dates, the Russian labels as text).

Every draw comes from generators seeded by (seed, region, stream, year): the same spec gives
byte-identical files. Memory is bounded by one region's year (a few hundred thousand rows).
"""

from __future__ import annotations

import json
import multiprocessing
import re
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from . import headers as h
from .batch import (
    BUILDING,
    DEBT_PERIODS,
    Block,
    RegionArrays,
    YearState,
    academic_debt,
    gia_blocks,
    resource_survey,
    risk_answers,
    social_passport,
    vpr_blocks,
    year_state,
)
from .columnar import (
    GIA_SCHEMA,
    VPR_SCHEMA,
    CsvBytesSink,
    FileSink,
    ParquetSink,
    SchoolPieces,
    csv_text_table,
    date_array,
    gia_csv,
    gia_table,
    vpr_csv,
    vpr_table,
)
from .context import item_codes
from .region import Region, build_region
from .spec import DEFAULT_YEARS, GENERATOR_VERSION, RegionSpec

MANIFEST = "region_manifest.json"
SCALES: dict[str, int] = {"region": 1, "10": 10, "country": 85}
SCHOOLS_PER_REGION = 450
MAX_REGIONS = 99  # two digits of the FIS OKO login
MAX_SCHOOLS_PER_REGION = 9000  # the РЦОИ code keeps 4 digits per region
FORMATS = ("csv", "parquet")
RESULTS_ENCODING = "cp1251"

# canonical column names, in the order of the Russian headers of headers.py
CANONICAL: dict[str, tuple[str, ...]] = {
    "schools": (
        "school_id",
        "school_name",
        "municipality_code",
        "municipality_name",
        "locality",
        "is_small",
        "has_grade_9",
        "has_grade_11",
        "enrolment",
    ),
    "school_codes": ("system", "external_code", "school_id"),
    "school_successors": ("old_school_id", "new_school_id", "effective_date"),
    "support_programmes": ("school_id", "programme", "year"),
    "social_passport": (
        "year",
        "school_id",
        "students_total",
        "both_parents_higher_ed",
        "single_parent",
        "low_income",
        "prevention_register",
        "non_native_russian",
        "disabilities",
        "large_family",
        "unemployed_parents",
    ),
    "resource_survey": (
        "year",
        "school_id",
        "teachers_total",
        "teacher_vacancies",
        "teachers_retirement_age",
        "avg_teacher_load",
        "nonspecialist_ru_ma",
        "has_psychologist",
        "has_speech_therapist",
        "broadband_ok",
        "building_condition",
        "has_utilities",
        "has_gym",
        "computers",
        "has_science_lab",
        "has_tochka_rosta",
        "has_cos",
    ),
    "risk_questionnaire": ("year", "school_id", "item_code", "answer"),
    "academic_debt": (
        "school_id",
        "period",
        "academic_year",
        "students_total",
        "with_debt",
        "attending_extra",
        "with_iom",
        "debt_closed",
    ),
}
HEADERS: dict[str, tuple[str, ...]] = {
    "schools": h.SCHOOLS,
    "school_codes": h.SCHOOL_CODES,
    "school_successors": h.SUCCESSORS,
    "support_programmes": h.SUPPORT_PROGRAMMES,
    "social_passport": h.SOCIAL_PASSPORT,
    "resource_survey": h.RESOURCE_SURVEY,
    "risk_questionnaire": h.RISK_QUESTIONNAIRE,
    "academic_debt": h.ACADEMIC_DEBT,
    "vpr_results": h.VPR_RESULTS,
    "gia_results": h.GIA_RESULTS,
}
# CSV dialect per source: (encoding, delimiter, end of line, byte-order mark)
CSV_DIALECT: dict[str, tuple[str, str, str, bool]] = {
    "schools": ("utf-8", ";", "\r\n", True),
    "school_codes": ("utf-8", ";", "\n", False),
    "school_successors": ("utf-8", ";", "\r\n", True),
    "support_programmes": ("utf-8", ";", "\n", False),
    "social_passport": ("utf-8", ";", "\r\n", True),
    "resource_survey": ("utf-8", ";", "\r\n", True),
    "risk_questionnaire": ("utf-8", ",", "\n", False),
    "academic_debt": ("utf-8", ";", "\r\n", True),
    "vpr_results": (RESULTS_ENCODING, ";", "\r\n", False),
    "gia_results": (RESULTS_ENCODING, ";", "\r\n", False),
}


def parse_scale(text: str) -> int:
    """`region` (1), `10`, `country` (85) or a number of regions 1..99."""
    if text in SCALES:
        return SCALES[text]
    if re.fullmatch(r"\d+", text) and 1 <= int(text) <= MAX_REGIONS:
        return int(text)
    raise ValueError(
        f"scale: region, 10, country or a number of regions 1..{MAX_REGIONS}, not {text!r}"
    )


@dataclass(frozen=True)
class CountrySpec:
    """Everything that determines a country set. Same spec => byte-identical files.

    regions              number of regions (codes 01..N)
    schools_per_region   schools per region (reorganised ones included)
    seed                 master seed; region r is built with seed * 1000 + r
    years                results years (every year per participant, ВПР and ОГЭ/ЕГЭ)
    format               csv (as regions send files) | parquet (canonical columns)
    vpr_grades           ВПР grades written per student (4-8 as the demo region)
    fail_shift           calibration of the failing logit (as RegionSpec)
    """

    regions: int = 1
    schools_per_region: int = SCHOOLS_PER_REGION
    seed: int = 42
    years: tuple[int, ...] = DEFAULT_YEARS
    format: str = "csv"
    vpr_grades: tuple[int, ...] = (4, 5, 6, 7, 8)
    fail_shift: float = 0.25

    def __post_init__(self) -> None:
        object.__setattr__(self, "years", tuple(sorted({int(y) for y in self.years})))
        object.__setattr__(self, "vpr_grades", tuple(sorted({int(g) for g in self.vpr_grades})))
        if not 1 <= self.regions <= MAX_REGIONS:
            raise ValueError(f"regions: 1..{MAX_REGIONS}")
        if not 3 <= self.schools_per_region <= MAX_SCHOOLS_PER_REGION:
            raise ValueError(f"schools per region: 3..{MAX_SCHOOLS_PER_REGION}")
        if self.format not in FORMATS:
            raise ValueError(f"format: {' or '.join(FORMATS)}, not {self.format!r}")
        if not set(self.vpr_grades) <= {4, 5, 6, 7, 8}:
            raise ValueError("vpr_grades: among 4..8")
        if not self.years:
            raise ValueError("years: at least one year is needed")

    def region_spec(self, r: int) -> RegionSpec:
        return RegionSpec(
            seed=self.seed * 1000 + r,
            schools=self.schools_per_region,
            years=self.years,
            region_code=f"{r:02d}",
            region_name=f"Синтетический регион {r:02d}",
            student_level_vpr_years=len(self.years),
            fail_shift=self.fail_shift,
        )

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["years"], data["vpr_grades"] = list(self.years), list(self.vpr_grades)
        return data


@dataclass(frozen=True)
class FileReport:
    path: str  # relative to the output folder
    source: str
    rows: int
    year: int | None


@dataclass
class CountryReport:
    out_dir: Path
    spec: CountrySpec
    files: list[FileReport] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def rows(self) -> int:
        return sum(f.rows for f in self.files)

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else float("nan")

    @property
    def schools(self) -> int:
        return self.spec.regions * self.spec.schools_per_region

    def rows_by_source(self) -> dict[str, int]:
        totals: dict[str, int] = {}
        for f in self.files:
            totals[f.source] = totals.get(f.source, 0) + f.rows
        return totals


def build_country_region(spec: CountrySpec, r: int) -> Region:
    """Region r (1-based) of a country set, with codes unique across the country."""
    region = build_region(spec.region_spec(r))
    base_rcoi, base_okpo = 100000 + (r - 1) * 9000, 10000000 + (r - 1) * 900000
    for s in region.schools:
        k = s.index
        s.exam_code = str(base_rcoi + (k * 7919 + 3511) % 9000)
        s.okpo = str(base_okpo + (k * 104729 + 12345) % 900000)
    return region


def _region_folder(r: int) -> str:
    return f"region_{r:02d}"


class _Files:
    """Open sinks by relative path. CSV: one set per region, closed after it. Parquet: one file
    per source and year for the whole country, closed at the end."""

    def __init__(self, out_dir: Path, spec: CountrySpec, report: CountryReport) -> None:
        self.out_dir, self.spec, self.report = out_dir, spec, report
        self.open: dict[str, tuple[FileSink, str, int | None]] = {}

    def sink(
        self, source: str, year: int | None, region: int, schema: pa.Schema | None = None
    ) -> FileSink:
        stem = h.path_of(source, year).rsplit(".", 1)[0]
        if self.spec.format == "csv":
            rel = f"{_region_folder(region)}/{stem}.csv"
        else:
            rel = f"{stem}.parquet"
        if rel not in self.open:
            path = self.out_dir / rel
            if self.spec.format == "csv":
                encoding, delimiter, eol, bom = CSV_DIALECT[source]
                sink: FileSink = CsvBytesSink(
                    path, HEADERS[source], encoding=encoding, delimiter=delimiter, eol=eol, bom=bom
                )
            else:
                assert schema is not None
                sink = ParquetSink(path, schema)
            self.open[rel] = (sink, source, year)
        return self.open[rel][0]

    def write(self, source: str, year: int | None, region: int, table: pa.Table) -> None:
        table = table.rename_columns(list(CANONICAL[source]))
        sink = self.sink(source, year, region, table.schema)
        if isinstance(sink, CsvBytesSink):
            sink.write_table(csv_text_table(table))
        else:
            assert isinstance(sink, ParquetSink)
            sink.write_table(table)

    def close(self) -> None:
        for rel, (sink, source, year) in self.open.items():
            sink.close()
            self.report.files.append(FileReport(rel, source, sink.rows, year))
        self.open.clear()

    def abort(self) -> None:
        for sink, _, _ in self.open.values():
            sink.abort()
        self.open.clear()


def generate_country(
    out_dir: Path | str,
    spec: CountrySpec,
    progress: Callable[[int, CountryReport, int], None] | None = None,
    jobs: int = 1,
) -> CountryReport:
    """Write a country set into `out_dir`. `progress(region, report, rows so far)` is called after
    each region. `jobs` > 1 writes that many regions at once in worker processes (CSV only: a
    Parquet file holds every region). Existing files of the same names are replaced; nothing
    else is touched."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    report = CountryReport(out, spec)
    started = time.perf_counter()
    rows = 0

    def done(r: int, region_rows: int) -> None:
        nonlocal rows
        rows += region_rows
        if progress is not None:
            report.seconds = time.perf_counter() - started
            progress(r, report, rows)

    if spec.format == "csv" and jobs > 1 and spec.regions > 1:
        context = multiprocessing.get_context("spawn")  # no fork of a process with Arrow threads
        with ProcessPoolExecutor(min(jobs, spec.regions), mp_context=context) as pool:
            futures = [pool.submit(_csv_region, out, spec, r) for r in range(1, spec.regions + 1)]
            for r, future in enumerate(futures, start=1):
                files, region_rows = future.result()
                report.files.extend(files)
                done(r, region_rows)
    else:
        files = _Files(out, spec, report)
        try:
            for r in range(1, spec.regions + 1):
                region_rows = _write_region(files, spec, r)
                if spec.format == "csv":
                    files.close()
                done(r, region_rows)
            files.close()
        except BaseException:
            files.abort()
            raise
    report.seconds = time.perf_counter() - started
    report.files.sort(key=lambda f: f.path)
    _write_manifest(report)
    return report


def _csv_region(out: Path, spec: CountrySpec, r: int) -> tuple[list[FileReport], int]:
    """One region's CSV files (in a worker process): the files written and the rows."""
    files = _Files(out, spec, CountryReport(out, spec))
    try:
        rows = _write_region(files, spec, r)
        files.close()
    except BaseException:
        files.abort()
        raise
    return files.report.files, rows


def _write_region(files: _Files, spec: CountrySpec, r: int) -> int:
    region = build_country_region(spec, r)
    ra = RegionArrays.of(region)
    rows = _reference(files, region, r)
    for year in spec.years:
        state = year_state(ra, year)
        rows += _year(files, spec, ra, state, r)
    return rows


def _reference(files: _Files, region: Region, r: int) -> int:
    schools = region.schools
    codes = pa.table(
        {
            "system": [
                x for _ in schools for x in (h.SYSTEM_FIS_OKO, h.SYSTEM_RCOI, h.SYSTEM_OKPO)
            ],
            "external_code": [c for s in schools for c in (s.school_id, s.exam_code, s.okpo)],
            "school_id": [s.school_id for s in schools for _ in range(3)],
        }
    )
    successors = pa.table(
        {
            "old": pa.array(
                [schools[x.old].school_id for x in region.reorganisations], pa.string()
            ),
            "new": pa.array(
                [schools[x.new].school_id for x in region.reorganisations], pa.string()
            ),
            "date": date_array([x.effective_date for x in region.reorganisations]),
        }
    )
    programmes = pa.table(
        {
            "school_id": pa.array(
                [schools[m.school].school_id for m in region.programmes], pa.string()
            ),
            "programme": pa.array([m.programme for m in region.programmes], pa.string()),
            "year": pa.array([m.year for m in region.programmes], pa.int32()),
        }
    )
    files.write("school_codes", None, r, codes)
    if successors.num_rows:  # a region without reorganisations sends no such file
        files.write("school_successors", None, r, successors)
    files.write("support_programmes", None, r, programmes)
    return codes.num_rows + successors.num_rows + programmes.num_rows


def _year(files: _Files, spec: CountrySpec, ra: RegionArrays, state: YearState, r: int) -> int:
    year, region = state.year, ra.region
    active = np.flatnonzero(state.active)
    ids = pa.array(ra.school_id, pa.string())
    pieces = SchoolPieces.of(year, ra.school_id, ra.exam_code, RESULTS_ENCODING)
    rows = 0

    def write(source: str, table: pa.Table) -> None:
        nonlocal rows
        files.write(source, year, r, table)
        rows += table.num_rows

    munis = [s.municipality for s in region.schools]
    take = pa.array(active)
    write(
        "schools",
        pa.table(
            {
                "school_id": ids,
                "name": [s.name for s in region.schools],
                "muni_code": [f"{ra.code}{m.code}" for m in munis],
                "muni_name": [m.name for m in munis],
                "locality": [s.locality for s in region.schools],
                "is_small": state.is_small,
                "has_9": ra.kind > 0,
                "has_11": ra.kind == 2,
                "enrolment": state.enrolment,
            }
        ).take(take),
    )
    rows += _results(files, spec, ra, state, r, pieces)
    total, counts = social_passport(ra, state)
    social = {"year": np.full(ra.size, year, np.int32), "school_id": ids, "total": total}
    for i in range(counts.shape[1]):
        social[f"c{i}"] = pa.array(counts[:, i], pa.int64(), mask=counts[:, i] < 0)
    write("social_passport", pa.table(social).take(take))
    items = resource_survey(ra, state)
    items["building_condition"] = pa.array(list(BUILDING), pa.string()).take(
        pa.array(items["building_condition"])
    )
    write(
        "resource_survey",
        pa.table({"year": np.full(ra.size, year, np.int32), "school_id": ids, **items}).take(take),
    )
    if year in spec.years[-2:]:
        answers = risk_answers(ra, state)[active]
        codes = item_codes()
        write(
            "risk_questionnaire",
            pa.table(
                {
                    "year": np.full(answers.size, year, np.int32),
                    "school_id": ids.take(pa.array(np.repeat(active, len(codes)))),
                    "item_code": pa.array(codes * len(active), pa.string()),
                    "answer": answers.ravel(),
                }
            ),
        )
    debts = academic_debt(ra, state)
    n = len(active)
    write(
        "academic_debt",
        pa.table(
            {
                "school_id": ids.take(pa.array(np.tile(active, len(DEBT_PERIODS)))),
                "period": [p[0] for p in DEBT_PERIODS for _ in range(n)],
                "academic_year": [f"{year - 1}/{year}"] * (n * len(DEBT_PERIODS)),
                "total": np.tile(state.enrolment[active], len(DEBT_PERIODS)),
                **{
                    name: np.concatenate([d[active, j] for d in debts])
                    for j, name in enumerate(("debt", "attend", "iom", "closed"))
                },
            }
        ),
    )
    return rows


def _results(
    files: _Files,
    spec: CountrySpec,
    ra: RegionArrays,
    state: YearState,
    r: int,
    pieces: SchoolPieces,
) -> int:
    year = state.year
    rows = 0
    blocks: list[tuple[str, Block]] = [
        ("vpr_results", b) for b in vpr_blocks(ra, state, spec.vpr_grades)
    ]
    blocks += [("gia_results", b) for b in gia_blocks(ra, state)]
    tables: dict[str, list[pa.Table]] = {"vpr_results": [], "gia_results": []}
    for source, block in blocks:
        if not len(block):
            continue
        rows += len(block)
        if spec.format == "csv":
            sink = files.sink(source, year, r)
            assert isinstance(sink, CsvBytesSink)
            text = (vpr_csv if source == "vpr_results" else gia_csv)(
                block, pieces, RESULTS_ENCODING
            )
            sink.write_bytes(text, len(block))
        else:
            table = (vpr_table if source == "vpr_results" else gia_table)(block, pieces, year)
            tables[source].append(table)
    for source, parts in tables.items():
        if parts:  # one row group per region and year
            schema = VPR_SCHEMA if source == "vpr_results" else GIA_SCHEMA
            sink = files.sink(source, year, r, schema)
            assert isinstance(sink, ParquetSink)
            sink.write_table(pa.concat_tables(parts))
    return rows


def _write_manifest(report: CountryReport) -> None:
    manifest = {
        "generator": "synthetic.country",
        "generator_version": GENERATOR_VERSION,
        "parameters": report.spec.to_json(),
        "regions": [
            {
                "code": f"{r:02d}",
                "folder": _region_folder(r) if report.spec.format == "csv" else None,
            }
            for r in range(1, report.spec.regions + 1)
        ],
        "schools": report.schools,
        "rows": report.rows,
        "rows_by_source": report.rows_by_source(),
        "files": [asdict(f) for f in report.files],
    }
    text = json.dumps(manifest, ensure_ascii=False, indent=2) + "\n"
    (report.out_dir / MANIFEST).write_text(text, encoding="utf-8")


def read_manifest(out_dir: Path) -> dict[str, Any]:
    return json.loads((Path(out_dir) / MANIFEST).read_text(encoding="utf-8"))
