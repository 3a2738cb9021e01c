"""Where answerable questions are lost: retrieval, the choice between windows, or the span.

Usage:  python scripts/where_answers_are_lost.py --data FILE [--reader DIR] [--questions N]

As ``spaceqa eval`` does, every paragraph of the SQuAD file becomes a document and every
answerable question is asked over all of them.  Each question's retrieved candidates are
read as windows, up to the most tried, and for each number of windows read it prints:

* ``gold read``: a window from the question's own paragraph holding a gold answer was read
  (what retrieval lets the reader see);
* ``gold chosen``: the calibration's top window is such a window (what the choice keeps);
* ``best span``: some window's span is exactly a gold answer (the best any choice could do);
* ``EM`` / ``F1``: the top window's span, answered or not (the choice and the span together).

``gold read`` minus ``gold chosen`` is the cost of choosing between windows, ``100 - gold
read`` the cost of retrieval.  The calibration is the reader card's own, applied to every
number of windows, so only its own number measures the service exactly.  Nothing is fitted.
"""

from __future__ import annotations

import argparse
import copy
import sys
from pathlib import Path

from spaceqa.answer import Answerer, Calibration
from spaceqa.build import build_index
from spaceqa.chunk import ChunkParams
from spaceqa.config import Settings
from spaceqa.evaluate import answer_in_sentence, exact_match, f1_score, load_items, sample, write_squad_corpus
from spaceqa.index import load_index
from spaceqa.pipeline import load_embedder
from spaceqa.reader import SHIPPED_READER, load_reader
from spaceqa.retrieve import Query, Retriever
from spaceqa.text import terms

WINDOWS_TRIED = (4, 6, 8, 12)


def breakdown(answerer: Answerer, retriever: Retriever, embedder, items) -> dict[int, dict[str, float]]:
    """Per number of windows read, the shares described in the module docstring (in %)."""
    from tqdm import tqdm

    index = answerer.index
    totals = {w: dict.fromkeys(("gold read", "gold chosen", "best span", "EM", "F1"), 0.0) for w in WINDOWS_TRIED}
    vectors = embedder.embed([item.turns[0].question for item in items])
    for item, vector in tqdm(list(zip(items, vectors)), desc="reading", unit="question", mininterval=10):
        turn = item.turns[0]
        candidates = retriever.candidates(Query(vector=vector, terms=terms(turn.question)))
        read = answerer.read(turn.question, candidates, max(WINDOWS_TRIED))

        def holds_gold(reading) -> bool:
            in_own_paragraph = index.sentences[reading.first_sentence].doc_id in turn.docs
            return in_own_paragraph and any(answer_in_sentence(gold, answerer.window_text(reading)) for gold in turn.answers)

        for windows in WINDOWS_TRIED:
            kept = [copy.copy(reading) for reading in read[:windows]]
            for reading in kept:  # rank() writes the comparative features into each reading
                reading.features = dict(reading.features)
            ranked = answerer.rank(kept)
            top = ranked[0] if ranked else None
            counts = totals[windows]
            counts["gold read"] += any(holds_gold(r) for r in kept)
            counts["gold chosen"] += bool(top) and holds_gold(top)
            counts["best span"] += max((exact_match(r.text, gold) for r in kept for gold in turn.answers), default=0.0)
            counts["EM"] += max(exact_match(top.text, gold) for gold in turn.answers) if top else 0.0
            counts["F1"] += max(f1_score(top.text, gold) for gold in turn.answers) if top else 0.0
    return {w: {name: round(100 * value / max(len(items), 1), 1) for name, value in counts.items()} for w, counts in totals.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="SQuAD JSON file (its unanswerable questions are left out)")
    parser.add_argument("--reader", type=Path, default=SHIPPED_READER, help="reader folder (calibrated)")
    parser.add_argument("--work", type=Path, default=Path(".reader-work/breakdown"), help="folder for the corpus and index of --data")
    parser.add_argument("--questions", type=int, default=1500, help="questions sampled as `spaceqa eval --limit` samples them; the answerable ones are read (0: all)")
    args = parser.parse_args()

    embedder = load_embedder(Settings.load())  # the embedder the service asks with
    work = args.work / args.data.stem
    build_index(write_squad_corpus(args.data, work / "corpus"), work / "index", embedder, ChunkParams())
    reader, card = load_reader(args.reader)
    answerer = Answerer(load_index(work / "index"), reader, Calibration.from_card(card))
    items = [item for item in sample(load_items(args.data), args.questions) if item.turns[0].answers]
    figures = breakdown(answerer, Retriever(answerer.index), embedder, items)
    print(f"{len(items)} answerable questions of {args.data.name}; the card's calibration reads {answerer.calibration.windows_read} windows")
    for windows, shares in figures.items():
        print(f"{windows:>2} windows: " + ", ".join(f"{name} {value}" for name, value in shares.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
