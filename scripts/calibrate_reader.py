"""Fit the reader's calibration on SQuAD 2.0 development questions and store it in its model card.

Usage:  python scripts/calibrate_reader.py [--data FILE] [--reader DIR] [--questions N] [--write]

As ``spaceqa eval`` does, every paragraph of the file becomes a document and every question
is asked over all of them.  The articles are split in two: the even-numbered ones fit the
calibration, the odd-numbered ones check it, so the figures printed for the check half come
from questions the fit never saw.  Nothing here changes the reader's weights: they learn
from the training set only.

For each question, retrieval's candidates are read as windows (up to the largest number
tried), and two stages are fitted, as a logistic regression each:

1. Ranking.  Every window's span is one example: its features (``answer.FEATURES``) against
   its F1 with the gold answers (a soft label; 0 for a question the documents do not
   answer).  The weights order the spans: the best one becomes the answer.
2. Answerability (Platt scaling).  One example per question: the ranking logit of its top
   span, against "do the documents answer this question?".  Rescaled this way, the top
   ``score`` is the chance that the documents answer the question, which is what
   ``answer: null`` must mean, so abstaining below 0.5 is the rule.
3. The prior.  Half of SQuAD 2.0's questions are unanswerable, and written to look
   answerable; people asking about their own documents mostly ask what the documents hold,
   and a service that declines a fair question costs them more than one that shows a
   cited sentence it was unsure of.  So the intercept is raised, if need be, until at most
   ``FALSE_ABSTAIN_TARGET`` of the fitting half's answerable questions score below 0.5:
   the score is then the chance of an answer when a larger share of questions are
   answerable (that share is written in the card as ``answerable_prior``).

The stages fold into one set of weights (Platt's slope times the ranking weights).  Both are
fitted for each number of windows read; the number with the best overall F1 on the fitting
half is kept, and fewer windows when another is within half a point (each window costs
reading time); ``--windows`` fixes the number instead.  ``--write`` stores the windows
read, the weights, what they were fitted on and the check figures in the reader's
``card.json`` under ``asking``.  For the check half it also prints the ROC area of the top
score (answerable against unanswerable) and the figures other thresholds would give: how far
abstention can move with this reader, whatever the prior.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import platform
import random
import sys
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np

from spaceqa.answer import FEATURES, Answerer, Calibration, relative_features
from spaceqa.build import build_index
from spaceqa.chunk import ChunkParams
from spaceqa.config import Settings
from spaceqa.evaluate import exact_match, f1_score, write_squad_corpus
from spaceqa.index import load_index
from spaceqa.ingest import file_sha256
from spaceqa.pipeline import load_embedder
from spaceqa.reader import SHIPPED_READER, load_reader
from spaceqa.retrieve import Query, Retriever
from spaceqa.text import terms

WINDOWS_TRIED = (4, 6, 8, 12)
L2_PENALTY = 1.0  # on the weights, not the bias
MIN_SCORE = 0.5  # the service's default SPACEQA_MIN_SCORE: the figures are printed at it
CLOSE_ENOUGH = 0.5  # points of overall F1 within which fewer windows are preferred
FALSE_ABSTAIN_TARGET = 0.12  # answerable questions the service may decline (the reader issue allows 15%)
DECLINED_SHARES = (0.05, 0.10, 0.15, 0.20, 0.30)  # of the answerable questions, for the trade-offs printed on the check half


@dataclass(frozen=True)
class Question:
    question: str
    answers: list[str]  # empty: the documents do not answer it


def fit_logistic(x: np.ndarray, y: np.ndarray, penalty: float = L2_PENALTY, steps: int = 50) -> tuple[np.ndarray, float]:
    """L2-regularised logistic regression by Newton's method; ``y`` may be soft (in [0, 1])."""
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


