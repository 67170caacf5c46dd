"""The school cards as PDF, rendered from the cards' HTML by the report's renderer (WeasyPrint,
publishing/report/render.py), fonts embedded, the same bytes for the same cards.

Cards are laid out in chunks of a fixed number of cards, one HTML document a chunk (each card from a
new page, its own page group: its footer, its pages numbered from 1), in parallel processes
(publishing/report/card_worker.py) when there are several chunks: WeasyPrint takes about a fifth of
a second of processor time a card, and a region has hundreds. Each card's PDF is its pages of its
chunk's document (``Document.copy``: its own font subsets, about 30 kB a page); the PDF of all cards
is the cards' PDFs one after another (pypdf: a few milliseconds a card, where painting the pages
once more would take about 50). The chunk size is fixed, so the bytes do not depend on the number
of processes.

One page a card: a card whose pages of its chunk are more than one is laid out again, alone, in the
compact steps of ``render.Fit`` until it fits (``fit_card``); only those cards cost a second layout.
The fit of every card comes back with its PDF, so that its HTML is written with the same style.
"""

from __future__ import annotations

import datetime as dt
import io
import os
import pickle
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, BinaryIO

from publishing.errors import PublishingError
from publishing.report.content import Document
from publishing.report.render import (
    AS_DESIGNED,
    CARD_COMPACT_STEPS,
    CARD_PAGE,
    Fit,
    layout_pdf,
    render_html,
    write_pdf,
)

CARDS_PER_CHUNK = 25
MAX_CARD_WORKERS = 4


@dataclass(frozen=True)
class CardChunk:
    html: str  # render_html(cards, for_pdf=True)
    anchors: tuple[str, ...]  # the HTML id of each card, in order
    titles: tuple[str, ...]  # the PDF title of each card
    moment: dt.date | None
    # each card pickled, to lay out again one that runs onto a second page: unpickled only for such
    # a card (unpickling a chunk's cards would cost its layout process ~40 ms; pickled, ~1 ms)
    docs: tuple[bytes, ...] = ()
    version_label: str = ""


@dataclass(frozen=True)
class CardPdf:
    pdf: bytes
    fit: Fit  # how the card was laid out (its HTML is written the same way)
    pages: int


@dataclass(frozen=True)
class CardsPdf:
    whole: bytes  # the PDF of all cards
    cards: list[bytes]  # the PDF of each card, in the order of the documents
    fits: list[Fit]  # how each card was laid out
    pages: list[int]  # the pages of each card: 1, unless a card runs on (its fit says so)


def render_card_chunk(chunk: CardChunk) -> list[CardPdf]:
    """Lay out one chunk of cards: the PDF of each card (its pages of the chunk's document, or of its
    own compact layout when those pages were more than one)."""
    document = layout_pdf(chunk.html, chunk.moment)
    first_page: dict[str, int] = {}
    for number, page in enumerate(document.pages):
        for anchor in page.anchors:
            first_page.setdefault(anchor, number)
    starts = [first_page[a] for a in chunk.anchors] + [len(document.pages)]
    out = []
    for i, title in enumerate(chunk.titles):
        pages = document.pages[starts[i] : starts[i + 1]]
        if len(pages) == 1 or not chunk.docs:
            pdf = write_pdf(document, chunk.moment, pages, title)
            out.append(CardPdf(pdf, AS_DESIGNED, len(pages)))
        else:
            doc = pickle.loads(chunk.docs[i])
            out.append(fit_card(doc, chunk.version_label, chunk.moment, title))
    return out


def fit_card(doc: Document, version_label: str, moment: dt.date | None, title: str) -> CardPdf:
    """Lay a card that runs onto a second page out again, alone, in ever more compact steps; the
    first step that fits one page is kept. If none does, the last step runs on and says so (its
    pages counted): nothing of the card is left out."""

    def layout(fit: Fit) -> Any:
        html = render_html(
            [doc], version_label=version_label, page=CARD_PAGE, toc=False, for_pdf=True, fits=[fit]
        )
        return layout_pdf(html, moment)

    for step in range(1, CARD_COMPACT_STEPS + 1):
        fit = Fit(step)
        document = layout(fit)
        if len(document.pages) == 1:
            return CardPdf(write_pdf(document, moment, title=title), fit, 1)
    fit = Fit(CARD_COMPACT_STEPS, continued=True)
    document = layout(fit)
    return CardPdf(write_pdf(document, moment, title=title), fit, len(document.pages))


