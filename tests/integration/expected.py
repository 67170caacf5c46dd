"""Expected results computed independently of the warehouse, straight from the landing files
with pandas, following docs/methodology.md (default profile fioko_2025). Used by the
end-to-end tests to check the pipeline; deliberately written without any project code."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

MIN_PARTICIPANTS = 5
THRESHOLD = 0.30
COUNTED = [
    "VPR_RU_5",
    "VPR_RU_6",
    "VPR_MA_5",
    "VPR_MA_6",
    "OGE_RU",
    "OGE_MA",
    "EGE_RU",
    "EGE_MA_PROF",
    "EGE_MA_BASE",
]
GIA_PROCEDURES = {
    ("ОГЭ", "Русский язык"): ("OGE_RU", "mark", 3),
    ("ОГЭ", "Математика"): ("OGE_MA", "mark", 3),
    ("ЕГЭ", "Русский язык"): ("EGE_RU", "test", 24),
    ("ЕГЭ", "Математика (профильная)"): ("EGE_MA_PROF", "test", 27),
    ("ЕГЭ", "Математика (базовая)"): ("EGE_MA_BASE", "mark", 3),
}
VPR_SUBJECTS = {"Русский язык": "RU", "Математика": "MA", "Окружающий мир": "OM"}


def read_xlsx(path: Path) -> pd.DataFrame:
    """Find the header row (the first row containing «Код ОО») and read below it."""
    raw = pd.read_excel(path, header=None, dtype=str)
    header = next(
        i
        for i, row in raw.iterrows()
        if any(str(v).startswith("Код ОО") for v in row if isinstance(v, str))
    )
    frame = raw.iloc[header + 1 :].copy()
    frame.columns = [str(c) for c in raw.iloc[header]]
    return frame.dropna(how="all").reset_index(drop=True)


def count_rows(landing: Path) -> dict[str, int]:
    """Data rows per source, as delivered."""
    counts: dict[str, int] = {}
    for path in sorted(landing.rglob("*")):
        if not path.is_file() or path.suffix not in (".csv", ".xlsx"):
            continue
        source = _source_of(path)
        if path.suffix == ".xlsx":
            n = len(read_xlsx(path))
        else:
            n = len(read_csv(path))
        counts[source] = counts.get(source, 0) + n
    return counts


def _source_of(path: Path) -> str:
    name = path.stem
    for source in (
        "school_codes",
        "school_successors",
        "support_programmes",
        "programme_targets",
        "vpr_results",
        "vpr_school_stats",
        "gia_results",
        "social_passport",
        "resource_survey",
        "risk_questionnaire",
        "academic_debt",
        "schools",
    ):
        if name.startswith(source):
            return source
    raise ValueError(path)


def read_csv(path: Path) -> pd.DataFrame:
    data = path.read_bytes()
    if data.startswith(b"\xef\xbb\xbf"):
        text = data[3:].decode("utf-8")
    else:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            text = data.decode("cp1251")
    first = text.splitlines()[0]
    sep = ";" if first.count(";") >= first.count(",") else ","
    from io import StringIO

    return pd.read_csv(StringIO(text), sep=sep, dtype=str, keep_default_na=False)


def procedure_counts(landing: Path) -> pd.DataFrame:
    """N and F per (school_id, procedure_code, year) for every counted procedure."""
    codes = read_csv(next(landing.rglob("school_codes*.csv")))
    code_to_id = dict(zip(codes["Код в системе"], codes["Код ОО"]))
    frames = []
    for path in landing.rglob("vpr_results_*.csv"):
        df = read_csv(path)
        df = df[df["Статус"] == "явка"]
        df = df[df["Отметка"] != ""]
        df["procedure_code"] = "VPR_" + df["Предмет"].map(VPR_SUBJECTS) + "_" + df["Класс"]
        df["failing"] = df["Отметка"].astype(int) == 2
        frames.append(
            pd.DataFrame(
                {
                    "school_id": df["Код ОО"],
                    "procedure_code": df["procedure_code"],
                    "year": df["Год"].astype(int),
                    "failing": df["failing"],
                }
            )
        )
    rows = (
        pd.concat(frames)
        if frames
        else pd.DataFrame(columns=["school_id", "procedure_code", "year", "failing"])
    )
    student = (
        rows.groupby(["school_id", "procedure_code", "year"])
        .agg(participants=("failing", "size"), failing=("failing", "sum"))
        .reset_index()
    )
    stats_frames = []
    for path in landing.rglob("vpr_school_stats_*.xlsx"):
        df = read_xlsx(path)
        stats_frames.append(
            pd.DataFrame(
                {
                    "school_id": df["Код ОО"],
                    "procedure_code": "VPR_"
                    + df["Предмет"].map(VPR_SUBJECTS)
                    + "_"
                    + df["Класс"].astype(str),
                    "year": df["Год"].astype(int),
                    "participants": sum(df[c].astype(int) for c in ("«2»", "«3»", "«4»", "«5»")),
                    "failing": df["«2»"].astype(int),
                }
            )
        )
    gia_frames = []
    for path in landing.rglob("gia_results_*.csv"):
        df = read_csv(path)
        df = df[
            (df["Категория участника"] == "выпускник текущего года")
            & (df["Этап"] != "дополнительный")
            & (df["Статус"] == "явка")
        ]
        keys = list(zip(df["Экзамен"], df["Предмет"]))
        info = [GIA_PROCEDURES.get(k) for k in keys]
        df = df.assign(
            procedure_code=[i[0] if i else None for i in info],
            measure=[i[1] if i else None for i in info],
            fail_below=[i[2] if i else None for i in info],
        )
        df = df[df["procedure_code"].notna()]
        value = df.apply(
            lambda r: r["Отметка"] if r["measure"] == "mark" else r["Тестовый балл"], axis=1
        )
        df = df.assign(value=pd.to_numeric(value, errors="coerce")).dropna(subset=["value"])
        # first attempt in the main period: one result per participant and procedure
        df = df.drop_duplicates(
            subset=["Год", "Код ОО", "procedure_code", "Код участника"], keep="first"
        )
        gia_frames.append(
            pd.DataFrame(
                {
                    "school_id": df["Код ОО"].map(lambda c: code_to_id.get(c, c)),
                    "procedure_code": df["procedure_code"],
                    "year": df["Год"].astype(int),
                    "failing": df["value"] < df["fail_below"],
                }
            )
        )
    if gia_frames:
        gia = (
            pd.concat(gia_frames)
            .groupby(["school_id", "procedure_code", "year"])
            .agg(participants=("failing", "size"), failing=("failing", "sum"))
            .reset_index()
        )
    else:
        gia = student.iloc[0:0]
    parts = [student, gia] + stats_frames
    out = pd.concat(parts, ignore_index=True)
    out = out[out["participants"] > 0]
    out["failing"] = out["failing"].astype(int)
    out["participants"] = out["participants"].astype(int)
    return out.sort_values(["school_id", "procedure_code", "year"]).reset_index(drop=True)


def shnor_list(counts: pd.DataFrame, successors: dict[str, tuple[str, int]]) -> pd.DataFrame:
    """The default rule of methodology §2: one row per listed school and list year, with cluster.

    ``successors`` maps an old school to (successor, first results year under the successor).
    """
    df = counts[counts["procedure_code"].isin(COUNTED)].copy()
    df["share"] = df["failing"] / df["participants"]
    df["flag"] = (df["participants"] >= MIN_PARTICIPANTS) & (df["share"] >= THRESHOLD - 1e-12)
    prior = df.copy()
    prior["year"] = prior["year"] + 1
    prior["school_id"] = [
        successors[s][0] if s in successors and successors[s][1] <= y else s
        for s, y in zip(prior["school_id"], prior["year"])
    ]
    prior = (
        prior.groupby(["school_id", "procedure_code", "year"])
        .agg(p_n=("participants", "sum"), p_f=("failing", "sum"))
        .reset_index()
    )
    prior["prior_flag"] = (prior["p_n"] >= MIN_PARTICIPANTS) & (
        prior["p_f"] / prior["p_n"] >= THRESHOLD - 1e-12
    )
    df = df.merge(
        prior[["school_id", "procedure_code", "year", "prior_flag"]],
        how="left",
        on=["school_id", "procedure_code", "year"],
    )
    df["prior_flag"] = df["prior_flag"].astype("boolean").fillna(False).astype(bool)
    rows = []
    for (school, year), g in df.groupby(["school_id", "year"]):
        flagged = g[g["flag"]]
        if len(flagged) >= 2 and (flagged["prior_flag"]).any():
            x = flagged["failing"].sum() / flagged["participants"].sum()
            cluster = "severe" if x > 0.5 else "moderate" if x >= 0.4 else "basic"
            rows.append(
                {"school_id": school, "list_year": year + 1, "fioko_cluster": cluster, "measure": x}
            )
    return pd.DataFrame(rows, columns=["school_id", "list_year", "fioko_cluster", "measure"])
