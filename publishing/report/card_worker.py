"""A process that lays out school cards for ``cards_pdf.render_cards_pdf``: it reads chunks of cards
(``cards_pdf.CardChunk``, pickled, each preceded by its length in 8 bytes) from its standard input and
answers each with the PDF of each of its cards, the same way, until the input closes.

Started as ``python -m publishing.report.card_worker`` by the process publishing the cards, which is
the only writer of its input: a plain process rather than ``multiprocessing``, so that nothing of the
parent's ``__main__`` (a script, the ``eduq`` command, pytest) is imported again.
"""

from __future__ import annotations

import os
import pickle
import sys


def main() -> int:
    # the answers go to the original standard output; anything printed (from here on, imports
    # included) goes to standard error
    answers = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())

    from publishing.report.cards_pdf import read_message, render_card_chunk, write_message

    requests = sys.stdin.buffer
    while (message := read_message(requests)) is not None:
        chunk = pickle.loads(message)
        write_message(answers, pickle.dumps(render_card_chunk(chunk)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