def render_cards_pdf(
    docs: Sequence[Document],
    *,
    version_label: str,
    moment: dt.date | None,
    title: str,
    workers: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> CardsPdf:
    """The PDF of all cards and the PDF of each card, rendered from the cards' HTML, each card one
    page (laid out again in compact steps where needed), with how each was laid out.

    ``workers``: processes that lay out the chunks (default: one a core, at most
    ``MAX_CARD_WORKERS``); one chunk is laid out in this process."""
    chunks = []
    for i in range(0, len(docs), CARDS_PER_CHUNK):
        part = docs[i : i + CARDS_PER_CHUNK]
        chunks.append(
            CardChunk(
                html=render_html(
                    part, version_label=version_label, page=CARD_PAGE, toc=False, for_pdf=True
                ),
                anchors=tuple(d.anchor for d in part),
                titles=tuple(f"{d.title} — {d.subtitle}" for d in part),
                moment=moment,
                docs=tuple(pickle.dumps(d) for d in part),
                version_label=version_label,
            )
        )
    if workers is None:
        workers = min(os.cpu_count() or 1, MAX_CARD_WORKERS)
    workers = max(1, min(workers, len(chunks)))
    results: dict[int, list[CardPdf]] = {}
    whole = _Concatenation()
    done = 0

    def chunk_done(i: int, cards: list[CardPdf]) -> None:
        # the PDF of all cards grows while the other chunks are laid out
        nonlocal done
        results[i] = cards
        whole.add(i, [card.pdf for card in cards])
        done += len(chunks[i].anchors)
        if progress is not None:
            progress(done, len(docs))

    if workers == 1:
        for i, chunk in enumerate(chunks):
            chunk_done(i, render_card_chunk(chunk))
    else:
        _render_in_workers(chunks, workers, chunk_done)
    cards = [card for i in range(len(chunks)) for card in results[i]]
    return CardsPdf(
        whole.finish(title, moment),
        [card.pdf for card in cards],
        [card.fit for card in cards],
        [card.pages for card in cards],
    )


class _Concatenation:
    """The PDF of all cards: the cards' PDFs one after another (pypdf), in the order of the chunks
    whatever order they are laid out in, with a fixed title and dates."""

    def __init__(self) -> None:
        from pypdf import PdfWriter

        self.writer = PdfWriter()
        self.waiting: dict[int, list[bytes]] = {}
        self.next = 0

    def add(self, index: int, cards: list[bytes]) -> None:
        from pypdf import PdfReader

        self.waiting[index] = cards
        while self.next in self.waiting:
            for card in self.waiting.pop(self.next):
                self.writer.append(PdfReader(io.BytesIO(card)))
            self.next += 1

    def finish(self, title: str, moment: dt.date | None) -> bytes:
        assert not self.waiting, "a chunk is missing"
        stamp = (moment or dt.date(2000, 1, 1)).strftime("D:%Y%m%d000000Z")
        self.writer.add_metadata(
            {
                "/Title": title,
                "/Producer": "eduq (WeasyPrint, pypdf)",
                "/CreationDate": stamp,
                "/ModDate": stamp,
            }
        )
        buffer = io.BytesIO()
        self.writer.write(buffer)
        return buffer.getvalue()


class CardRenderingFailed(PublishingError):
    """A process laying out school cards failed."""


def _render_in_workers(
    chunks: Sequence[CardChunk],
    workers: int,
    chunk_done: Callable[[int, list[CardPdf]], None],
) -> None:
    """Lay the chunks out in ``workers`` processes (publishing/report/card_worker.py), each taking
    the next chunk not yet taken; ``chunk_done(index, cards)`` is called in this thread as each
    chunk comes back (a thread a process feeds it and reads its answers)."""
    import queue
    import subprocess
    import sys
    import tempfile
    import threading

    todo: queue.SimpleQueue[int] = queue.SimpleQueue()
    for i in range(len(chunks)):
        todo.put(i)
    finished: queue.SimpleQueue[tuple[int, list[CardPdf]] | str] = queue.SimpleQueue()
    stop = threading.Event()

    def work() -> None:
        with tempfile.TemporaryFile() as errors:
            process = subprocess.Popen(
                [sys.executable, "-m", "publishing.report.card_worker"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=errors,
            )
            assert process.stdin is not None and process.stdout is not None
            try:
                while not stop.is_set():
                    try:
                        i = todo.get_nowait()
                    except queue.Empty:
                        break
                    write_message(process.stdin, pickle.dumps(chunks[i]))
                    answer = read_message(process.stdout)
                    if answer is None:
                        raise EOFError("the process ended without an answer")
                    finished.put((i, pickle.loads(answer)))
            # any failure of this thread must reach the publishing thread (or it would wait for
            # the chunk forever); the worker's own message is in the tail of its error output
            except Exception as exc:  # noqa: BLE001
                process.kill()
                process.wait()
                errors.seek(0)
                tail = errors.read().decode("utf-8", "replace").strip().splitlines()[-5:]
                finished.put(f"{exc}: {' / '.join(tail) or 'no message'}")
            finally:
                if process.poll() is None:
                    process.stdin.close()
                    process.wait()

    threads = [threading.Thread(target=work, daemon=True) for _ in range(workers)]
    for thread in threads:
        thread.start()
    received = 0
    failure = ""
    try:
        while received < len(chunks):
            event = finished.get()
            if isinstance(event, str):
                failure = event
                break
            chunk_done(*event)
            received += 1
    finally:  # on a failure here or there, the threads take no new chunk and end their processes
        stop.set()
        for thread in threads:
            thread.join()
    if failure:
        raise CardRenderingFailed(
            f"the school cards could not be laid out (WeasyPrint in a worker process): {failure}. "
            "Nothing was published; run `eduq card --all` again, or report the message."
        )


LENGTH = 8


def read_message(stream: BinaryIO) -> bytes | None:
    """One length-prefixed message, or None at the end of the stream."""
    header = stream.read(LENGTH)
    if not header:
        return None
    if len(header) < LENGTH:
        raise EOFError("the stream ended inside a message header")
    size = int.from_bytes(header, "big")
    data = stream.read(size)
    if len(data) < size:
        raise EOFError("the stream ended inside a message")
    return data


def write_message(stream: BinaryIO, data: bytes) -> None:
    stream.write(len(data).to_bytes(LENGTH, "big"))
    stream.write(data)
    stream.flush()