def halves(path: Path) -> dict[str, list[Question]]:
    """The questions of even-numbered articles ("fit") and of odd-numbered ones ("check")."""
    data = json.loads(path.read_text(encoding="utf-8"))
    split: dict[str, list[Question]] = {"fit": [], "check": []}
    for number, article in enumerate(data["data"]):
        for paragraph in article["paragraphs"]:
            for qa in paragraph["qas"]:
                answers = [] if qa.get("is_impossible") else list(dict.fromkeys(a["text"] for a in qa["answers"]))
                split["fit" if number % 2 == 0 else "check"].append(Question(qa["question"], answers))
    return split


def read_questions(answerer: Answerer, retriever: Retriever, embedder, questions: list[Question], windows: int) -> list[list[dict]]:
    """For each question: its windows' features and the span's EM and F1, in retrieval order."""
    from tqdm import tqdm

    vectors = embedder.embed([q.question for q in questions])
    read = []
    for question, vector in tqdm(list(zip(questions, vectors)), desc="reading", unit="question", mininterval=10):
        candidates = retriever.candidates(Query(vector=vector, terms=terms(question.question)))
        rows = []
        for reading in answerer.read(question.question, candidates, windows):
            rows.append({
                "features": dict(reading.features),
                "span": reading.text,
                "f1": max((f1_score(reading.text, g) for g in question.answers), default=0.0),
                "em": max((exact_match(reading.text, g) for g in question.answers), default=0.0),
            })
        read.append(rows)
    return read


def fit(read: list[list[dict]], questions: list[Question], windows: int) -> tuple[np.ndarray, float, dict]:
    """Ranking weights, then Platt scaling of each question's top logit; folded into one (weights, bias)."""
    x = np.vstack([design(rows, windows) for rows in read if rows])
    y = np.array([r["f1"] for rows in read if rows for r in rows[:windows]])
    weights, bias = fit_logistic(x, y)
    tops, answerable = [], []
    for rows, question in zip(read, questions):
        if rows:
            tops.append(float(np.max(design(rows, windows) @ weights + bias)))
            answerable.append(float(bool(question.answers)))
    tops, answerable = np.array(tops), np.array(answerable)
    (slope,), intercept = fit_logistic(tops[:, None], answerable, penalty=0.0)
    shift = prior_shift(slope * tops + intercept, answerable, FALSE_ABSTAIN_TARGET)
    weights, bias = weights * slope, bias * slope + intercept + shift
    share = float(answerable.mean())
    prior = 1 / (1 + np.exp(-(np.log(share / (1 - share)) + shift)))
    return weights, bias, {**outcomes(read, questions, windows, weights, bias), "answerable_prior": round(float(prior), 3)}


def prior_shift(logits: np.ndarray, answerable: np.ndarray, target: float) -> float:
    """How far to raise the intercept so that at most ``target`` of the answerable questions' logits stay below 0 (none: 0)."""
    answered = np.sort(logits[answerable > 0])
    allowed_below = int(np.floor(target * len(answered)))
    if allowed_below >= len(answered):
        return 0.0
    return max(0.0, -float(answered[allowed_below]) + 1e-6)


def design(rows: list[dict], windows: int) -> np.ndarray:
    """Feature rows of the first ``windows`` windows, the comparative ones taken among those windows only."""
    kept = rows[:windows]
    relative = relative_features([r["features"] for r in kept], [r["span"] for r in kept])
    return np.array([[relative[name][i] if name in relative else r["features"][name] for name in FEATURES] for i, r in enumerate(kept)])


def top_answers(read: list[list[dict]], windows: int, weights: np.ndarray, bias: float) -> list[tuple[float, dict]]:
    """Each question's top score under this calibration and its top window's EM and F1 (0 and nothing read: none)."""
    tops = []
    for rows in read:
        score, best = 0.0, {"em": 0.0, "f1": 0.0}
        if rows:
            scores = 1 / (1 + np.exp(-(design(rows, windows) @ weights + bias)))
            top = int(np.argmax(scores))
            score, best = float(scores[top]), rows[top]
        tops.append((score, best))
    return tops


