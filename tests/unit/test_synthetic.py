"""The synthetic region generator: determinism, file layouts and encodings, internal
consistency, and the calibration of the ШНОР share (checked independently with pandas)."""

from __future__ import annotations

import csv
import hashlib
import json
import re
import time
import zipfile
from datetime import datetime
from pathlib import Path

import pandas as pd
import pytest
from openpyxl import load_workbook

from synthetic import (
    GENERATOR_VERSION,
    MANIFEST,
    GenerationReport,
    RegionSpec,
    check,
    generate_region,
    parse_years,
)
from synthetic import headers as h
from synthetic.procedures import BY_CODE
from synthetic.region import build_region, municipality_sizes

SMALL = {"seed": 7, "schools": 48, "years": (2022, 2023, 2024)}


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> GenerationReport:
    return generate_region(tmp_path_factory.mktemp("small"), **SMALL)


@pytest.fixture(scope="module")
def default_region(tmp_path_factory: pytest.TempPathFactory) -> tuple[GenerationReport, float]:
    started = time.perf_counter()
    report = generate_region(tmp_path_factory.mktemp("default"))
    return report, time.perf_counter() - started


def _hashes(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _csv(path: Path, encoding: str, delimiter: str = ";") -> pd.DataFrame:
    return pd.read_csv(path, sep=delimiter, encoding=encoding, dtype=str, keep_default_na=False)


def _xlsx(path: Path, header_row: int) -> pd.DataFrame:
    return pd.read_excel(path, header=header_row - 1, engine="calamine", dtype=str)


def _rows(path: Path) -> list[tuple]:
    wb = load_workbook(path)
    return [tuple(row) for row in wb.worksheets[0].iter_rows(values_only=True)]


# ---------------------------------------------------------------- API


def test_parse_years() -> None:
    assert parse_years("2021-2024") == (2021, 2022, 2023, 2024)
    assert parse_years("2021,2023") == (2021, 2023)
    assert parse_years(" 2023 ") == (2023,)
    assert parse_years("2019-2020,2023,2020") == (2019, 2020, 2023)
    for bad in ("", "abc", "2024-2021", "21-24", "2021;2022"):
        with pytest.raises(ValueError):
            parse_years(bad)


def test_spec_validation() -> None:
    assert RegionSpec(years=(2024, 2022, 2022)).years == (2022, 2024)
    with pytest.raises(ValueError):
        RegionSpec(schools=2)
    with pytest.raises(ValueError):
        RegionSpec(years=())
    with pytest.raises(ValueError):
        RegionSpec(region_code="7")


def test_report_and_manifest(small: GenerationReport) -> None:
    out = small.out_dir
    sources = {f.source for f in small.files}
    assert sources == {
        "schools",
        "school_codes",
        "school_successors",
        "vpr_results",
        "vpr_school_stats",
        "gia_results",
        "social_passport",
        "resource_survey",
        "risk_questionnaire",
        "academic_debt",
        "support_programmes",
        "programme_targets",
    }
    for f in small.files:
        path = out / f.path
        assert path.is_file(), f.path
        assert f.rows > 0 or f.source == "school_successors", f
        if path.suffix == ".csv":
            with path.open(
                encoding="cp1251" if f.source in ("vpr_results", "gia_results") else "utf-8-sig",
                newline="",
            ) as fh:
                delimiter = "," if f.source == "risk_questionnaire" else ";"
                assert sum(1 for _ in csv.reader(fh, delimiter=delimiter)) - 1 == f.rows, f.path
    manifest = json.loads((out / MANIFEST).read_text(encoding="utf-8"))
    assert manifest["generator_version"] == GENERATOR_VERSION
    assert manifest["parameters"]["seed"] == 7 and manifest["parameters"]["years"] == [
        2022,
        2023,
        2024,
    ]
    assert {m["path"]: m["rows"] for m in manifest["files"]} == {
        f.path: f.rows for f in small.files
    }
    assert not [p for p in out.rglob("*") if p.name.startswith(".")], "temporary files left behind"


# ---------------------------------------------------------------- determinism


def test_same_seed_gives_identical_files(small: GenerationReport, tmp_path: Path) -> None:
    again = generate_region(tmp_path / "again", **SMALL)
    first, second = _hashes(small.out_dir), _hashes(again.out_dir)
    assert first == second
    assert any(name.endswith(".xlsx") for name in first)


def test_other_seed_gives_other_files(small: GenerationReport, tmp_path: Path) -> None:
    other = generate_region(tmp_path / "other", **{**SMALL, "seed": 8})
    first, second = _hashes(small.out_dir), _hashes(other.out_dir)
    assert first.keys() == second.keys()
    assert first["gia/gia_results_2024.csv"] != second["gia/gia_results_2024.csv"]
    assert first["vpr/vpr_results_2024.csv"] != second["vpr/vpr_results_2024.csv"]


def test_xlsx_has_fixed_timestamps(small: GenerationReport) -> None:
    with zipfile.ZipFile(small.out_dir / "schools/schools_2023.xlsx") as z:
        assert {i.date_time for i in z.infolist()} == {(2000, 1, 1, 0, 0, 0)}
        core = z.read("docProps/core.xml").decode()
    assert core.count("2000-01-01T00:00:00Z") == 2


def test_xlsx_sink_cells_read_back_as_written(tmp_path: Path) -> None:
    """The generator's XLSX writer: every kind of value it writes (text with XML's special
    characters and edge spaces, whole and fractional numbers, a flag, a date, empty cells) reads
    back the same with openpyxl and with calamine (the loader's reader); title and header bold, the
    titles merged across the table, the column widths kept; a text XML cannot hold is refused."""
    import datetime as dt

    from synthetic.writers import XlsxSink

    header = ("Код", "Название <ОО> & «филиал»", "Число", "Доля", "Флаг", "Дата")
    rows = [
        ("sch0001", " ведущий и хвостовой пробел ", 12, 0.125, True, dt.date(2023, 9, 1)),
        ("sch0002", "кавычки \"двойные\" и 'одинарные'", -3, 1e-7, False, dt.date(1999, 12, 31)),
        ("sch0003", None, 0, 2.5, None, None),
    ]
    path = tmp_path / "t.xlsx"
    with XlsxSink(path, "Лист «1»", header, title=("Заголовок", "Год"), widths=(10, 40.5)) as sink:
        for row in rows:
            sink.write(row)
    assert sink.rows == 3 and not list(tmp_path.glob(".*"))
    wb = load_workbook(path)
    ws = wb.worksheets[0]
    assert wb.sheetnames == ["Лист «1»"]
    assert {str(r) for r in ws.merged_cells.ranges} == {"A1:F1", "A2:F2"}
    values = [tuple(r) for r in ws.iter_rows(values_only=True)]
    assert values[0][0] == "Заголовок" and values[1][0] == "Год"
    assert all(v is None for v in values[2]) and values[3] == header
    got = [r[:5] + (r[5].date() if r[5] else None,) for r in values[4:]]
    assert got == rows
    assert ws["A1"].font.b and ws["B4"].font.b and not ws["B5"].font.b
    assert ws.column_dimensions["A"].width == 10 and ws.column_dimensions["B"].width == 40.5
    read = pd.read_excel(path, header=3, engine="calamine")
    assert tuple(read.columns) == header
    assert read["Название <ОО> & «филиал»"].tolist()[:2] == [rows[0][1], rows[1][1]]
    assert read["Число"].tolist() == [12, -3, 0] and read["Доля"].tolist() == [0.125, 1e-7, 2.5]
    assert list(read["Дата"][:2].dt.date) == [dt.date(2023, 9, 1), dt.date(1999, 12, 31)]
    with (
        pytest.raises(ValueError, match="XML cannot hold"),
        XlsxSink(tmp_path / "bad.xlsx", "s", ("a",)) as bad,
    ):
        bad.write(("bell \x07",))
    assert not (tmp_path / "bad.xlsx").exists() and not list(tmp_path.glob(".bad*"))


def test_a_school_year_does_not_depend_on_other_years(
    small: GenerationReport, tmp_path: Path
) -> None:
    fewer = generate_region(tmp_path / "fewer", **{**SMALL, "years": (2023, 2024)})
    involved = set()
    for path in (
        small.out_dir / "school_successors.xlsx",
        fewer.out_dir / "school_successors.xlsx",
    ):
        df = _xlsx(path, 1)
        involved |= set(df["Код ОО (прежний)"]) | set(df["Код ОО (правопреемник)"])
    codes = _csv(small.out_dir / "school_codes.csv", "utf-8")
    involved_exam = set(
        codes[codes["Код ОО"].isin(involved) & (codes["Система"] == "РЦОИ")]["Код в системе"]
    )

    def rows(report: GenerationReport) -> pd.DataFrame:
        df = _csv(report.out_dir / "gia/gia_results_2024.csv", "cp1251")
        return df[~df["Код ОО"].isin(involved_exam)].reset_index(drop=True)

    pd.testing.assert_frame_equal(rows(small), rows(fewer))


# ---------------------------------------------------------------- layouts and encodings


def test_csv_encodings_and_headers(small: GenerationReport) -> None:
    out = small.out_dir
    for path, header in (
        (out / "vpr/vpr_results_2024.csv", h.VPR_RESULTS),
        (out / "gia/gia_results_2023.csv", h.GIA_RESULTS),
    ):
        data = path.read_bytes()
        with pytest.raises(UnicodeDecodeError):
            data.decode("utf-8")
        assert data.decode("cp1251").splitlines()[0] == ";".join(header)
    data = (out / "resource_survey/resource_survey_2022.csv").read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    assert data[3:].decode("utf-8").splitlines()[0] == ";".join(h.RESOURCE_SURVEY)
    for name, header, sep in (
        ("school_codes.csv", h.SCHOOL_CODES, ";"),
        ("support_programmes.csv", h.SUPPORT_PROGRAMMES, ";"),
        ("programme_targets.csv", h.PROGRAMME_TARGETS, ";"),
        ("risk_questionnaire/risk_questionnaire_2023.csv", h.RISK_QUESTIONNAIRE, ","),
    ):
        data = (out / name).read_bytes()
        assert not data.startswith(b"\xef\xbb\xbf"), name
        assert data.decode("utf-8").splitlines()[0] == sep.join(header), name


def test_xlsx_title_blocks_and_headers(small: GenerationReport) -> None:
    out = small.out_dir
    region = RegionSpec().region_name
    wb = load_workbook(out / "schools/schools_2023.xlsx")
    ws = wb.worksheets[0]
    assert wb.sheetnames == ["Реестр ОО"]
    assert ws["A1"].value == "Реестр общеобразовательных организаций"
    assert ws["A2"].value == f"{region}, 2023 год"
    assert {str(r) for r in ws.merged_cells.ranges} == {"A1:I1", "A2:I2"}
    rows = [tuple(r) for r in ws.iter_rows(values_only=True)]
    assert all(v is None for v in rows[2])
    assert rows[3] == h.SCHOOLS

    wb = load_workbook(out / "vpr/vpr_school_stats_2022.xlsx")
    ws = wb.worksheets[0]
    assert wb.sheetnames == ["Статистика по ОО"]
    assert ws["A1"].value == "Статистика по отметкам ВПР 2022"
    assert {str(r) for r in ws.merged_cells.ranges} == {"A1:I1"}
    rows = [tuple(r) for r in ws.iter_rows(values_only=True)]
    assert all(v is None for v in rows[1]) and rows[2] == h.VPR_STATS

    wb = load_workbook(out / "social_passport/social_passport_2024.xlsx")
    ws = wb.worksheets[0]
    assert wb.sheetnames == ["Социальный паспорт"]
    assert {str(r) for r in ws.merged_cells.ranges} == {"A1:K1", "A2:K2"}
    assert ws["A2"].value == f"{region}, 2024 год"
    rows = [tuple(r) for r in ws.iter_rows(values_only=True)]
    assert all(v is None for v in rows[2]) and rows[3] == h.SOCIAL_PASSPORT

    wb = load_workbook(out / "school_successors.xlsx")
    assert wb.sheetnames == ["Реорганизация"]
    rows = [tuple(r) for r in wb.worksheets[0].iter_rows(values_only=True)]
    assert rows[0] == h.SUCCESSORS
    assert len(rows) > 1 and all(isinstance(r[2], datetime) for r in rows[1:])

    wb = load_workbook(out / "academic_debt/academic_debt_2023.xlsx")
    assert wb.sheetnames == ["Академическая задолженность"]
    assert next(wb.worksheets[0].iter_rows(values_only=True)) == h.ACADEMIC_DEBT


def test_vpr_format_per_year(small: GenerationReport) -> None:
    out = small.out_dir
    assert (out / "vpr/vpr_school_stats_2022.xlsx").exists() and not (
        out / "vpr/vpr_results_2022.csv"
    ).exists()
    for year in (2023, 2024):
        assert (out / f"vpr/vpr_results_{year}.csv").exists()
        assert not (out / f"vpr/vpr_school_stats_{year}.xlsx").exists()
    assert not (out / "risk_questionnaire/risk_questionnaire_2022.csv").exists()
    stats = _xlsx(out / "vpr/vpr_school_stats_2022.xlsx", 3)
    marks = stats[["«2»", "«3»", "«4»", "«5»"]].astype(int)
    assert (marks.sum(axis=1) == stats["Количество участников"].astype(int)).all()
    assert (stats["Количество участников"].astype(int) > 0).all()
    assert set(stats["Класс"].astype(int)) == {4, 5, 6, 7, 8}


# ---------------------------------------------------------------- consistency


def test_registry(small: GenerationReport) -> None:
    reg = check.registry(small.out_dir)
    assert reg["school_id"].str.fullmatch(r"sch99\d{4}").all()
    assert reg["Код МО"].str.fullmatch(r"\d{2}").all()
    assert set(reg["locality"]) == {"город", "село"}
    for col in ("Малокомплектная", "Есть 9 класс", "Есть 11 класс"):
        assert set(reg[col]) <= {"да", "нет"}
    small_school = reg["Численность обучающихся"].astype(int) < 100
    assert (small_school == (reg["Малокомплектная"] == "да")).all()
    assert not reg.duplicated(["year", "school_id"]).any()
    assert not reg.duplicated(["year", "Наименование ОО"]).any()
    assert ((reg["Есть 11 класс"] == "да") <= (reg["Есть 9 класс"] == "да")).all()
    assert (reg["Есть 11 класс"] == "нет").any()
    assert reg["Муниципальное образование"].str.startswith("г. ").any()
    assert reg["Муниципальное образование"].str.endswith(" МР").any()


def test_big_region_codes_and_municipalities() -> None:
    assert municipality_sizes(335) == [
        84,
        27,
        26,
        24,
        24,
        20,
        19,
        15,
        12,
        12,
        12,
        10,
        10,
        9,
        8,
        7,
        7,
        5,
        4,
    ]
    sizes = municipality_sizes(38000)
    assert sum(sizes) == 38000 and len(sizes) == round(38000 / 18)
    assert 0.2 < sizes[0] / 38000 < 0.3
    region = build_region(RegionSpec(schools=12000, years=(2024,)))
    ids = [s.school_id for s in region.schools]
    assert ids[0] == "sch9900001" and len(set(ids)) == 12000
    assert len({s.exam_code for s in region.schools}) == 12000
    assert all(re.fullmatch(r"\d{6}", s.exam_code) for s in region.schools)
    assert len({s.okpo for s in region.schools}) == 12000
    assert (
        region.municipalities[0].code == "001"
        and region.municipalities[-1].code == f"{len(region.municipalities)}"
    )
    assert len({m.name for m in region.municipalities}) == len(region.municipalities)


def test_crosswalk(small: GenerationReport) -> None:
    codes = _csv(small.out_dir / "school_codes.csv", "utf-8")
    assert set(codes["Система"]) == {"ФИС ОКО", "РЦОИ", "ОКПО"}
    assert not codes.duplicated(["Система", "Код в системе"]).any()
    assert codes.groupby("Система")["Код ОО"].nunique().eq(SMALL["schools"]).all()
    rcoi = codes[codes["Система"] == "РЦОИ"]
    assert rcoi["Код в системе"].str.fullmatch(r"\d{6}").all()
    assert codes[codes["Система"] == "ОКПО"]["Код в системе"].str.fullmatch(r"\d{8}").all()
    registry_ids = set(check.registry(small.out_dir)["school_id"])
    assert (
        set(codes["Код ОО"]) == registry_ids
    )  # every school of every year, reorganised ones included


def test_vpr_results_consistency(small: GenerationReport) -> None:
    df = _csv(small.out_dir / "vpr/vpr_results_2024.csv", "cp1251")
    assert set(df["Статус"]) == {"явка", "неявка", "аннулирован"}
    present = df["Статус"] == "явка"
    assert (df.loc[present, "Отметка"] != "").all() and (
        df.loc[present, "Первичный балл"] != ""
    ).all()
    assert (df.loc[~present, "Отметка"] == "").all() and (
        df.loc[~present, "Первичный балл"] == ""
    ).all()
    absent = (df["Статус"] == "неявка").mean()
    assert 0.015 < absent < 0.05
    assert set(df["Класс"].astype(int)) == {4, 5, 6, 7, 8}
    assert set(df.loc[df["Класс"] == "4", "Предмет"]) == {
        "Русский язык",
        "Математика",
        "Окружающий мир",
    }
    assert set(df.loc[df["Класс"] != "4", "Предмет"]) == {"Русский язык", "Математика"}
    assert not df.duplicated(["Код участника", "Предмет"]).any()
    assert df["Код участника"].str.startswith("2024-").all()
    from synthetic.procedures import VPR_BY_GRADE

    scales = {(p.grade, p.subject): p.scale for ps in VPR_BY_GRADE.values() for p in ps}
    sub = df[present]
    recomputed = [
        scales[(int(g), s)].mark(int(score))
        for g, s, score in zip(sub["Класс"], sub["Предмет"], sub["Первичный балл"])
    ]
    assert recomputed == sub["Отметка"].astype(int).tolist()


def test_gia_results_consistency(small: GenerationReport) -> None:
    out = small.out_dir
    df = _csv(out / "gia/gia_results_2024.csv", "cp1251")
    codes = _csv(out / "school_codes.csv", "utf-8")
    rcoi = set(codes.loc[codes["Система"] == "РЦОИ", "Код в системе"])
    assert set(df["Код ОО"]) <= rcoi
    assert set(df["Экзамен"]) == {"ОГЭ", "ЕГЭ"}
    assert set(df["Категория участника"]) == {"выпускник текущего года", "выпускник прошлых лет"}
    assert set(df["Этап"]) == {"основной", "резервный", "дополнительный"}
    assert set(df["Статус"]) <= {"явка", "неявка", "аннулирован"}
    assert not df.duplicated(["Код ОО", "Экзамен", "Предмет", "Код участника", "Этап"]).any()
    for col in ("Первичный балл", "Тестовый балл", "Отметка"):
        assert df[col].str.fullmatch(r"\d*").all(), col  # integers only
    present = df["Статус"] == "явка"
    oge = df[(df["Экзамен"] == "ОГЭ") & present]
    assert set(oge["Предмет"]) == {"Русский язык", "Математика"}
    assert (oge["Тестовый балл"] == "").all()
    for subject, code in (("Русский язык", "OGE_RU"), ("Математика", "OGE_MA")):
        part = oge[oge["Предмет"] == subject]
        scale = BY_CODE[code].scale
        assert [scale.mark(int(s)) for s in part["Первичный балл"]] == part["Отметка"].astype(
            int
        ).tolist()
    ru, ma = oge[oge["Предмет"] == "Русский язык"], oge[oge["Предмет"] == "Математика"]
    assert ((ru["Первичный балл"].astype(int) < 15) == (ru["Отметка"] == "2")).all()
    assert ((ma["Первичный балл"].astype(int) < 8) == (ma["Отметка"] == "2")).all()
    ege = df[(df["Экзамен"] == "ЕГЭ") & present]
    for subject in ("Русский язык", "Математика (профильная)"):
        part = ege[ege["Предмет"] == subject]
        assert (part["Отметка"] == "").all() and part["Тестовый балл"].astype(int).between(
            0, 100
        ).all()
    base = ege[ege["Предмет"] == "Математика (базовая)"]
    assert (base["Тестовый балл"] == "").all() and base["Отметка"].astype(int).between(2, 5).all()
    assert (df.loc[~present, ["Первичный балл", "Тестовый балл", "Отметка"]] == "").all().all()
    # every current graduate in grade 11 takes exactly one of base and profile maths on the main day
    main_math = df[
        (df["Экзамен"] == "ЕГЭ")
        & df["Предмет"].str.startswith("Математика")
        & (df["Этап"] == "основной")
        & (df["Категория участника"] == "выпускник текущего года")
    ]
    assert not main_math.duplicated(["Код ОО", "Код участника"]).any()
    # reserve day: only those absent on the main day; additional period: retakes of a failed result
    key = ["Код ОО", "Экзамен", "Предмет", "Код участника"]
    main = df[df["Этап"] == "основной"].set_index(key)
    reserve = df[df["Этап"] == "резервный"].set_index(key)
    assert (main.loc[reserve.index, "Статус"] == "неявка").all()
    retakes = df[df["Этап"] == "дополнительный"]
    assert len(retakes) > 0
    first = df[df["Этап"] != "дополнительный"]
    failed = first[(first["Статус"] == "явка") & (first["Отметка"] == "2")].set_index(key).index
    assert retakes.set_index(key).index.isin(failed).all()


def test_context_counts_within_totals(small: GenerationReport) -> None:
    out = small.out_dir
    sp = _xlsx(out / "social_passport/social_passport_2023.xlsx", 4)
    total = sp["Всего обучающихся"].astype(int)
    for col in h.SOCIAL_PASSPORT[3:]:
        values = pd.to_numeric(sp[col])
        assert ((values <= total) | values.isna()).all(), col
    rs = _csv(out / "resource_survey/resource_survey_2023.csv", "utf-8-sig")
    assert (
        rs["Педагоги пенсионного возраста"].astype(int) <= rs["Всего педагогов"].astype(int)
    ).all()
    assert rs["Средняя нагрузка (ставок)"].str.fullmatch(r"\d,\d\d").all()
    assert set(rs["Состояние здания"]) <= {"норма", "требует капремонта", "аварийное"}
    for col in h.RESOURCE_SURVEY:
        if col.startswith("Есть") or col in (
            "Скоростной интернет",
            "Точка роста",
            "ЦОС",
            "Русский язык и математику ведут неспециалисты",
        ):
            assert set(rs[col]) <= {"да", "нет"}, col
    debt = _xlsx(out / "academic_debt/academic_debt_2023.xlsx", 1)
    n = {c: debt[c].astype(int) for c in h.ACADEMIC_DEBT[3:]}
    with_debt = n["Имеют академическую задолженность"]
    assert (with_debt <= n["Всего обучающихся"]).all()
    for col in ("Посещают дополнительные занятия", "Имеют ИОМ", "Ликвидировали задолженность"):
        assert (n[col] <= with_debt).all(), col
    assert set(debt["Учебный год"]) == {"2022/2023"}
    assert debt.groupby("Код ОО")["Период"].apply(set).eq({"февраль", "конец учебного года"}).all()
    risk = _csv(out / "risk_questionnaire/risk_questionnaire_2024.csv", "utf-8", ",")
    items = [f"F{f:02d}_{i}" for f in range(1, 11) for i in range(1, 4)]
    assert risk.groupby("Код ОО")["Код вопроса"].apply(list).apply(lambda x: x == items).all()
    assert risk["Ответ"].astype(int).between(1, 5).all()
    assert len(set(risk["Ответ"])) == 5


def test_successor_schools_continue(small: GenerationReport) -> None:
    out = small.out_dir
    succ = check.successors(out)
    assert len(succ) >= 3
    reg = check.registry(out)
    counts = check.procedure_counts(out)
    years = set(SMALL["years"])
    for row in _rows(out / "school_successors.xlsx")[1:]:
        old, new, date = row
        first = succ[old][1]
        assert date == datetime(first - 1, 9, 1)
        assert set(reg.loc[reg["school_id"] == old, "year"]) == {y for y in years if y < first}
        assert set(reg.loc[reg["school_id"] == new, "year"]) == years
        assert set(counts.loc[counts["school_id"] == old, "year"]) == {
            y for y in years if y < first
        }
        assert set(counts.loc[counts["school_id"] == new, "year"]) == years
        old_size = reg.loc[
            (reg["school_id"] == old) & (reg["year"] == first - 1), "Численность обучающихся"
        ]
        new_size = (
            reg.loc[reg["school_id"] == new]
            .set_index("year")["Численность обучающихся"]
            .astype(int)
        )
        assert new_size[first] - new_size[first - 1] > 0.5 * int(
            old_size.iloc[0]
        )  # the students moved over


def test_small_schools_have_few_participants(small: GenerationReport) -> None:
    counts = check.procedure_counts(small.out_dir)
    counted = counts[counts["procedure_code"].isin(check.COUNTED)]
    assert (
        (counted["participants"] > 0) & (counted["participants"] < check.MIN_PARTICIPANTS)
    ).any()


def test_support_programmes(small: GenerationReport) -> None:
    df = _csv(small.out_dir / "support_programmes.csv", "utf-8")
    assert set(df["Программа"]) == {"500+ 2021", "500+ 2022", "региональная программа"}
    assert not df["Код ОО"].duplicated().any()
    assert dict(zip(df["Программа"], df["Год"])) == {
        "500+ 2021": "2021",
        "500+ 2022": "2022",
        "региональная программа": "2023",
    }


# ---------------------------------------------------------------- calibration (default region)


def test_default_region_listed_share(default_region: tuple[GenerationReport, float]) -> None:
    report, seconds = default_region
    out = report.out_dir
    print(f"\ndefault region (335 schools, 2021-2024): generated in {seconds:.1f} s")
    for source, rows in sorted(report.rows_by_source().items()):
        print(f"  {source:20s} {rows:>8d} rows")
    shares = check.listed_share(out)
    print(shares.to_string(index=False))
    assert list(shares["results_year"]) == [2022, 2023, 2024]
    assert shares["share"].between(0.15, 0.40).all()
    # the FIOKO severity clusters are all populated
    pooled = shares[["basic", "moderate", "severe"]].sum()
    assert (pooled > 0).all(), pooled
    listed = check.listed_schools(out)
    assert listed["measure"].between(0.30, 1.0).all()


def test_default_region_shape(default_region: tuple[GenerationReport, float]) -> None:
    report, _ = default_region
    out = report.out_dir
    reg = check.registry(out)
    first = reg[reg["year"] == 2021]
    assert len(first) == 335
    sizes = first.groupby("Код МО").size().sort_values(ascending=False).tolist()
    assert sizes == [84, 27, 26, 24, 24, 20, 19, 15, 12, 12, 12, 10, 10, 9, 8, 7, 7, 5, 4]
    assert len(check.successors(out)) >= 3
    rural = first[first["locality"] == "село"]
    assert 0.3 < (rural["Есть 11 класс"] == "нет").mean() < 0.65
    assert (first["Есть 9 класс"] == "нет").sum() >= 1
    assert (rural["Малокомплектная"] == "да").mean() > 0.3
    programmes = _csv(out / "support_programmes.csv", "utf-8")["Программа"].value_counts().to_dict()
    assert programmes == {"500+ 2021": 11, "500+ 2022": 42, "региональная программа": 28}
    deficits = check.deficit_shares(out)
    print("\n" + deficits.round(3).to_string(index=False))
    assert deficits["staffing"].between(0.40, 0.60).all()
    assert deficits["infrastructure"].between(0.50, 0.70).all()
    # a handful of social passports with blanks; fewer than 4 ИСБШ inputs only for very few
    sp = _xlsx(out / "social_passport/social_passport_2024.xlsx", 4)
    blanks = sp[list(h.SOCIAL_PASSPORT[3:])].isna().sum(axis=1)
    assert 1 <= (blanks == 3).sum() <= 25
    assert (blanks > 4).sum() <= 6
    # latent quality shows in the data: listed schools have a lower social context
    social = sp.dropna(subset=["Оба родителя с высшим образованием"])
    share_higher = social["Оба родителя с высшим образованием"].astype(int) / social[
        "Всего обучающихся"
    ].astype(int)
    listed = set(check.listed_schools(out).query("results_year == 2024")["school_id"])
    is_listed = social["Код ОО"].isin(listed)
    assert share_higher[is_listed].mean() < share_higher[~is_listed].mean()
