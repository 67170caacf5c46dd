"""The analyst's way: the default ШНОР list with pandas (read_csv + masks + groupby).

    .venv/bin/python bench/pandas_list.py --input DIR [--out DIR]

The same computation as the floor (bench/floor.sql; rules in docs/methodology.md §1-2), written
as a competent analyst writes it with pandas: each result file read with read_csv (only the
columns needed, typed, the labels as categories), filtered with boolean masks, the first attempt
by sort + drop_duplicates, counted with groupby; one file at a time, so that memory holds one
region's year of results and the counts. Writes `fct_procedure_results.parquet` and
`shnor_list.parquet` into --out (default: a `pandas` folder beside the input). A baseline for
the benchmark (bench/run_bench.py), not part of eduq.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

SEEDS = Path(__file__).resolve().parent.parent / "seeds"
KEYS = ["school_id", "procedure_code", "year"]
MIN_PARTICIPANTS, THRESHOLD = 5, 0.30
VPR_SUBJECTS = {"Русский язык": "RU", "Математика": "MA", "Окружающий мир": "OM"}
GIA_PROCEDURES = {
    ("ОГЭ", "Русский язык"): "OGE_RU",
    ("ОГЭ", "Математика"): "OGE_MA",
    ("ЕГЭ", "Русский язык"): "EGE_RU",
    ("ЕГЭ", "Математика (профильная)"): "EGE_MA_PROF",
    ("ЕГЭ", "Математика (базовая)"): "EGE_MA_BASE",
}
WAVE_ORDER = {"досрочный": 1, "основной": 2, "резервный": 3}


def thresholds() -> pd.DataFrame:
    return pd.read_csv(SEEDS / "procedure_thresholds.csv")


def vpr_counts(path: Path, limits: pd.DataFrame) -> pd.DataFrame:
    df = pd.read_csv(
        path,
        sep=";",
        encoding="cp1251",
        usecols=["Год", "Код ОО", "Класс", "Предмет", "Отметка", "Статус"],
        dtype={
            "Год": "int32",
            "Код ОО": "category",
            "Класс": "int32",
            "Предмет": "category",
            "Отметка": "float32",
            "Статус": "category",
        },
    )
    df = df[(df["Статус"] == "явка") & df["Отметка"].notna()]
    df = df.rename(columns={"Год": "year", "Код ОО": "school_id", "Отметка": "mark"})
    df["procedure_code"] = (
        "VPR_" + df["Предмет"].map(VPR_SUBJECTS).astype(str) + "_" + df["Класс"].astype(str)
    )
    df = df.merge(limits[["year", "procedure_code", "fail_below"]], on=["year", "procedure_code"])
    df["failing"] = df["mark"] < df["fail_below"]
    return df.groupby(KEYS, observed=True).agg(
        participants=("failing", "size"), failing=("failing", "sum")
    )


def gia_counts(path: Path, limits: pd.DataFrame, codes: dict[str, str]) -> pd.DataFrame:
    df = pd.read_csv(
        path,
        sep=";",
        encoding="cp1251",
        usecols=[
            "Год",
            "Код ОО",
            "Экзамен",
            "Предмет",
            "Код участника",
            "Категория участника",
            "Этап",
            "Тестовый балл",
            "Отметка",
            "Статус",
        ],
        dtype={
            "Год": "int32",
            "Код ОО": "str",
            "Экзамен": "category",
            "Предмет": "category",
            "Код участника": "str",
            "Категория участника": "category",
            "Этап": "category",
            "Тестовый балл": "float64",
            "Отметка": "float64",
            "Статус": "category",
        },
    )
    df = df[
        (df["Категория участника"] == "выпускник текущего года")
        & df["Этап"].isin(list(WAVE_ORDER))
        & (df["Статус"] == "явка")
    ]
    df["procedure_code"] = [GIA_PROCEDURES.get(k) for k in zip(df["Экзамен"], df["Предмет"])]
    df = df.rename(columns={"Год": "year", "Код участника": "participant_code"})
    df = df.merge(
        limits[["year", "procedure_code", "result_measure", "fail_below"]],
        on=["year", "procedure_code"],
    )
    df["value"] = np.where(df["result_measure"] == "test_score", df["Тестовый балл"], df["Отметка"])
    df = df[df["value"].notna()]
    # the first attempt actually sat: the earliest day with a valid result
    df["wave_order"] = df["Этап"].map(WAVE_ORDER).astype(int)
    df = df.sort_values("wave_order", kind="stable").drop_duplicates(
        ["year", "Код ОО", "procedure_code", "participant_code"]
    )
    df["school_id"] = df["Код ОО"].map(codes)
    df["failing"] = df["value"] < df["fail_below"]
    return df.groupby(KEYS).agg(participants=("failing", "size"), failing=("failing", "sum"))


def successors_of(root: Path) -> pd.DataFrame:
    frames = [
        pd.read_csv(p, sep=";", encoding="utf-8-sig", dtype=str)
        for p in sorted(root.glob("*/school_successors.csv"))
    ]
    columns = ["old_school_id", "new_school_id", "effective_date"]
    df = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)
    df.columns = columns
    date = pd.to_datetime(df["effective_date"], format="%d.%m.%Y")
    df["first_results_year"] = date.dt.year + (date.dt.month >= 7).astype(int)
    return df


def continuing_school(successors: pd.DataFrame) -> pd.DataFrame:
    """old school -> every school that continues it, from which results year (chains too)."""
    hops = successors[["old_school_id", "new_school_id", "first_results_year"]].rename(
        columns={"new_school_id": "successor_id"}
    )
    chain, level = hops.assign(depth=1), hops.assign(depth=1)
    for depth in range(2, 21):
        level = level.merge(
            hops.rename(
                columns={
                    "old_school_id": "successor_id",
                    "successor_id": "next_id",
                    "first_results_year": "next_year",
                }
            ),
            on="successor_id",
        )
        if level.empty:
            break
        level = pd.DataFrame(
            {
                "old_school_id": level["old_school_id"],
                "successor_id": level["next_id"],
                "first_results_year": level[["first_results_year", "next_year"]].max(axis=1),
                "depth": depth,
            }
        )
        chain = pd.concat([chain, level], ignore_index=True)
    return chain


def compute(root: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    limits = thresholds()
    counted = pd.read_csv(SEEDS / "methodology_profile_procedures.csv")
    counted = set(
        counted.loc[
            (counted["profile_name"] == "fioko_2025") & counted["counts_for_list"], "procedure_code"
        ]
    )
    crosswalk = pd.concat(
        [pd.read_csv(p, sep=";", dtype=str) for p in sorted(root.glob("*/school_codes.csv"))]
    )
    codes = dict(zip(crosswalk["Код в системе"], crosswalk["Код ОО"]))
    parts = [vpr_counts(p, limits) for p in sorted(root.glob("*/vpr/vpr_results_*.csv"))]
    parts += [gia_counts(p, limits, codes) for p in sorted(root.glob("*/gia/gia_results_*.csv"))]
    results = pd.concat(parts).groupby(level=KEYS).sum().reset_index()
    results = results[results["participants"] > 0]
    results["fail_share"] = results["failing"] / results["participants"]
    results["counts_for_list"] = results["procedure_code"].isin(counted)

    # the previous year, pooled under the school that continues each school in year t
    c = results[results["counts_for_list"]].copy()
    chain = continuing_school(successors_of(root))
    prior = c.assign(year=c["year"] + 1).merge(
        chain, left_on="school_id", right_on="old_school_id", how="left"
    )
    in_effect = prior["first_results_year"] <= prior["year"]
    prior.loc[~in_effect, ["successor_id", "depth"]] = [None, 0]
    prior = prior.sort_values("depth", ascending=False).drop_duplicates(
        ["school_id", "procedure_code", "year"]
    )
    prior["school_id"] = prior["successor_id"].fillna(prior["school_id"])
    prior = prior.groupby(KEYS, as_index=False)[["participants", "failing"]].sum()
    prior["prior_flagged"] = (prior["participants"] >= MIN_PARTICIPANTS) & (
        prior["failing"] / prior["participants"] >= THRESHOLD
    )
    c = c.merge(prior[[*KEYS, "prior_flagged"]], on=KEYS, how="left")
    c["prior_flagged"] = c["prior_flagged"].eq(True)
    c["flagged"] = (c["participants"] >= MIN_PARTICIPANTS) & (c["fail_share"] >= THRESHOLD)
    c["persistent"] = c["flagged"] & c["prior_flagged"]
    c = c[c["year"].sub(1).isin(set(c["year"]))]
    c["flagged_failing"] = c["failing"].where(c["flagged"], 0)
    c["flagged_participants"] = c["participants"].where(c["flagged"], 0)
    per_school = c.groupby(["school_id", "year"], as_index=False).agg(
        n_flagged_procedures=("flagged", "sum"),
        n_persistent_procedures=("persistent", "sum"),
        flagged_failing=("flagged_failing", "sum"),
        flagged_participants=("flagged_participants", "sum"),
    )
    listed = per_school[
        (per_school["n_flagged_procedures"] >= 2) & (per_school["n_persistent_procedures"] >= 1)
    ].copy()
    listed["cluster_measure_value"] = (
        listed["flagged_failing"] / listed["flagged_participants"]
    ).round(12)
    listed["fioko_cluster"] = np.select(
        [listed["cluster_measure_value"] > 0.50, listed["cluster_measure_value"] >= 0.40],
        ["severe", "moderate"],
        "basic",
    )
    listed = listed.rename(columns={"year": "results_year"})
    listed["list_year"] = listed["results_year"] + 1
    listed = listed[
        [
            "school_id",
            "list_year",
            "results_year",
            "n_flagged_procedures",
            "n_persistent_procedures",
            "cluster_measure_value",
            "fioko_cluster",
        ]
    ]
    return results, listed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--input", required=True, type=Path, help="a set written by eduq generate --scale (CSV)"
    )
    parser.add_argument(
        "--out", type=Path, help="where to write the results (default: <input>/../pandas)"
    )
    args = parser.parse_args(argv)
    out = args.out or args.input.parent / "pandas"
    started = time.perf_counter()
    results, listed = compute(args.input)
    out.mkdir(parents=True, exist_ok=True)
    results.to_parquet(out / "fct_procedure_results.parquet", index=False)
    listed.to_parquet(out / "shnor_list.parquet", index=False)
    print(
        f"pandas: {len(results)} school-procedure-years, {len(listed)} listed school-years "
        f"in {time.perf_counter() - started:.1f} s -> {out}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