def outcomes(read: list[list[dict]], questions: list[Question], windows: int, weights: np.ndarray, bias: float) -> dict:
    """The figures ``spaceqa eval`` would report with this calibration, at ``MIN_SCORE``."""
    return figures(top_answers(read, windows, weights, bias), questions, MIN_SCORE)


def figures(tops: list[tuple[float, dict]], questions: list[Question], min_score: float) -> dict:
    """The figures of these top answers (``top_answers``) when those scored below ``min_score`` are declined."""
    em, f1, overall, right_abstain, false_abstain = [], [], [], [], []
    for (score, best), question in zip(tops, questions):
        answered = score >= min_score
        if question.answers:
            em.append(best["em"] if answered else 0.0)
            f1.append(best["f1"] if answered else 0.0)
            false_abstain.append(not answered)
            overall.append(f1[-1])
        else:
            right_abstain.append(not answered)
            overall.append(float(not answered))

    def share(values) -> float | None:
        return round(100 * float(np.mean(values)), 1) if values else None

    return {
        "questions": len(questions), "answerable_em": share(em), "answerable_f1": share(f1), "right_abstain": share(right_abstain),
        "false_abstain": share(false_abstain), "overall_f1": share(overall),
    }


def trade_offs(read: list[list[dict]], questions: list[Question], windows: int, weights: np.ndarray, bias: float) -> tuple[float, list[dict]]:
    """How well the top score tells answerable questions from the others, and what other thresholds would give.

    First the area under the ROC curve: the chance that an answerable question's top score
    is above an unanswerable one's (0.5: no better than chance).  Then, for each share of
    the answerable questions declined in ``DECLINED_SHARES``, the figures at the threshold
    that declines that share: no threshold does better than the area allows, so these say
    how far a calibration alone can move right-abstain, and at what cost.
    """
    from scipy.stats import rankdata  # installed with sentence-transformers (requirements.lock)

    tops = top_answers(read, windows, weights, bias)
    scores = np.array([score for score, _ in tops])
    answerable = np.array([bool(q.answers) for q in questions])
    ranks = rankdata(scores)  # from 1; tied scores share their mean rank
    positives, negatives = int(answerable.sum()), int((~answerable).sum())
    area = (ranks[answerable].sum() - positives * (positives + 1) / 2) / max(1, positives * negatives)
    rows = []
    for declined in DECLINED_SHARES:
        threshold = float(np.quantile(scores[answerable], declined))
        rows.append({"declined_share": declined, "threshold": round(threshold, 3), **figures(tops, questions, threshold)})
    return round(float(area), 3), rows


