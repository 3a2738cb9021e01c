"""How well the reader's answerability tells a question from the same question with one name changed.

Usage:  python scripts/answerability_by_swap.py --data FILE [--reader DIR] [--questions N] [--seed S]

For answerable questions of a SQuAD file that share a name or number with the text around
their answer (the answer with 300 characters either side), the reader reads that text three
times: with the question as it is; with the shared name replaced by one of the same shape
from elsewhere in the paragraph that the text lacks (much as training's `swapped` negatives
are made); and with it replaced by another of the text's own names, never the answer.  The
two changed questions are taken as unanswerable (the second only mostly: the text may say the
same of both names).  It prints the ROC area of the answerability logit between the unchanged
questions and each kind: how much of the reader's answerability rests on spotting a word the
text lacks.  On ``d['data'][0::3]`` of the training set, articles pass 9 did not train on,
pass 9 measures 0.935 and 0.675 (pass 12, trained there on the second kind: 0.952 and 0.743);
SQuAD 2.0's unanswerable questions, written in their paragraph's words, measure about 0.70.
Nothing is fitted.
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

import numpy as np

from spaceqa.reader import load_reader
from spaceqa.reader.data import names_and_numbers

AROUND = 300  # characters of the paragraph kept on each side of the answer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="SQuAD-format JSON with answerable questions")
    parser.add_argument("--reader", type=Path, default=None, help="reader folder (default: the shipped one)")
    parser.add_argument("--questions", type=int, default=600)
    parser.add_argument("--seed", type=int, default=5)
    args = parser.parse_args()

    reader, _ = load_reader(args.reader)
    rng = random.Random(args.seed)
    asked = [
        (paragraph["context"], qa["question"], qa["answers"][0])
        for article in json.loads(args.data.read_text(encoding="utf-8"))["data"]
        for paragraph in article["paragraphs"]
        for qa in paragraph["qas"]
        if qa.get("answers")
    ]
    rng.shuffle(asked)
    unchanged, outside, inside = [], [], []
    for paragraph, question, answer in asked:
        if len(unchanged) >= args.questions:
            break
        found = changed_questions(paragraph, question, answer, rng)
        if found is None:
            continue
        text, foreign, own = found

        def answerability(asked_as: str) -> float:
            return reader.read(asked_as, [text])[0].answerable_logit

        unchanged.append(answerability(question))
        inside.append(answerability(own))
        if foreign is not None:
            outside.append(answerability(foreign))

    print(f"{len(unchanged)} questions; mean answerability logit {np.mean(unchanged):+.2f}")
    for name, changed in (("a name the text lacks", outside), ("another of the text's own names", inside)):
        print(f"ROC area against {name} ({len(changed)} questions, mean logit {np.mean(changed):+.2f}): {roc_area(unchanged, changed):.3f}")


def changed_questions(paragraph: str, question: str, answer: dict, rng: random.Random) -> tuple[str, str | None, str] | None:
    """The text around the answer, the question with a name it lacks (None when the paragraph has none), and with one of its own.

    None when the question shares no name or number with the text, or the text holds no other
    of the same shape that is neither the answer nor a name of the question.
    """
    start = answer["answer_start"]
    text = paragraph[max(0, start - AROUND) : start + len(answer["text"]) + AROUND]
    lowered = text.lower()
    shared = [m for m in names_and_numbers(question) if m.group().lower() in lowered]
    if not shared:
        return None
    chosen = rng.choice(shared)
    numeric = chosen.group()[0].isdigit()
    taken = [m.group().lower() for m in names_and_numbers(question)] + [answer["text"].lower()]
    own = sorted({
        m.group() for m in names_and_numbers(text)
        if m.group()[0].isdigit() == numeric and not any(m.group().lower() in t or t in m.group().lower() for t in taken)
    })
    if not own:
        return None
    foreign = sorted({m.group() for m in names_and_numbers(paragraph) if m.group()[0].isdigit() == numeric and m.group().lower() not in lowered})

    def with_name(name: str) -> str:
        return question[: chosen.start()] + name + question[chosen.end() :]

    return text, with_name(rng.choice(foreign)) if foreign else None, with_name(rng.choice(own))


def roc_area(positives: list[float], negatives: list[float]) -> float:
    """The chance that a random positive scores above a random negative (ties count half)."""
    p, n = np.asarray(positives)[:, None], np.asarray(negatives)[None, :]
    return float(((p > n).sum() + 0.5 * (p == n).sum()) / (p.size * n.size))


if __name__ == "__main__":
    main()
