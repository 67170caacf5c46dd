"""Country-sized sets (`eduq generate --scale/--regions`): determinism, codes unique across
regions, results consistent with the contracts, CSV and Parquet holding the same facts, every
file accepted by the loader, and the calibration of the ШНОР share. Small sizes only: the speed
is measured by `make bench`, never here."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
import pytest

from orchestration.cli import main as eduq
from synthetic.columnar import GIA_SCHEMA, VPR_SCHEMA
from synthetic.country import (
    CANONICAL,
    HEADERS,
    MANIFEST,
    CountryReport,
    CountrySpec,
    generate_country,
    parse_scale,
)
from synthetic.procedures import BY_CODE

SPEC = CountrySpec(regions=2, schools_per_region=20, seed=5, years=(2022, 2023, 2024))
NAMES = {**CANONICAL, "vpr_results": VPR_SCHEMA.names, "gia_results": GIA_SCHEMA.names}
CSV_ENCODING = {"vpr_results": "cp1251", "gia_results": "cp1251"}
VPR_SUBJECTS = {"Русский язык": "RU", "Математика": "MA", "Окружающий мир": "OM"}


@pytest.fixture(scope="module")
def country_csv(tmp_path_factory: pytest.TempPathFactory) -> CountryReport:
    return generate_country(tmp_path_factory.mktemp("country_csv"), SPEC)


@pytest.fixture(scope="module")
def country_parquet(tmp_path_factory: pytest.TempPathFactory) -> CountryReport:
    spec = CountrySpec(**{**SPEC.to_json(), "format": "parquet"})
    return generate_country(tmp_path_factory.mktemp("country_parquet"), spec)


def _hashes(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _source(path: Path) -> str:
    stem = path.stem
    return next(s for s in sorted(HEADERS, key=len, reverse=True) if stem.startswith(s))


def read_csv(path: Path) -> pd.DataFrame:
    """A CSV of the set as text, the way a person opens it: encoding and delimiter by source."""
    source = _source(path)
    encoding = CSV_ENCODING.get(source, "utf-8-sig")
    sep = "," if source == "risk_questionnaire" else ";"
    return pd.read_csv(path, sep=sep, encoding=encoding, dtype=str, keep_default_na=False)


def _all(report: CountryReport, source: str) -> pd.DataFrame:
    frames = [
        read_csv(report.out_dir / f.path).assign(_year=f.year)
        for f in report.files
        if f.source == source
    ]
    return pd.concat(frames, ignore_index=True)


# ---------------------------------------------------------------- spec and CLI


def test_scales_and_spec_validation() -> None:
    assert [parse_scale(s) for s in ("region", "10", "country", "7")] == [1, 10, 85, 7]
    for bad in ("0", "100", "państwo", ""):
        with pytest.raises(ValueError, match="scale"):
            parse_scale(bad)
    with pytest.raises(ValueError, match="regions"):
        CountrySpec(regions=0)
    with pytest.raises(ValueError, match="format"):
        CountrySpec(format="xlsx")
    with pytest.raises(ValueError, match="schools per region"):
        CountrySpec(schools_per_region=9001)


def test_cli_generates_a_set_and_prints_rows_per_second(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "set"
    argv = ["generate", "--regions", "2", "--schools", "6", "--years", "2024", "--out", str(out)]
    assert eduq(argv) == 0
    printed = capsys.readouterr().out
    assert "12 schools in 2 regions" in printed and "rows/s" in printed
    manifest = json.loads((out / MANIFEST).read_text(encoding="utf-8"))
    assert manifest["parameters"]["regions"] == 2
    assert manifest["rows"] == sum(f["rows"] for f in manifest["files"])
    assert sorted(p.name for p in out.iterdir()) == ["region_01", "region_02", MANIFEST]
    # Parquet is not loaded by eduq run: it needs a folder of its own; a bad scale is refused
    assert eduq(["generate", "--scale", "region", "--format", "parquet"]) == 2
    assert eduq(["generate", "--scale", "half", "--out", str(tmp_path / "x")]) == 2
    assert "region, 10, country" in capsys.readouterr().err


# ---------------------------------------------------------------- the files


def test_same_spec_gives_identical_files(country_csv: CountryReport, tmp_path: Path) -> None:
    again = generate_country(tmp_path, SPEC)
    assert _hashes(again.out_dir) == _hashes(country_csv.out_dir)
    other = generate_country(tmp_path / "other", CountrySpec(**{**SPEC.to_json(), "seed": 6}))
    assert _hashes(other.out_dir) != _hashes(country_csv.out_dir)


def test_layout_encodings_and_headers(country_csv: CountryReport) -> None:
    out = country_csv.out_dir
    paths = sorted(f.path for f in country_csv.files if f.path.startswith("region_01/"))
    assert paths == sorted(
        [
            "region_01/school_codes.csv",
            "region_01/school_successors.csv",
            "region_01/support_programmes.csv",
            *(f"region_01/schools/schools_{y}.csv" for y in SPEC.years),
            *(f"region_01/vpr/vpr_results_{y}.csv" for y in SPEC.years),
            *(f"region_01/gia/gia_results_{y}.csv" for y in SPEC.years),
            *(f"region_01/social_passport/social_passport_{y}.csv" for y in SPEC.years),
            *(f"region_01/resource_survey/resource_survey_{y}.csv" for y in SPEC.years),
            *(f"region_01/academic_debt/academic_debt_{y}.csv" for y in SPEC.years),
            *(f"region_01/risk_questionnaire/risk_questionnaire_{y}.csv" for y in (2023, 2024)),
        ]
    )
    vpr = (out / "region_02/vpr/vpr_results_2023.csv").read_bytes()
    assert vpr.startswith(";".join(HEADERS["vpr_results"]).encode("cp1251") + b"\r\n")
    assert "явка".encode("cp1251") in vpr and b"\r\n2023;sch02" in vpr
    schools = (out / "region_01/schools/schools_2024.csv").read_bytes()
    assert schools.startswith(b"\xef\xbb\xbf" + ";".join(HEADERS["schools"]).encode())
    codes = (out / "region_01/school_codes.csv").read_text(encoding="utf-8")
    assert codes.startswith("Система;Код в системе;Код ОО\n")
    for f in country_csv.files:  # the report counts data rows as written
        assert len(read_csv(out / f.path)) == f.rows, f.path


def test_codes_are_unique_across_regions(country_csv: CountryReport) -> None:
    codes = _all(country_csv, "school_codes")
    assert not codes.duplicated(["Система", "Код в системе"]).any()
    assert codes.groupby("Код ОО").size().eq(3).all()
    ids = codes["Код ОО"].drop_duplicates()
    assert len(ids) == SPEC.regions * SPEC.schools_per_region
    assert ids.str.fullmatch(r"sch0[12]\d{4}").all()
    rcoi = codes.loc[codes["Система"] == "РЦОИ", "Код в системе"]
    okpo = codes.loc[codes["Система"] == "ОКПО", "Код в системе"]
    assert rcoi.str.fullmatch(r"\d{6}").all() and okpo.str.fullmatch(r"\d{8}").all()
    registry = _all(country_csv, "schools")
    region = registry["Код ОО (логин ФИС ОКО)"].str[3:5]
    assert (registry["Код МО"].str[:2] == region).all()  # municipality codes <RR><MM>
    # one municipality code, one name
    assert registry.groupby("Код МО")["Муниципальное образование"].nunique().eq(1).all()
    vpr = _all(country_csv, "vpr_results")
    assert (vpr["Код участника"].str[5:11] == vpr["Код ОО"].str[3:]).all()
    assert not vpr.duplicated(["Код участника", "Предмет"]).any()
    gia = _all(country_csv, "gia_results")
    assert not gia.duplicated(["Код участника", "Экзамен", "Предмет", "Этап"]).any()


def test_results_follow_the_contracts(country_csv: CountryReport) -> None:
    vpr = _all(country_csv, "vpr_results")
    present = vpr[vpr["Статус"] == "явка"]
    assert set(vpr["Статус"]) == {"явка", "неявка", "аннулирован"}
    assert (vpr.loc[vpr["Статус"] != "явка", ["Первичный балл", "Отметка"]] == "").all().all()
    for (grade, subject), g in present.groupby(["Класс", "Предмет"]):
        scale = BY_CODE[f"VPR_{VPR_SUBJECTS[subject]}_{grade}"].scale
        marks = [scale.mark(int(s)) for s in g["Первичный балл"]]
        assert marks == g["Отметка"].astype(int).tolist(), (grade, subject)
    gia = _all(country_csv, "gia_results")
    sat = gia[gia["Статус"] == "явка"]
    ege = sat[sat["Экзамен"] == "ЕГЭ"]
    ru = ege[ege["Предмет"] == "Русский язык"]
    test = ru["Тестовый балл"].astype(int)
    assert (ru["Первичный балл"].astype(int) == np.rint(test / 2).astype(int)).all()
    assert (ru["Отметка"] == "").all()
    prof = ege[ege["Предмет"] == "Математика (профильная)"]
    assert (prof[["Первичный балл", "Отметка"]] == "").all().all()
    oge = sat[sat["Экзамен"] == "ОГЭ"]
    assert set(oge["Отметка"]) <= {"2", "3", "4", "5"}
    # retakes are of failing participants only; past-year graduates sit the main period of ЕГЭ
    key = ["Код участника", "Предмет"]
    retakes = gia.loc[gia["Этап"] == "дополнительный", key].drop_duplicates()
    earlier = gia[gia["Этап"] != "дополнительный"].merge(retakes, on=key)
    assert earlier.groupby(key)["Отметка"].apply(lambda m: (m == "2").any()).all()
    past = gia[gia["Категория участника"] == "выпускник прошлых лет"]
    assert set(past["Экзамен"]) == {"ЕГЭ"} and set(past["Этап"]) == {"основной"}
    assert past["Код участника"].str.contains("-PG").all()


def test_parquet_and_csv_hold_the_same_facts(
    country_csv: CountryReport, country_parquet: CountryReport
) -> None:
    """Every Parquet file holds the rows of the CSV files of its source and year (all regions),
    typed, under the canonical column names."""
    parquet = {(f.source, f.year): country_parquet.out_dir / f.path for f in country_parquet.files}
    csv_files: dict[tuple[str, int | None], list[Path]] = {}
    for f in country_csv.files:
        csv_files.setdefault((f.source, f.year), []).append(country_csv.out_dir / f.path)
    assert set(parquet) == set(csv_files)
    assert country_parquet.rows_by_source() == country_csv.rows_by_source()
    for (source, year), path in parquet.items():
        table = pq.read_table(path)
        assert table.column_names == list(NAMES[source]), source
        got = pa.table({name: _as_text(table.column(name)) for name in table.column_names})
        expected = pa.concat_tables(
            _csv_as_text(p, table.column_names) for p in csv_files[(source, year)]
        )
        keys = [(name, "ascending") for name in table.column_names]
        assert got.sort_by(keys).equals(expected.sort_by(keys)), (source, year)


def _csv_as_text(path: Path, names: list[str]) -> pa.Table:
    source = _source(path)
    table = pa_csv.read_csv(
        path,
        read_options=pa_csv.ReadOptions(encoding=CSV_ENCODING.get(source, "utf-8")),
        parse_options=pa_csv.ParseOptions(delimiter="," if source == "risk_questionnaire" else ";"),
        convert_options=pa_csv.ConvertOptions(
            column_types=dict.fromkeys(HEADERS[source], pa.string()), strings_can_be_null=False
        ),
    )
    return table.rename_columns(names)


def _as_text(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """A typed Parquet column as the CSV writes it: да/нет, decimal comma, ДД.ММ.ГГГГ, empty."""
    t = column.type
    if pa.types.is_dictionary(t):
        column = column.cast(t.value_type)
    elif pa.types.is_boolean(t):
        column = pc.if_else(column, "да", "нет")
    elif pa.types.is_floating(t):
        column = pa.chunked_array([[f"{v:.2f}".replace(".", ",") for v in column.to_pylist()]])
    elif pa.types.is_date(t):
        column = pa.chunked_array([[v.strftime("%d.%m.%Y") for v in column.to_pylist()]])
    return pc.fill_null(column.cast(pa.string()), "")


# ---------------------------------------------------------------- accepted by the loader


def test_every_source_is_loaded_without_quarantine(
    country_csv: CountryReport, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The loader accepts each source's CSV as written (one file per source: the cost is per
    file), and the second region's codes resolve beside the first's in one warehouse."""
    from core.settings import load_settings
    from ingestion.loader import ingest_all

    monkeypatch.setenv("EDUQ_HOME", str(tmp_path / "eduq"))
    monkeypatch.setenv("EDUQ_TODAY", "2025-11-01")
    for name in ("EDUQ_LANDING_DIR", "EDUQ_WAREHOUSE_DIR", "EDUQ_PUBLICATIONS_DIR"):
        monkeypatch.delenv(name, raising=False)
    settings = load_settings()
    settings.ensure_dirs()
    delivered = [
        f
        for f in country_csv.files
        if f.year in (None, 2024)
        and (
            f.path.startswith("region_01/")
            or f.source in ("school_codes", "schools", "gia_results")
        )
    ]
    assert {f.source for f in delivered} == set(HEADERS)
    for f in delivered:
        target = settings.landing_dir / f.path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes((country_csv.out_dir / f.path).read_bytes())
    with duckdb.connect(str(settings.candidate_db)) as con:
        survey, reports = ingest_all(con, settings)
        assert [o for o in survey.outcomes if o.status != "queued"] == []
        assert {r.source: r.rows_quarantined for r in reports if r.rows_quarantined} == {}
        expected: dict[str, int] = {}
        for f in delivered:
            expected[f.source] = expected.get(f.source, 0) + f.rows
        assert {r.source: r.rows_loaded for r in reports if r.rows_read} == expected
        statuses = con.execute("select status, count(*) from raw._load_log group by 1").fetchall()
        assert statuses == [("loaded", len(delivered))]
        # every ОГЭ/ЕГЭ row of both regions finds its school through the crosswalk
        unresolved = con.execute(
            "select count(*) from raw.gia_results as g where not exists "
            "(select 1 from raw.school_codes as c where c.external_code = g.school_id)"
        ).fetchone()
        assert unresolved == (0,)
