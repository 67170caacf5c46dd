"""The school cards' PDF, rendered from the cards' HTML by WeasyPrint, read back with pdftotext and
pdffonts (`make test-report`): cards of the seed-003 region in several chunks, laid out in one
process and in two, give the same bytes; every card begins a page with its own footer and page
numbers from 1; its figures are the card's; every font is embedded.
"""

from __future__ import annotations

import io
import re
import subprocess

import pytest

from tests.report.conftest import require_tool

pytestmark = pytest.mark.report
CARDS = 30  # two chunks (cards_pdf.CARDS_PER_CHUNK = 25)


@pytest.fixture(scope="module")
def cards(seed003_region):
    from publishing.report import card
    from publishing.report.publish import open_serving

    with open_serving(seed003_region.settings) as con:
        data = card.read_cards(con, 2023)
    # the listed supported schools first (flagged procedures, transitions, programmes), then the
    # other supported schools, then the rest
    supported = {s.school_id for s in seed003_region.schools if s.programme}
    schools = sorted(
        data.schools,
        key=lambda s: (not s["is_shnor"], s["school_id"] not in supported, s["school_id"]),
    )
    docs = [card.build_card(data, s, build_id="test", document_date=None) for s in schools[:CARDS]]
    return data, docs


def _text(pdf: bytes, tmp_path, name: str) -> str:
    path = tmp_path / name
    path.write_bytes(pdf)
    return subprocess.run(
        [require_tool("pdftotext"), "-layout", str(path), "-"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def test_cards_laid_out_in_one_or_two_processes_give_the_same_bytes(cards, tmp_path) -> None:
    from pypdf import PdfReader

    from publishing.report import cards_pdf

    _, docs = cards
    one = cards_pdf.render_cards_pdf(docs, version_label="v1", moment=None, title="t", workers=1)
    two = cards_pdf.render_cards_pdf(docs, version_label="v1", moment=None, title="t", workers=2)
    assert one == two
    whole, singles = one.whole, one.cards
    assert len(singles) == len(docs)
    # one page a card (issue 11), whatever the card holds
    pages = [len(PdfReader(io.BytesIO(s)).pages) for s in singles]
    assert pages == one.pages == [1] * len(docs)
    assert len(PdfReader(io.BytesIO(whole)).pages) == len(docs)


def test_pdftotext_reads_each_card_with_its_footer_and_figures(cards, tmp_path) -> None:
    from pypdf import PdfReader

    from publishing.report import cards_pdf

    data, docs = cards
    singles = cards_pdf.render_cards_pdf(docs, version_label="v1", moment=None, title="t").cards
    checked = 0
    for doc, single in zip(docs[:8], singles):
        sid = doc.anchor.removeprefix("card-")
        text = _text(single, tmp_path, f"{sid}.pdf")
        flat = re.sub(r"\s+", " ", text)
        assert doc.title in flat and "Статус школы" in flat and "Рисковый профиль" in flat
        school = next(s for s in data.schools if s["school_id"] == sid)
        if school["is_shnor"]:
            assert school["fioko_cluster_ru"] in flat
        # each page of the card: its footer, its number counted from the card's first page
        for number, page in enumerate(PdfReader(io.BytesIO(single)).pages, start=1):
            page_text = re.sub(r"\s+", " ", page.extract_text())
            assert f"Карточка {sid}, список ШНОР 2023" in page_text, (sid, number)
            assert f"Страница {number}" in page_text, (sid, number)
        # the flagged procedures' N, F and share of the results year: the last three figures of
        # the procedure's line of the table
        for p in data.procedures.get(sid, []):
            if p["year"] != 2022 or not p["is_flagged"]:
                continue
            name = p["procedure_name_ru"]
            rows = [
                re.findall(r"\d+%|\d+|—", ln.strip()[len(name) :])
                for ln in text.splitlines()
                if ln.strip().startswith(name)
            ]
            (figures,) = [r for r in rows if len(r) == 9]  # the table's row, not the chart's label
            line = " ".join(figures)
            share = f"{int(p['fail_share'] * 100 + 0.5)}%"
            assert figures[-3:] == [str(p["participants"]), str(p["failing"]), share], (sid, line)
            checked += 1
    assert checked >= 16  # the listed schools come first: two flagged procedures each


def test_every_font_of_the_cards_is_embedded(cards, tmp_path) -> None:
    from publishing.report import cards_pdf

    _, docs = cards
    whole = cards_pdf.render_cards_pdf(docs[:3], version_label="v1", moment=None, title="t").whole
    path = tmp_path / "cards.pdf"
    path.write_bytes(whole)
    info = subprocess.run(
        [require_tool("pdffonts"), str(path)], capture_output=True, text=True, check=True
    ).stdout
    lines = [line for line in info.splitlines()[2:] if line.strip()]
    assert lines and all("DejaVu" in line for line in lines), info
    assert all(line.split()[-5] == "yes" for line in lines), info  # emb
