"""Independent check of a generated region: the default ШНОР rule (methodology §2, profile
fioko_2025) and the §4 resource-deficit rules computed with pandas straight from the files,
without any warehouse code. Used by the tests and to calibrate the generator.

Counted results: ВПР — status «явка» with a mark; ОГЭ/ЕГЭ — current-year graduates, status
«явка» with a result, the first attempt actually sat in the main period (main or reserve day;
the additional period is never counted), mapped from the РЦОИ code to the FIS OKO login.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

THRESHOLD = 0.30
MIN_PARTICIPANTS = 5
MIN_FLAGGED = 2
COUNTED = (
    "VPR_RU_5",
    "VPR_RU_6",
    "VPR_MA_5",
    "VPR_MA_6",
    "OGE_RU",
    "OGE_MA",
    "EGE_RU",
    "EGE_MA_PROF",
    "EGE_MA_BASE",
)
VPR_SUBJECT_CODES = {"Русский язык": "RU", "Математика": "MA", "Окружающий мир": "OM"}
GIA_PROCEDURES = {  # (exam, subject) -> (procedure, result column, failing below)
    ("ОГЭ", "Русский язык"): ("OGE_RU", "Отметка", 3),
    ("ОГЭ", "Математика"): ("OGE_MA", "Отметка", 3),
    ("ЕГЭ", "Русский язык"): ("EGE_RU", "Тестовый балл", 24),
    ("ЕГЭ", "Математика (профильная)"): ("EGE_MA_PROF", "Тестовый балл", 27),
    ("ЕГЭ", "Математика (базовая)"): ("EGE_MA_BASE", "Отметка", 3),
}
KEYS = ["school_id", "procedure_code", "year"]


def _csv(
    path: Path, encoding: str, sep: str = ";", usecols: list[str] | None = None
) -> pd.DataFrame:
    return pd.read_csv(
        path, sep=sep, encoding=encoding, dtype=str, keep_default_na=False, usecols=usecols
    )


def _xlsx(path: Path, header_row: int) -> pd.DataFrame:
    """Read a sheet whose header is on `header_row` (1-based)."""
    return pd.read_excel(path, header=header_row - 1, engine="calamine", dtype=str)


def registry(out_dir: Path) -> pd.DataFrame:
    frames = []
    for path in sorted((out_dir / "schools").glob("schools_*.xlsx")):
        df = _xlsx(path, 4)
        df["year"] = int(path.stem.rsplit("_", 1)[1])
        frames.append(df)
    df = pd.concat(frames, ignore_index=True)
    return df.rename(columns={"Код ОО (логин ФИС ОКО)": "school_id", "Тип местности": "locality"})


def successors(out_dir: Path) -> dict[str, tuple[str, int]]:
    """old school -> (successor, first results year under the successor)."""
    df = pd.read_excel(out_dir / "school_successors.xlsx", engine="calamine")
    result = {}
    for old, new, date in zip(
        df["Код ОО (прежний)"], df["Код ОО (правопреемник)"], df["Дата реорганизации"]
    ):
        date = pd.Timestamp(date)
        result[str(old)] = (str(new), date.year + (1 if date.month >= 7 else 0))
    return result


def _vpr_counts(out_dir: Path) -> pd.DataFrame:
    frames = []
    for path in sorted((out_dir / "vpr").glob("vpr_results_*.csv")):
        df = _csv(
            path, "cp1251", usecols=["Год", "Код ОО", "Класс", "Предмет", "Отметка", "Статус"]
        )
        df = df[(df["Статус"] == "явка") & (df["Отметка"] != "")]
        frames.append(
            pd.DataFrame(
                {
                    "school_id": df["Код ОО"],
                    "procedure_code": "VPR_"
                    + df["Предмет"].map(VPR_SUBJECT_CODES)
                    + "_"
                    + df["Класс"],
                    "year": df["Год"].astype(int),
                    "failing": df["Отметка"].astype(int) == 2,
                }
            )
            .groupby(KEYS)
            .agg(participants=("failing", "size"), failing=("failing", "sum"))
            .reset_index()
        )
    for path in sorted((out_dir / "vpr").glob("vpr_school_stats_*.xlsx")):
        df = _xlsx(path, 3)
        marks = df[["«2»", "«3»", "«4»", "«5»"]].astype(int)
        frames.append(
            pd.DataFrame(
                {
                    "school_id": df["Код ОО"],
                    "procedure_code": "VPR_"
                    + df["Предмет"].map(VPR_SUBJECT_CODES)
                    + "_"
                    + df["Класс"],
                    "year": df["Год"].astype(int),
                    "participants": marks.sum(axis=1),
                    "failing": marks["«2»"],
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def _gia_counts(out_dir: Path) -> pd.DataFrame:
    codes = _csv(out_dir / "school_codes.csv", "utf-8")
    rcoi = codes[codes["Система"] == "РЦОИ"]
    to_school = dict(zip(rcoi["Код в системе"], rcoi["Код ОО"]))
    frames = []
    for path in sorted((out_dir / "gia").glob("gia_results_*.csv")):
        df = _csv(path, "cp1251")
        df = df[
            (df["Категория участника"] == "выпускник текущего года")
            & (df["Этап"] != "дополнительный")
            & (df["Статус"] == "явка")
        ]
        info = [
            GIA_PROCEDURES.get(k, (None, "Отметка", np.nan))
            for k in zip(df["Экзамен"], df["Предмет"])
        ]
        measure = np.array([i[1] for i in info])
        df = df.assign(
            procedure_code=[i[0] for i in info],
            value=np.where(measure == "Отметка", df["Отметка"], df["Тестовый балл"]),
            fail_below=[i[2] for i in info],
        )
        df = df[df["procedure_code"].notna() & (df["value"] != "")]
        # the first attempt actually sat (file order: main day before reserve day)
        df = df.drop_duplicates(
            subset=["Год", "Код ОО", "procedure_code", "Код участника"], keep="first"
        )
        frames.append(
            pd.DataFrame(
                {
                    "school_id": df["Код ОО"].map(to_school),
                    "procedure_code": df["procedure_code"],
                    "year": df["Год"].astype(int),
                    "failing": df["value"].astype(float) < df["fail_below"],
                }
            )
            .groupby(KEYS)
            .agg(participants=("failing", "size"), failing=("failing", "sum"))
            .reset_index()
        )
    return pd.concat(frames, ignore_index=True)


def procedure_counts(out_dir: Path) -> pd.DataFrame:
    """N (participants) and F (failing) per school, procedure and year, all procedures."""
    df = pd.concat([_vpr_counts(Path(out_dir)), _gia_counts(Path(out_dir))], ignore_index=True)
    df = df.groupby(KEYS, as_index=False)[["participants", "failing"]].sum()
    df = df[df["participants"] > 0].astype({"participants": int, "failing": int})
    return df.sort_values(KEYS).reset_index(drop=True)


def flags(
    counts: pd.DataFrame,
    succ: dict[str, tuple[str, int]],
    threshold: float = THRESHOLD,
    min_participants: int = MIN_PARTICIPANTS,
) -> pd.DataFrame:
    """Counted procedures with flag(t) and flag(t-1); the previous year of a school that merged
    into another counts for its successor."""
    df = counts[counts["procedure_code"].isin(COUNTED)].copy()
    df["share"] = df["failing"] / df["participants"]
    df["flag"] = (df["participants"] >= min_participants) & (df["share"] >= threshold - 1e-12)
    prior = df[KEYS + ["participants", "failing"]].copy()
    prior["year"] += 1
    prior["school_id"] = [
        succ[s][0] if s in succ and succ[s][1] <= y else s
        for s, y in zip(prior["school_id"], prior["year"])
    ]
    prior = prior.groupby(KEYS, as_index=False)[["participants", "failing"]].sum()
    prior["prior_flag"] = (prior["participants"] >= min_participants) & (
        prior["failing"] / prior["participants"] >= threshold - 1e-12
    )
    df = df.merge(prior[KEYS + ["prior_flag"]], on=KEYS, how="left")
    df["prior_flag"] = df["prior_flag"].astype("boolean").fillna(False).astype(bool)
    return df


def listed_schools(
    out_dir: Path,
    threshold: float = THRESHOLD,
    min_participants: int = MIN_PARTICIPANTS,
    min_flagged: int = MIN_FLAGGED,
) -> pd.DataFrame:
    """Schools meeting the rule per results year, with the pooled share over their flagged
    procedures and the FIOKO cluster (basic 0.30-0.40, moderate 0.40-0.50, severe > 0.50)."""
    out_dir = Path(out_dir)
    df = flags(procedure_counts(out_dir), successors(out_dir), threshold, min_participants)
    flagged = df[df["flag"]]
    g = (
        flagged.groupby(["school_id", "year"])
        .agg(
            flagged=("flag", "size"),
            persistent=("prior_flag", "any"),
            n=("participants", "sum"),
            f=("failing", "sum"),
        )
        .reset_index()
    )
    g = g[(g["flagged"] >= min_flagged) & g["persistent"]].copy()
    g["measure"] = g["f"] / g["n"]
    g["cluster"] = np.where(
        g["measure"] > 0.5, "severe", np.where(g["measure"] >= 0.4, "moderate", "basic")
    )
    return g.rename(columns={"year": "results_year"})[
        ["school_id", "results_year", "flagged", "measure", "cluster"]
    ]


def listed_share(out_dir: Path) -> pd.DataFrame:
    """Per results year that has a previous year in the data: schools in the registry, listed
    schools, their share and the count per cluster."""
    out_dir = Path(out_dir)
    reg = registry(out_dir)
    listed = listed_schools(out_dir)
    years = sorted(reg["year"].unique())
    rows = []
    for year in years:
        if year - 1 not in years:
            continue
        lst = listed[listed["results_year"] == year]
        n = int((reg["year"] == year).sum())
        rows.append(
            {
                "results_year": int(year),
                "schools": n,
                "listed": len(lst),
                "share": len(lst) / n,
                **{c: int((lst["cluster"] == c).sum()) for c in ("basic", "moderate", "severe")},
            }
        )
    return pd.DataFrame(rows)


def _yes(series: pd.Series) -> pd.Series:
    return series == "да"


def deficit_shares(out_dir: Path) -> pd.DataFrame:
    """Shares of schools with staffing / infrastructure deficits per year (methodology §4
    defaults; «no psychologist or speech therapist» = either of them missing)."""
    out_dir = Path(out_dir)
    rows = []
    for path in sorted((out_dir / "resource_survey").glob("resource_survey_*.csv")):
        year = int(path.stem.rsplit("_", 1)[1])
        rs = _csv(path, "utf-8-sig")
        sp = _xlsx(out_dir / "social_passport" / f"social_passport_{year}.xlsx", 4)
        df = rs.merge(
            sp[["Код ОО", "Обучающиеся с ОВЗ", "Всего обучающихся"]], on="Код ОО", how="left"
        )
        teachers = df["Всего педагогов"].astype(int)
        disabled = pd.to_numeric(df["Обучающиеся с ОВЗ"], errors="coerce").fillna(0) > 0
        staffing = (
            (df["Вакансии"].astype(int) > 0)
            | (df["Средняя нагрузка (ставок)"].str.replace(",", ".").astype(float) > 1.5)
            | (df["Педагоги пенсионного возраста"].astype(int) >= 0.3 * teachers)
            | _yes(df["Русский язык и математику ведут неспециалисты"])
            | (disabled & ~(_yes(df["Есть педагог-психолог"]) & _yes(df["Есть логопед"])))
        )
        per_student = df["Количество компьютеров"].astype(int) / df["Всего обучающихся"].astype(int)
        infrastructure = (
            ~_yes(df["Скоростной интернет"])
            | (df["Состояние здания"] != "норма")
            | ~_yes(df["Есть водоснабжение, канализация, отопление"])
            | ~_yes(df["Есть спортзал"])
            | (per_student < per_student.median() / 2)
            | ~_yes(df["Есть лаборатория"])
        )
        rows.append(
            {
                "year": year,
                "schools": len(df),
                "staffing": float(staffing.mean()),
                "infrastructure": float(infrastructure.mean()),
                "both": float((staffing & infrastructure).mean()),
            }
        )
    return pd.DataFrame(rows)
