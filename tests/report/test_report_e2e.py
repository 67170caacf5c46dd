"""The published report as a person sees it: headless Chromium opens the HTML (offline), every chart
is drawn and the screenshot is not blank; pdftotext reads the PDF's headings and figures; pdftoppm
renders its first page. Needs `make setup-report` (Debian chromium, poppler-utils, fonts-dejavu-core).
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from tests.report.conftest import require_tool

pytestmark = pytest.mark.report
HEADINGS = (
    "1. Список ШНОР по кластерам ФИОКО",
    "2. Динамика образовательных результатов на основе кластеризации ФИОКО",
    "3. Результаты анализа динамики образовательных результатов",
    "5. Доля школ, в которых не проводились оценочные процедуры",
    "6. Ресурсные дефициты школ",
    "7. Школы, функционирующие в условиях риска",
    "8. Мониторинг по показателям учебной неуспешности",
    "9. Сравнение муниципальных образований",
)


def _chromium(*args: str, timeout: int = 120) -> subprocess.CompletedProcess:
    chromium = require_tool("chromium")
    return subprocess.run(
        [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--metrics-recording-only",
            "--virtual-time-budget=5000",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _not_blank(png: Path) -> tuple[float, int]:
    from PIL import Image

    image = Image.open(png).convert("RGB").resize((200, 300))
    pixels = [image.getpixel((x, y)) for y in range(image.height) for x in range(image.width)]
    ink = sum(1 for p in pixels if min(p) < 200) / len(pixels)
    return ink, len(set(pixels))


def test_chromium_draws_every_chart_of_the_html_report(seed003_region, tmp_path) -> None:
    html = seed003_region.report / "report_2023.html"
    dom = _chromium("--dump-dom", html.as_uri())
    assert dom.returncode == 0, dom.stderr[-2000:]
    charts = re.search(r'data-charts="(\d+)"', dom.stdout)
    drawn = re.search(r'data-charts-rendered="(\d+)"', dom.stdout)
    assert charts and drawn, "the page's chart check did not run"
    assert int(charts.group(1)) >= 8
    assert drawn.group(1) == charts.group(1), f"{drawn.group(1)} of {charts.group(1)} charts drawn"
    assert 'data-rendered="no"' not in dom.stdout
    shot = tmp_path / "report.png"
    result = _chromium(f"--screenshot={shot}", "--window-size=1280,2600", html.as_uri())
    assert shot.exists(), result.stderr[-2000:]
    ink, colours = _not_blank(shot)
    assert ink > 0.03 and colours > 20, (ink, colours)


def test_the_html_report_needs_nothing_from_the_network(seed003_region) -> None:
    text = (seed003_region.report / "report_2023.html").read_text(encoding="utf-8")
    assert not re.search(r'(src|href)="(https?:)?//', text)
    assert "@import" not in text and "url(http" not in text


def test_pdftotext_reads_the_headings_and_the_figures(seed003_region) -> None:
    pdf = seed003_region.report / "report_2023.pdf"
    text = subprocess.run(
        [require_tool("pdftotext"), "-layout", str(pdf), "-"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    flat = re.sub(r"\s+", " ", text)
    for heading in HEADINGS:
        assert heading in flat, heading
    assert re.search(r"Всего ШНОР\s+87\s+100%", flat)
    assert re.search(r"сильно неуспевающие\s+13\s", flat)
    assert re.search(
        r"Были охвачены сопровождением\s+10\s+49\s+0\s+59\s+73%\s+14\s+17%\s+0\s+8\s+10%\s+81",
        flat,
    )
    pages = int(re.search(r"Страница 1 из (\d+)", flat).group(1))
    assert f"Страница {pages} из {pages}" in flat
    info = subprocess.run(["pdffonts", str(pdf)], capture_output=True, text=True, check=True).stdout
    assert "DejaVu-Sans" in info and all(
        line.split()[-5] == "yes" for line in info.splitlines()[2:] if line.strip()
    ), info  # every font embedded


def test_pdftoppm_renders_the_first_page(seed003_region, tmp_path) -> None:
    pdf = seed003_region.report / "report_2023.pdf"
    subprocess.run(
        [
            require_tool("pdftoppm"),
            "-png",
            "-r",
            "60",
            "-f",
            "1",
            "-l",
            "1",
            str(pdf),
            str(tmp_path / "page"),
        ],
        check=True,
    )
    (png,) = tmp_path.glob("page*.png")
    ink, colours = _not_blank(png)
    assert ink > 0.01 and colours > 5


def test_a_card_opens_in_chromium(seed003_region, tmp_path) -> None:
    from publishing.report.publish import publish_cards

    school = next(s for s in seed003_region.schools if s.listed_2023 and s.programme)
    result = publish_cards(seed003_region.settings, 2023, school_id=school.school_id)
    shot = tmp_path / "card.png"
    _chromium(
        f"--screenshot={shot}", "--window-size=900,1300", (result.directory / "card.html").as_uri()
    )
    ink, colours = _not_blank(shot)
    assert ink > 0.03 and colours > 10
    text = subprocess.run(
        [require_tool("pdftotext"), str(result.directory / "card.pdf"), "-"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert school.school_id in text and "Статус школы" in text
