"""Measure the conversation rule's two constants on the project's own conversation sets.

Usage:  python scripts/measure_conversation_rule.py [--reader DIR]

``conversation.choose`` keeps the question as asked when the reader's top score for it is
at least ``STANDALONE_CONFIDENT``, and prefers a reading related to the earlier turn within
``UNRELATED_MARGIN`` of an unrelated one.  Both depend on the scale of the reader's scores,
so a new reader needs them measured again: this script scores every pair of a small grid
on ``questions/conversations.jsonl`` (the bundled corpus) and
``questions/general/conversations.jsonl`` (its own corpus), turn by turn as ``spaceqa eval``
does, and prints answerable-turn EM, false-abstain and right-abstain for each set, with EM
per kind of turn.  It chooses nothing: the constants are edited in ``conversation.py`` by
hand, with the figures that justify them in its comments.

Each reading of a question (a retrieval and a reader pass) is computed once and reused
across the grid; an earlier answer that changes with the constants changes the later
turns' readings, which are then read afresh, so every cell is exactly what the service
would answer with those constants.
"""

from __future__ import annotations

import argparse
import itertools
import tempfile
from pathlib import Path

from spaceqa import conversation
from spaceqa.config import Settings
from spaceqa.evaluate import evaluate, load_items
from spaceqa.pipeline import open_engine

ROOT = Path(__file__).resolve().parent.parent
SETS = (  # (name, questions, corpus; None: the bundled corpus and its index)
    ("bundled", ROOT / "questions" / "conversations.jsonl", None),
    ("other", ROOT / "questions" / "general" / "conversations.jsonl", ROOT / "questions" / "general" / "corpus"),
)
CONFIDENT = (0.6, 0.7, 0.8, 0.9, 1.01)  # 1.01: the question as asked never wins on its score alone
MARGIN = (0.0, 0.05, 0.1)


def memoise_readings(engine) -> None:
    """Compute each reading once: ``_read_as`` depends only on the index and the reading's text."""
    read_as, memo = engine._read_as, {}

    def remembered(state, option):
        key = (option.question, option.context, option.how)
        if key not in memo:
            memo[key] = read_as(state, option)
        return memo[key]

    engine._read_as = remembered


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reader", type=Path, help="reader folder (default: SPACEQA_READER, else the shipped one)")
    args = parser.parse_args()
    overrides = {"reader": str(args.reader)} if args.reader else {}
    print(f"{'set':>8} {'confident':>9} {'margin':>6} {'EM':>5} {'FA':>5} {'RA':>5}  EM per kind")
    with tempfile.TemporaryDirectory(prefix="spaceqa-rule-") as scratch:
        for name, questions, corpus in SETS:
            own_corpus = {} if corpus is None else {"corpus_dir": corpus, "index_dir": Path(scratch) / name}
            engine = open_engine(Settings.load({**overrides, **own_corpus}))
            memoise_readings(engine)
            items = load_items(questions)
            for confident, margin in itertools.product(CONFIDENT, MARGIN):
                conversation.STANDALONE_CONFIDENT, conversation.UNRELATED_MARGIN = confident, margin
                report = evaluate(engine, items)
                metrics = report.metrics  # over every turn, as `spaceqa eval` reports them
                kinds = " ".join(f"{kind}={values['em']}" for kind, values in report.by_kind.items())
                print(f"{name:>8} {confident:>9} {margin:>6} {metrics['em']:>5} {metrics['false_abstain']:>5} {metrics['right_abstain']:>5}  {kinds}", flush=True)


if __name__ == "__main__":
    main()