def cpu_description() -> str:
    """The CPU's model and widest vector extension: the int8 embedder's vectors, and so the
    retrieval features fitted here, differ slightly between CPUs with and without AVX-512."""
    model, flags = platform.processor() or platform.machine(), set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            name, _, value = line.partition(":")
            if name.strip() == "model name":
                model = value.strip()
            elif name.strip() == "flags":
                flags = set(value.split())
                break
    except OSError:
        pass
    widest = next((flag for flag in ("avx512_vnni", "avx512f", "avx2") if flag in flags), None)
    return f"{model}, {widest.upper()}" if widest else model


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/eval/dev-squad2.json"), help="SQuAD 2.0 file (answerable and unanswerable questions)")
    parser.add_argument("--reader", type=Path, default=SHIPPED_READER, help="reader folder to calibrate")
    parser.add_argument("--work", type=Path, default=Path(".reader-work/calibration"), help="folder for the corpus and index of --data")
    parser.add_argument("--questions", type=int, default=0, help="questions sampled from each half (0: all)")
    parser.add_argument("--windows", type=int, choices=WINDOWS_TRIED, help="fit this number of windows read instead of choosing one")
    parser.add_argument("--write", action="store_true", help="store the calibration in the reader's card.json")
    args = parser.parse_args()

    questions = halves(args.data)
    rng = random.Random(0)
    for half, found in questions.items():
        if args.questions and args.questions < len(found):
            questions[half] = rng.sample(found, args.questions)

    # Three features are retrieval's evidence (sentence_cosine, passage_score, retrieval_rank):
    # they are measured with the embedder the service asks with (SPACEQA_EMBEDDING_RUNTIME,
    # ONNX Runtime int8 by default), as the hard negatives of training are, or the weights
    # fitted here would weigh numbers the service never computes.
    embedder = load_embedder(Settings.load())
    build_index(write_squad_corpus(args.data, args.work / "corpus"), args.work / "index", embedder, ChunkParams())
    index = load_index(args.work / "index")
    reader, reader_card = load_reader(args.reader)
    # Features do not depend on the weights being fitted: any calibration reads them.
    answerer = Answerer(index, reader, Calibration(windows_read=max(WINDOWS_TRIED), weights=(0.0,) * len(FEATURES), bias=0.0))
    retriever = Retriever(index)
    # Reading is the slow part: kept in --work, so refitting (other windows, a new fit) is instant.
    # The runtime is part of the key: int8's logits differ a little from float32's.
    key = json.dumps([file_sha256(args.reader / "reader.safetensors"), reader_card.runtime, file_sha256(args.data), args.questions, max(WINDOWS_TRIED), FEATURES, embedder.name])
    cache = args.work / f"readings-{hashlib.sha256(key.encode()).hexdigest()[:16]}.json"
    if cache.exists():
        read = json.loads(cache.read_text())
    else:
        read = {half: read_questions(answerer, retriever, embedder, found, max(WINDOWS_TRIED)) for half, found in questions.items()}
        cache.write_text(json.dumps(read))

    fitted = {}
    for windows in WINDOWS_TRIED:
        fitted[windows] = fit(read["fit"], questions["fit"], windows)
        print(f"{windows:>2} windows, fitting half: {fitted[windows][2]}")
    best = max(fitted[w][2]["overall_f1"] for w in WINDOWS_TRIED)
    windows = args.windows or min(w for w in WINDOWS_TRIED if fitted[w][2]["overall_f1"] >= best - CLOSE_ENOUGH)
    weights, bias, fit_figures = fitted[windows]
    check_figures = outcomes(read["check"], questions["check"], windows, weights, bias)
    print(f"chosen: {windows} windows")
    for name, weight in zip(FEATURES, weights):
        print(f"  {name:>16}  {weight:+.3f}")
    print(f"  {'bias':>16}  {bias:+.3f}")
    print(f"check half (articles the fit never saw): {check_figures}")
    area, rows = trade_offs(read["check"], questions["check"], windows, weights, bias)
    print(f"check half, other thresholds (ROC area of the top score, answerable against not: {area}):")
    for row in rows:
        print(f"  declining {row['false_abstain']:>4}% of the answerable: right-abstain {row['right_abstain']:>4}, "
              f"answerable F1 {row['answerable_f1']:>4}, overall F1 {row['overall_f1']:>4} (score {row['threshold']})")
    if args.write:
        card_path = args.reader / "card.json"
        card = json.loads(card_path.read_text(encoding="utf-8"))
        card["asking"] = {
            "windows_read": windows,
            "features": list(FEATURES),
            "weights": [round(float(w), 4) for w in weights],
            "bias": round(float(bias), 4),
            "fitted_on": {"file": args.data.name, "sha256": file_sha256(args.data), "articles": "even-numbered", "figures": fit_figures},
            "retrieved_with": embedder.name,
            "retrieved_on": cpu_description(),
            "checked_on": {"file": args.data.name, "articles": "odd-numbered", "figures": check_figures},
            "figures_at_min_score": MIN_SCORE,
            "answerable_prior": fit_figures["answerable_prior"],
            "false_abstain_target": FALSE_ABSTAIN_TARGET,
            "fitted": date.today().isoformat(),
        }
        card_path.write_text(json.dumps(card, indent=2) + "\n")
        print(f"wrote the calibration into {card_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
