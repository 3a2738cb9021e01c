"""Test doubles with the real interfaces."""

from __future__ import annotations

import hashlib
import re
from typing import Sequence

import numpy as np

from spaceqa.text import terms


class HashEmbedder:
    """Deterministic embedder: each term hashed into a signed bucket, then L2-normalised.

    Texts that share terms get similar vectors, so ranking tests mean something, and the
    same text always gets the same vector, across processes.
    """

    name = "test-hash-embedder"

    def __init__(self, dimension: int = 256) -> None:
        self.dimension = dimension
        self.calls = 0

    def embed_with_spans(self, texts, spans, *, show_progress: bool = False):
        """Span vectors are the spans' own text vectors: no context, but the same interface."""
        span_vectors = [list(self.embed([text[s:e] for s, e in row])) if row else [] for text, row in zip(texts, spans)]
        return self.embed(texts), span_vectors

    def embed(self, texts: Sequence[str], *, show_progress: bool = False) -> np.ndarray:
        self.calls += 1
        vectors = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            for term in terms(text) or ["<empty>"]:
                digest = hashlib.blake2b(term.encode(), digest_size=8).digest()
                bucket = int.from_bytes(digest[:4], "little") % self.dimension
                vectors[row, bucket] += 1.0 if digest[4] & 1 else -1.0
            norm = np.linalg.norm(vectors[row])
            if norm == 0:
                vectors[row, 0], norm = 1.0, 1.0
            vectors[row] /= norm
        return vectors


class FakeReader:
    """Deterministic reader with the real interface: no model, the same answer for the same input.

    A window's answerability is how many of the question's terms it shares; its span is
    its first capitalised word or number that the question does not already contain.
    """

    _CANDIDATE = re.compile(r"\b(?:[A-Z][\w-]*|\d[\d,.]*\d|\d)\b")

    def __init__(self) -> None:
        from spaceqa.reader import InputSettings

        self.settings = InputSettings()
        self.calls = 0

    def question_tokens(self, question: str) -> int:
        return len(question.split())

    def token_counts(self, texts: Sequence[str]) -> list[int]:
        return [len(text.split()) for text in texts]

    def read(self, question: str, texts: Sequence[str], sentence_starts=None):
        from spaceqa.reader import SpanReading

        self.calls += 1
        asked = set(terms(question))
        readings = []
        for text in texts:
            shared = len(asked & set(terms(text)))
            span = next((m.span() for m in self._CANDIDATE.finditer(text) if not set(terms(m.group())) & asked), (0, 0))
            readings.append(SpanReading(start=span[0], end=span[1], span_logprob=-1.0, answerable_logit=shared - 1.5))
        return readings


def fake_reader():
    """A ``FakeReader`` with a calibration whose score is the sigmoid of its answerability."""
    from spaceqa.answer import FEATURES, Calibration

    weights = tuple(1.0 if name == "answerable" else 0.0 for name in FEATURES)
    return FakeReader(), Calibration(windows_read=4, weights=weights, bias=0.0)
