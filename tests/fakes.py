"""Test doubles with the real interfaces."""

from __future__ import annotations

import hashlib
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
