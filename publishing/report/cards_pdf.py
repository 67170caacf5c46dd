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
"""

from __future__ import annotations

import datetime as dt
import io
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import BinaryIO

from publishing.errors import PublishingError
from publishing.report.content import Document
from publishing.report.render import CARD_PAGE, layout_pdf, render_html, write_pdf

CARDS_PER_CHUNK = 25
MAX_CARD_WORKERS = 4


@dataclass(frozen=True)
class CardChunk:
    html: str  # render_html(cards, for_pdf=True)
    anchors: tuple[str, ...]  # the HTML id of each card, in order
    titles: tuple[str, ...]  # the PDF title of each card
    moment: dt.date | None


def render_card_chunk(chunk: CardChunk) -> list[bytes]:
    """Lay out one chunk of cards: the PDF of each card (its pages of the chunk's document)."""
    document = layout_pdf(chunk.html, chunk.moment)
    first_page: dict[str, int] = {}
    for number, page in enumerate(document.pages):
        for anchor in page.anchors:
            first_page.setdefault(anchor, number)
    starts = [first_page[a] for a in chunk.anchors] + [len(document.pages)]
    return [
        write_pdf(document, chunk.moment, document.pages[starts[i] : starts[i + 1]], title)
        for i, title in enumerate(chunk.titles)
    ]


def render_cards_pdf(
    docs: Sequence[Document],
    *,
    version_label: str,
    moment: dt.date | None,
    title: str,
    workers: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[bytes, list[bytes]]:
    """The PDF of all cards and the PDF of each card, rendered from the cards' HTML.

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
            )
        )
    if workers is None:
        workers = min(os.cpu_count() or 1, MAX_CARD_WORKERS)
    workers = max(1, min(workers, len(chunks)))
    results: list[list[bytes]] = []
    done = 0
    if workers == 1:
        for chunk in chunks:
            results.append(render_card_chunk(chunk))
            done += len(chunk.anchors)
            if progress is not None:
                progress(done, len(docs))
    else:
        results = _render_in_workers(chunks, workers, len(docs), progress)
    singles = [card for cards in results for card in cards]
    return concatenate_pdfs(singles, title, moment), singles


class CardRenderingFailed(PublishingError):
    """A process laying out school cards failed."""


def _render_in_workers(
    chunks: Sequence[CardChunk],
    workers: int,
    total: int,
    progress: Callable[[int, int], None] | None,
) -> list[list[bytes]]:
    """Lay the chunks out in ``workers`` processes (publishing/report/card_worker.py), each taking
    the next chunk not yet taken; the results in the order of the chunks. A thread a process feeds
    it and reads its answers; progress is reported from this thread."""
    import pickle
    import queue
    import subprocess
    import sys
    import tempfile
    import threading

    todo: queue.SimpleQueue[int] = queue.SimpleQueue()
    for i in range(len(chunks)):
        todo.put(i)
    finished: queue.SimpleQueue[tuple[int, list[bytes]] | str] = queue.SimpleQueue()
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
    results: dict[int, list[bytes]] = {}
    failure = ""
    done = 0
    while len(results) < len(chunks) and not failure:
        event = finished.get()
        if isinstance(event, str):
            failure = event
            stop.set()
            break
        i, cards = event
        results[i] = cards
        done += len(chunks[i].anchors)
        if progress is not None:
            progress(done, total)
    for thread in threads:
        thread.join()
    if failure:
        raise CardRenderingFailed(
            f"the school cards could not be laid out (WeasyPrint in a worker process): {failure}. "
            "Nothing was published; run `eduq card --all` again, or report the message."
        )
    return [results[i] for i in range(len(chunks))]


def concatenate_pdfs(parts: Sequence[bytes], title: str, moment: dt.date | None) -> bytes:
    """One PDF of the pages of ``parts`` in order (pypdf), with a fixed title and dates."""
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter()
    for part in parts:
        writer.append(PdfReader(io.BytesIO(part)))
    stamp = (moment or dt.date(2000, 1, 1)).strftime("D:%Y%m%d000000Z")
    writer.add_metadata(
        {
            "/Title": title,
            "/Producer": "eduq (WeasyPrint, pypdf)",
            "/CreationDate": stamp,
            "/ModDate": stamp,
        }
    )
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


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
