"""Fit the answer-score calibration: logistic weights over the reader's sentence features.

Usage:  python scripts/fit_calibration.py [--write]

Two stages, both on our own training questions (calibration/), never the evaluation sets:

1. Ranking.  Every candidate sentence the reader sees for a question is one example,
   labelled 1 when it holds a gold answer (``answer_in_sentence``, as the evaluation does),
   else 0.  A logistic regression over the features orders the sentences.
2. Answerability (Platt scaling).  One example per question: the ranker's score of its top
   sentence, labelled 1 when the documents answer the question, 0 when they do not.
   Rescaling the ranker's logit this way makes the top ``score`` the chance that the
   documents answer the question, which is exactly what ``answer: null`` must mean
   ("the documents do not answer"), so abstaining below 0.5 is the right rule.  A wrong
   pick for an answerable question still counts as answerable: abstaining would not make
   it right.  The ranking itself is unchanged.

The two stages fold into one set of weights (Platt's slope times the ranker's weights),
written to src/spaceqa/calibration.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from datetime import date
from pathlib import Path

import numpy as np

from spaceqa.answer import CALIBRATION_FILE, FEATURES, Calibration
from spaceqa.config import Settings
from spaceqa.evaluate import answer_in_sentence, load_items
from spaceqa.pipeline import open_engine

L2_PENALTY = 1.0  # on the weights, not the bias: keeps them stable on a small training set


TRAINING_SETS = [  # (corpus folder, questions over it)
    ("corpus", "calibration/bundled.jsonl"),
    ("calibration/general/corpus", "calibration/general/questions.jsonl"),
]


def collect(engine, items) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """Features and labels of every candidate sentence, and the question each belongs to."""
    rows, labels, groups = [], [], []
    for number, item in enumerate(items):
        turn = item.turns[0]
        for reading in engine.readings(turn.question):
            sentence = engine.index.sentence_text(reading.candidate.sentence_id)
            rows.append([reading.features[name] for name in FEATURES])
            labels.append(float(any(answer_in_sentence(g, sentence) for g in turn.answers)))
            groups.append(number)
    return np.array(rows), np.array(labels), groups


def fit_logistic(x: np.ndarray, y: np.ndarray, penalty: float = L2_PENALTY, steps: int = 50) -> tuple[np.ndarray, float]:
    """L2-regularised logistic regression by Newton's method (the problem is small and convex)."""
    design = np.hstack([x, np.ones((len(x), 1))])
    theta = np.zeros(design.shape[1])
    ridge = np.eye(design.shape[1]) * penalty
    ridge[-1, -1] = 0.0
    for _ in range(steps):
        p = 1.0 / (1.0 + np.exp(-design @ theta))
        gradient = design.T @ (p - y) + ridge @ theta
        hessian = design.T @ (design * (p * (1 - p))[:, None]) + ridge
        step = np.linalg.solve(hessian, gradient)
        theta -= step
        if np.abs(step).max() < 1e-8:
            break
    return theta[:-1], float(theta[-1])


def top_of_each_question(scores: np.ndarray, labels: np.ndarray, groups: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """The best score of each question's candidates, and whether that candidate is right."""
    best: dict[int, int] = {}
    for row, group in enumerate(groups):
        if group not in best or scores[row] > scores[best[group]]:
            best[group] = row
    rows = [best[group] for group in sorted(best)]
    return scores[rows], labels[rows]


def answerable(items) -> np.ndarray:
    return np.array([float(bool(item.turns[0].answers)) for item in items])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help=f"write the weights to {CALIBRATION_FILE}")
    args = parser.parse_args()

    features, labels, groups, questions, answerability = [], [], [], 0, []
    for corpus, question_file in TRAINING_SETS:
        items = load_items(Path(question_file))
        with tempfile.TemporaryDirectory() as index_dir:
            # Features do not depend on the weights being fitted; any calibration reads them.
            neutral = Calibration(weights=(1.0,) * len(FEATURES), bias=0.0)
            engine = open_engine(Settings.load({"corpus_dir": corpus, "index_dir": index_dir}), calibration=neutral)
            x, y, g = collect(engine, items)
        features.append(x)
        labels.append(y)
        answerability.append(answerable(items))
        groups += [questions + group for group in g]
        questions += len(items)
    x, y = np.vstack(features), np.concatenate(labels)

    weights, bias = fit_logistic(x, y)
    top_scores, top_right = top_of_each_question(x @ weights + bias, y, groups)
    is_answerable = np.concatenate(answerability)
    (slope,), intercept = fit_logistic(top_scores[:, None], is_answerable, penalty=0.0)
    weights, bias = weights * slope, bias * slope + intercept

    confidence = 1.0 / (1.0 + np.exp(-(slope * top_scores + intercept)))
    print(f"{questions} questions, {len(y)} candidate sentences, {int(y.sum())} holding an answer")
    answered = confidence >= 0.5
    print(f"top sentence right for {int(top_right.sum())} of {int(is_answerable.sum())} answerable questions")
    print(f"Platt slope {slope:.3f}, intercept {intercept:+.3f}; at score >= 0.5 the training questions get")
    print(f"  right-abstain {1 - answered[is_answerable == 0].mean():.1%}, false-abstain {1 - answered[is_answerable == 1].mean():.1%}")
    for name, weight in zip(FEATURES, weights):
        print(f"  {name:>16}  {weight:+.3f}")
    print(f"  {'bias':>16}  {bias:+.3f}")
    if args.write:
        CALIBRATION_FILE.write_text(
            json.dumps(
                {
                    "features": list(FEATURES),
                    "weights": [round(float(w), 4) for w in weights],
                    "bias": round(float(bias), 4),
                    "fitted_on": [question_file for _, question_file in TRAINING_SETS],
                    "questions": questions,
                    "candidates": len(y),
                    "fitted": date.today().isoformat(),
                },
                indent=2,
            )
            + "\n"
        )
        print(f"wrote {CALIBRATION_FILE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
