"""Answer: rank candidate sentences, cut the answer span, and say how sure we are.

Each candidate sentence is described by a few features that mean the same thing
for any question and any corpus:

* ``coverage``: the IDF-weighted share of the question's terms the sentence contains
  (a term absent from the corpus counts with the highest IDF: an unknown name is
  the most specific word of a question, and nothing matched it);
* ``window_coverage``: the same over the sentence and its neighbours, since a
  sentence may say "he" where the question names the person;
* ``phrase_coverage``: the share of the question's consecutive term pairs the sentence
  also has in a row ("first American", "Space Station"): word order, which coverage ignores;
* ``sentence_cosine``: dense similarity of the question with the sentence, whose vector was
  pooled from its passage's tokens, so it carries the passage's context;
* ``passage_score``: how its passage ranked in the fused dense + BM25 passage retrieval,
  relative to the best passage (1 for the top passage);
* ``typed_span``: how well the sentence's best span fits what the question asks for.

A logistic model, fitted on our own labelled questions (``scripts/fit_calibration.py``),
turns them into the probability that the sentence holds the answer: the ``score``.
``answer`` is null when the best score is below ``min_score``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .cache import LruCache
from .index import LoadedIndex
from .records import Answer
from .retrieve import Candidate
from .spans import SentenceAnalysis, analyse_sentence, best_span, expect, question_focus
from .text import terms

CALIBRATION_FILE = Path(__file__).with_name("calibration.json")
FEATURES = (
    "coverage", "window_coverage", "phrase_coverage", "sentence_cosine", "passage_score", "typed_span", "covered_span", "cosine_gap", "coverage_gap",
)
# Sentences whose span analysis is kept between questions (a few KB each): every sentence of a
# corpus of this size, and the most recently read ones of a larger corpus.
ANALYSES_KEPT = 50_000
CONTEXT_TERM_WEIGHT = 0.3  # terms from earlier turns help, but count for less than the question's own
SPAN_SCORE_SCALE = 2.0  # a span scoring this much (type, novelty, head noun, proximity all agree) counts fully


@dataclass(frozen=True)
class Calibration:
    """Logistic weights over ``FEATURES``, fitted by ``scripts/fit_calibration.py`` on our own questions."""

    weights: tuple[float, ...]
    bias: float

    @classmethod
    def load(cls, path: Path = CALIBRATION_FILE) -> "Calibration":
        data = json.loads(Path(path).read_text())
        if tuple(data["features"]) != FEATURES:
            raise ValueError(f"{path} was fitted on features {data['features']}, the reader computes {list(FEATURES)}")
        return cls(weights=tuple(data["weights"]), bias=float(data["bias"]))

    def probability(self, features: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-(features @ np.asarray(self.weights) + self.bias)))


@dataclass
class Reading:
    """One candidate sentence, read: its features, probability and best span."""

    candidate: Candidate
    features: dict[str, float]
    probability: float = 0.0
    span: tuple[int, int] | None = None  # answer span, as offsets inside the sentence


class Reader:
    """Reads retrieved sentences and returns ranked extractive answers."""

    def __init__(self, index: LoadedIndex, calibration: Calibration | None = None, sentences_to_read: int = 30) -> None:
        self.index = index
        self.calibration = calibration or Calibration.load()
        self.sentences_to_read = sentences_to_read
        self._max_idf = max(index.idf.values(), default=1.0)
        self._analyses: LruCache[SentenceAnalysis] = LruCache(ANALYSES_KEPT)

    def answers(self, readings: list[Reading]) -> list[Answer]:
        """The extractive answers of these readings, with text, offsets and citation."""
        return [self._answer(reading) for reading in readings]

    def readings(self, question: str, candidates: list[Candidate], *, context: str = "") -> list[Reading]:
        """Score the candidate sentences; best first, one per distinct sentence text."""
        expectation = expect(question)
        focus_terms = terms(question_focus(question))
        question_weights = {t: self._idf(t) for t in focus_terms}
        bigram_weights = {pair: self._idf(pair[0]) + self._idf(pair[1]) for pair in zip(focus_terms, focus_terms[1:])}
        total_bigram_weight = sum(bigram_weights.values())
        context_terms = set(terms(context)) - question_weights.keys()
        weights = dict(question_weights)
        weights.update({t: CONTEXT_TERM_WEIGHT * self._idf(t) for t in context_terms})
        total_weight = sum(weights.values())

        readings = []
        for candidate in candidates[: self.sentences_to_read]:
            span = best_span(self._analysis(candidate.sentence_id), expectation, question_weights, avoid_terms=context_terms)
            own = self.index.sentence_terms(candidate.sentence_id)
            window = self._window_terms(candidate.sentence_id)
            features = {
                "coverage": _share(weights, own, total_weight),
                "window_coverage": _share(weights, window, total_weight),
                "phrase_coverage": _share(bigram_weights, self.index.sentence_bigrams(candidate.sentence_id), total_bigram_weight),
                "sentence_cosine": candidate.sentence_cosine,
                "passage_score": candidate.passage_score,
                "typed_span": min(1.0, span.score / SPAN_SCORE_SCALE) if span else 0.0,
            }
            features["covered_span"] = features["window_coverage"] * features["typed_span"]
            readings.append(Reading(candidate, features, span=(span.start, span.end) if span else None))
        if readings:
            best_cosine = max(r.features["sentence_cosine"] for r in readings)
            best_coverage = max(r.features["coverage"] for r in readings)
            for r in readings:
                r.features["cosine_gap"] = r.features["sentence_cosine"] - best_cosine
                r.features["coverage_gap"] = r.features["coverage"] - best_coverage
            matrix = np.array([[r.features[name] for name in FEATURES] for r in readings], dtype=np.float64)
            for reading, probability in zip(readings, self.calibration.probability(matrix)):
                reading.probability = float(probability)
        readings.sort(key=lambda r: (-r.probability, r.candidate.sentence_id))
        return _distinct_sentences(readings, self.index)

    def _answer(self, reading: Reading) -> Answer:
        index = self.index
        sentence = index.sentences[reading.candidate.sentence_id]
        chunk = index.chunks[reading.candidate.chunk_id]
        doc = index.documents[sentence.doc_id]
        span_start, span_end = reading.span or (0, sentence.end - sentence.start)
        return Answer(
            text=doc.text[sentence.start + span_start : sentence.start + span_end],
            sentence=doc.text[sentence.start : sentence.end],
            score=reading.probability,
            doc_id=doc.doc_id,
            title=doc.title,
            start=sentence.start + span_start,
            end=sentence.start + span_end,
            sentence_start=sentence.start,
            sentence_end=sentence.end,
            passage=doc.text[chunk.start : chunk.end],
            passage_start=chunk.start,
            passage_end=chunk.end,
            page=doc.page_at(sentence.start),
        )

    def _analysis(self, sentence_id: int) -> SentenceAnalysis:
        """The sentence's question-independent analysis, computed on first use and kept."""
        return self._analyses.get_or_compute(
            sentence_id, lambda: analyse_sentence(self.index.sentence_text(sentence_id), self.index.sentence_tokens(sentence_id))
        )

    def _neighbours(self, sentence_id: int) -> list[int]:
        """The sentence and the sentences either side of it in the same document."""
        doc_id = self.index.sentences[sentence_id].doc_id
        return [
            i for i in (sentence_id - 1, sentence_id, sentence_id + 1)
            if 0 <= i < len(self.index.sentences) and self.index.sentences[i].doc_id == doc_id
        ]

    def _idf(self, term: str) -> float:
        return self.index.idf.get(term, self._max_idf)

    def _window_terms(self, sentence_id: int) -> frozenset[str]:
        return frozenset().union(*(self.index.sentence_terms(i) for i in self._neighbours(sentence_id)))


def _share(weights: dict, present, total: float) -> float:
    """The weighted share of ``weights``' keys found in ``present`` (0 when there is nothing to find)."""
    return sum(w for key, w in weights.items() if key in present) / total if total else 0.0


def _distinct_sentences(readings: list[Reading], index: LoadedIndex) -> list[Reading]:
    """Drop repeats of a sentence text already listed (documents repeat themselves)."""
    seen, kept = set(), []
    for reading in readings:
        text = " ".join(index.sentence_text(reading.candidate.sentence_id).split()).lower()
        if text not in seen:
            seen.add(text)
            kept.append(reading)
    return kept
