"""Answer: read the best retrieved sentences with the trained reader, and rank its spans.

The top candidate sentences from retrieval are read as windows (each with its
neighbours, see ``reader/windows.py``), all in one batch; each window yields the
reader's best span in it.  A few features per span then go through a logistic
calibration into ``score``, the estimated chance that the span answers the question:

* ``answerable``: the reader's answerability logit for the window;
* ``span_logprob``: how sure the reader is of this span among the window's spans;
* ``answerable_gap``: the logit's distance below the best window's (how it compares);
* ``retrieval_rank``: log(1 + rank) of the window's sentence in the fused retrieval;
* ``sentence_cosine``, ``passage_score``: the retrieval evidence for the sentence;
* ``question_coverage``: the share of the question's terms that the window contains (a
  question about something the text never names is rarely answered by it);
* ``span_agreement``: how strongly the other windows propose the same span text:
  log(1 + the sum of their answerability as probabilities).  An answer several passages
  agree on is more often right, but only the windows that say they hold an answer count:
  a name that every window mentions, proposed by windows sure they do not answer, gains
  nothing (counting proposals alone let such a name outvote a window sure of its answer).
* ``span_shared``: the span's log-probability among the spans of all the windows read
  (the reader is trained to make its logits comparable across a question's windows).

The weights are fitted by ``scripts/calibrate_reader.py`` and stored in the reader's
model card with the number of windows read, so a reader always comes with the settings
it was calibrated for.  ``answer`` is null when the best score is below ``min_score``.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .cache import LruCache
from .index import LoadedIndex
from .reader import ExtractiveReader, ReaderCard, SpanReading
from .reader.loading import ReaderMismatchError
from .reader.reading import shared_logprobs
from .reader.windows import window_range
from .records import Answer
from .retrieve import Candidate
from .text import terms

FEATURES = (
    "answerable", "span_logprob", "answerable_gap", "retrieval_rank", "sentence_cosine", "passage_score", "question_coverage", "span_agreement",
    "span_shared",
)
NEIGHBOURHOOD = 8  # sentences either side of a candidate that a window may reach
TOKEN_COUNTS_KEPT = 100_000  # sentence lengths in tokens, kept between questions


@dataclass(frozen=True)
class Calibration:
    """How many windows to read, and the logistic weights over ``FEATURES`` fitted for that."""

    windows_read: int
    weights: tuple[float, ...]
    bias: float

    @classmethod
    def from_card(cls, card: ReaderCard) -> "Calibration":
        asking = card.asking
        if not asking:
            raise ReaderMismatchError("the reader is not calibrated yet: run scripts/calibrate_reader.py on it")
        if tuple(asking.get("features", ())) != FEATURES:
            raise ReaderMismatchError(f"the reader was calibrated on features {asking.get('features')}, this SpaceQA computes {list(FEATURES)}")
        return cls(windows_read=int(asking["windows_read"]), weights=tuple(asking["weights"]), bias=float(asking["bias"]))

    def probability(self, features: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-(features @ np.asarray(self.weights) + self.bias)))


@dataclass
class Reading:
    """One window, read: the span the reader found in it, where it lies, and its score."""

    candidate: Candidate  # the retrieved sentence the window was built around
    rank: int  # the candidate's place in retrieval, from 0
    first_sentence: int  # the window's sentences, [first, last)
    last_sentence: int
    span: SpanReading
    start: int  # the span's offsets in the document
    end: int
    text: str  # the span's text
    features: dict[str, float]
    score: float = 0.0


def relative_features(own: Sequence[dict[str, float]], spans: Sequence[str]) -> dict[str, list[float]]:
    """The features that compare a window with the others read for the same question.

    ``own`` holds each window's features of its own (``Answerer.read``), ``spans`` its span's text.
    """
    answerable = [f["answerable"] for f in own]
    best = max(answerable)
    keys = [span_key(span) for span in spans]
    confidence = [1.0 / (1.0 + math.exp(-a)) for a in answerable]
    backing: dict[str, float] = defaultdict(float)  # per span text: the summed confidence of the windows proposing it
    for key, sure in zip(keys, confidence):
        backing[key] += sure
    agreement = [math.log1p(backing[key] - sure) if key else 0.0 for key, sure in zip(keys, confidence)]
    shared = shared_logprobs([f["span_logprob"] for f in own], [f["start_mass"] for f in own], [f["end_mass"] for f in own])
    return {"answerable_gap": [a - best for a in answerable], "span_agreement": agreement, "span_shared": shared}


def span_key(text: str) -> str:
    """A span's text as compared across windows: case, spacing and edge punctuation aside."""
    return " ".join(text.lower().split()).strip(".,;:!?\"'()[]“”‘’")


