"""The same facts delivered in other shapes, as regions really send them.

The generator writes one file per source and year. Exam-processing centres export one file per exam
and subject, municipalities send their own files, deliveries arrive in any order, and the same file
is sometimes sent twice. These helpers cut a generated landing folder into such shapes without
changing a single row, so that a test can require identical marts from all of them.
"""

from __future__ import annotations

import os
import random
import shutil
from collections.abc import Callable
from pathlib import Path

import pandas as pd
from python_calamine import CalamineWorkbook

RESULT_SOURCES = ("vpr_results", "gia_results")
Key = Callable[[dict[str, str]], tuple[str, ...]]


def read_delivered_csv(path: Path, sep: str = ";") -> pd.DataFrame:
    """A generated CSV as text, exactly as delivered (Windows-1251 or UTF-8, «;» unless ``sep``)."""
    for encoding in ("utf-8-sig", "cp1251"):
        try:
            return pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False, encoding=encoding)
        except UnicodeDecodeError:
            continue
    raise ValueError(f"{path}: neither UTF-8 nor Windows-1251")


def _encoding_of(path: Path) -> str:
    try:
        path.read_bytes().decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError:
        return "cp1251"


def municipality_of_schools(landing: Path) -> dict[str, str]:
    """Every code a school is known by (Код ОО and crosswalk codes) -> Код МО, from the registries."""
    municipality: dict[str, str] = {}
    for path in sorted(landing.rglob("schools_*.xlsx")):
        workbook = CalamineWorkbook.from_path(str(path))
        for sheet_name in workbook.sheet_names:
            rows = workbook.get_sheet_by_name(sheet_name).to_python()
            header_at = next(
                (i for i, row in enumerate(rows) if "Код МО" in [str(c) for c in row]), None
            )
            if header_at is None:
                continue
            header = [str(c) for c in rows[header_at]]
            for row in rows[header_at + 1 :]:
                record = dict(zip(header, row))
                code = str(record.get("Код ОО (логин ФИС ОКО)") or "").strip()
                if code:
                    municipality[code] = str(record["Код МО"]).strip()
    for path in landing.rglob("school_codes*.csv"):
        codes = read_delivered_csv(path)
        for external, school in zip(codes["Код в системе"], codes["Код ОО"]):
            if school in municipality:
                municipality[external] = municipality[school]
    return municipality


def split_results(landing: Path, target: Path, key: Key, seed: int = 0) -> list[Path]:
    """A copy of ``landing`` in which every per-student results file is cut into one file per value of
    ``key(row)``; the other files are copied as they are. Files get shuffled modification times (the
    loader takes the files of one batch in that order)."""
    shutil.copytree(landing, target)
    written: list[Path] = []
    for source in RESULT_SOURCES:
        for path in sorted(target.rglob(f"{source}_*.csv")):
            frame = read_delivered_csv(path)
            encoding = _encoding_of(path)
            groups: dict[tuple[str, ...], list[int]] = {}
            for index, record in enumerate(frame.to_dict("records")):
                groups.setdefault(key(record), []).append(index)
            path.unlink()
            for n, (_, rows) in enumerate(sorted(groups.items())):
                part = path.with_name(f"{path.stem}_part{n:03d}.csv")
                frame.iloc[rows].to_csv(part, sep=";", index=False, encoding=encoding)
                written.append(part)
    shuffle_times(target, seed)
    return written


def shuffle_times(folder: Path, seed: int) -> None:
    """Give the files of ``folder`` modification times in a seeded random order (an hour ago and older)."""
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    random.Random(seed).shuffle(files)
    base = 1_700_000_000
    for n, path in enumerate(files):
        os.utime(path, (base + n, base + n))


def add_duplicate(folder: Path, seed: int) -> Path:
    """The same bytes sent again under another name (a duplicate delivery)."""
    files = sorted(p for p in folder.rglob("*.csv") if "results" in p.name)
    original = random.Random(seed).choice(files)
    copy = original.with_name(f"{original.stem}_resent{original.suffix}")
    shutil.copy2(original, copy)
    os.utime(copy, (1_800_000_000, 1_800_000_000))
    return copy


def shape_keys(municipality: dict[str, str]) -> dict[str, Key]:
    """The delivery shapes of exam centres and municipalities, as keys that cut a results file."""

    def mo(record: dict[str, str]) -> str:
        return municipality.get(record["Код ОО"], "?")

    def exam(record: dict[str, str]) -> str:
        return record.get("Экзамен", "ВПР")

    def subject(record: dict[str, str]) -> tuple[str, str]:
        return (record.get("Экзамен") or record.get("Класс", ""), record["Предмет"])

    return {
        "per_municipality": lambda r: (mo(r),),
        "per_exam": lambda r: (exam(r),),
        "per_subject": subject,
        "per_subject_and_municipality": lambda r: (*subject(r), mo(r)),
    }