class Answerer:
    """Reads retrieved sentences with the reader and returns ranked extractive answers."""

    def __init__(self, index: LoadedIndex, reader: ExtractiveReader, calibration: Calibration) -> None:
        self.index = index
        self.reader = reader
        self.calibration = calibration
        self._token_counts: LruCache[int] = LruCache(TOKEN_COUNTS_KEPT)

    def readings(self, question: str, candidates: Sequence[Candidate]) -> list[Reading]:
        """Read the windows of the best candidates; best first, one per distinct sentence."""
        return self.rank(self.read(question, candidates, self.calibration.windows_read))

    def read(self, question: str, candidates: Sequence[Candidate], windows: int) -> list[Reading]:
        """Read up to ``windows`` windows around the best candidates, in one batch; in retrieval order, unscored."""
        chosen = self.windows(question, candidates, windows)
        texts = [self._text(first, last) for _, _, first, last in chosen]
        sentence_starts = [[self.index.sentences[i].start - self.index.sentences[first].start for i in range(first + 1, last)] for _, _, first, last in chosen]
        asked = set(terms(question))
        readings = []
        for (rank, candidate, first, last), text, span in zip(chosen, texts, self.reader.read(question, texts, sentence_starts)):
            offset = self.index.sentences[first].start
            start, end = (offset + span.start, offset + span.end) if span.end > span.start else (offset, offset)
            features = {
                "answerable": span.answerable_logit,
                "span_logprob": span.span_logprob,
                "start_mass": span.start_mass,  # not features themselves: span_shared is computed from them
                "end_mass": span.end_mass,
                "retrieval_rank": math.log1p(rank),
                "sentence_cosine": candidate.sentence_cosine,
                "passage_score": candidate.passage_score,
                "question_coverage": len(asked & set(terms(text))) / len(asked) if asked else 1.0,
            }
            readings.append(Reading(candidate, rank, first, last, span, start, end, text[start - offset : end - offset], features))
        return readings

    def windows(self, question: str, candidates: Sequence[Candidate], windows: int) -> list[tuple[int, Candidate, int, int]]:
        """``(rank, candidate, first sentence, last sentence)`` of the windows to read, best candidate first.

        A candidate already inside the window of a better one is not read again.
        """
        budget = self.reader.settings.window_budget(self.reader.question_tokens(question))
        chosen, covered = [], set()
        for rank, candidate in enumerate(candidates):
            if len(chosen) == windows:
                break
            if candidate.sentence_id not in covered:
                first, last = self._window(candidate.sentence_id, budget)
                chosen.append((rank, candidate, first, last))
                covered.update(range(first, last))
        return chosen

    def window_texts(self, question: str, candidates: Sequence[Candidate]) -> list[str]:
        """The texts ``readings`` would read for these candidates (benchmarks time the reader on them)."""
        return [self._text(first, last) for _, _, first, last in self.windows(question, candidates, self.calibration.windows_read)]

    def window_text(self, reading: Reading) -> str:
        """The text of the window ``reading`` read."""
        return self._text(reading.first_sentence, reading.last_sentence)

    def rank(self, readings: list[Reading]) -> list[Reading]:
        """Score readings with the calibration; best first, one per distinct sentence."""
        if not readings:
            return []
        for name, values in relative_features([r.features for r in readings], [r.text for r in readings]).items():
            for reading, value in zip(readings, values):
                reading.features[name] = value
        matrix = np.array([[r.features[name] for name in FEATURES] for r in readings], dtype=np.float64)
        for reading, probability in zip(readings, self.calibration.probability(matrix)):
            reading.score = float(probability)
        return self._distinct(sorted(readings, key=lambda r: (-r.score, r.rank)))

    def answers(self, readings: Sequence[Reading]) -> list[Answer]:
        """The extractive answers of these readings, with text, offsets and citation."""
        return [self._answer(reading) for reading in readings]

    def _answer(self, reading: Reading) -> Answer:
        index = self.index
        doc = index.documents[index.sentences[reading.first_sentence].doc_id]
        first, last = self._sentences_holding(reading)
        sentence_start, sentence_end = index.sentences[first].start, index.sentences[last - 1].end
        start, end = reading.start, reading.end
        if end <= start:  # the reader found nothing it could point at: cite the whole sentence
            start, end = sentence_start, sentence_end
        chunk = index.chunks[reading.candidate.chunk_id if reading.candidate.sentence_id in range(first, last) else index.chunk_of_sentence(first)]
        return Answer(
            text=doc.text[start:end],
            sentence=doc.text[sentence_start:sentence_end],
            score=reading.score,
            doc_id=doc.doc_id,
            title=doc.title,
            start=start,
            end=end,
            sentence_start=sentence_start,
            sentence_end=sentence_end,
            passage=doc.text[chunk.start : chunk.end],
            passage_start=chunk.start,
            passage_end=chunk.end,
            page=doc.page_at(sentence_start),
        )

    def _sentences_holding(self, reading: Reading) -> tuple[int, int]:
        """The sentences ``[first, last)`` of the window that the span touches (one, unless it crosses a boundary)."""
        sentences = self.index.sentences
        touched = [
            i for i in range(reading.first_sentence, reading.last_sentence)
            if sentences[i].start < max(reading.end, reading.start + 1) and reading.start < sentences[i].end
        ]
        if not touched:  # the span fell between sentences (whitespace): the window's own sentence
            centre = reading.candidate.sentence_id
            return (centre, centre + 1) if reading.first_sentence <= centre < reading.last_sentence else (reading.first_sentence, reading.first_sentence + 1)
        return touched[0], touched[-1] + 1

    def _window(self, sentence_id: int, budget: int) -> tuple[int, int]:
        doc_first, doc_last = self.index.document_ranges[self.index.sentences[sentence_id].doc_id][:2]
        low, high = max(doc_first, sentence_id - NEIGHBOURHOOD), min(doc_last, sentence_id + NEIGHBOURHOOD + 1)
        counts = self._counts(range(low, high))
        first, last = window_range(sentence_id - low, counts, budget)
        return low + first, low + last

    def _counts(self, sentence_ids: range) -> list[int]:
        """Token lengths of sentences, each computed once, in one tokenizer call for those missing."""
        known = {i: self._token_counts.get(i) for i in sentence_ids}
        missing = [i for i, count in known.items() if count is None]
        for i, count in zip(missing, self.reader.token_counts([self.index.sentence_text(i) for i in missing])):
            known[i] = count
            self._token_counts.put(i, count)
        return [known[i] for i in sentence_ids]

    def _text(self, first: int, last: int) -> str:
        doc = self.index.documents[self.index.sentences[first].doc_id]
        return doc.text[self.index.sentences[first].start : self.index.sentences[last - 1].end]

    def _distinct(self, readings: list[Reading]) -> list[Reading]:
        """Keep the best reading of each sentence text (windows overlap; documents repeat themselves)."""
        seen, kept = set(), []
        for reading in readings:
            first, last = self._sentences_holding(reading)
            key = " ".join(self._text(first, last).split()).lower()
            if key not in seen:
                seen.add(key)
                kept.append(reading)
        return kept
