"""Retrieve: find the sentences that may answer a query, from dense and lexical evidence.

Four ranked lists are fused with reciprocal rank fusion (RRF): passages by vector
(FAISS) and by BM25, sentences by vector and by BM25.  A sentence inherits the rank
of the best passage that holds it, so a sentence whose own words are sparse
("He spent 115 days there.") is still found through its passage.  RRF needs no
score normalisation across retrievers, which is why it is the fusion rule here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .index import LoadedIndex

RRF_K = 60  # the constant from Cormack et al. (2009); damps the weight of top ranks


@dataclass(frozen=True)
class Query:
    """A question prepared for search: its vector and its lexical terms."""

    vector: np.ndarray  # unit vector of the search text
    terms: list[str]  # lexical terms of the search text (question plus conversation context)


@dataclass(frozen=True)
class Candidate:
    """A sentence that may hold the answer, with the retrieval evidence for it."""

    sentence_id: int
    chunk_id: int  # the best-ranked passage holding the sentence
    fused: float  # RRF score over the four lists
    sentence_cosine: float  # cosine of the query with the sentence
    passage_score: float  # the passage's fused retrieval score, relative to the best passage (0 if not retrieved)


def reciprocal_rank_fusion(rankings: list[list[int]], k: int = RRF_K) -> dict[int, float]:
    """``{item: sum of 1 / (k + rank)}`` over the rankings; ranks start at 1."""
    fused: dict[int, float] = {}
    for ranking in rankings:
        for rank, item in enumerate(ranking, start=1):
            fused[item] = fused.get(item, 0.0) + 1.0 / (k + rank)
    return fused


class Retriever:
    """Hybrid dense + BM25 retrieval over one loaded index."""

    def __init__(self, index: LoadedIndex, passages_k: int = 8, sentences_k: int = 20) -> None:
        self.index = index
        self.passages_k = passages_k
        self.sentences_k = sentences_k

    def passages(self, query: Query) -> list[tuple[int, float]]:
        """Passages ranked by fused dense and BM25 evidence: ``[(chunk_id, rrf score)]``."""
        dense = self._dense_passages(query, self.passages_k * 2)
        lexical = _top_bm25(self.index.bm25_passages, query.terms, self.passages_k * 2)
        fused = reciprocal_rank_fusion([dense, lexical])
        return sorted(fused.items(), key=lambda item: -item[1])[: self.passages_k]

    def candidates(self, query: Query) -> list[Candidate]:
        """Sentences worth reading, best first."""
        passages = self.passages(query)
        passage_ranking = [chunk_id for chunk_id, _ in passages]
        best_fused = passages[0][1] if passages else 1.0
        passage_fused = dict(passages)
        sentence_cosines = self.index.sentence_vectors @ query.vector
        dense_sentences = _top(sentence_cosines, self.sentences_k)
        lexical_sentences = _top_bm25(self.index.bm25_sentences, query.terms, self.sentences_k)

        # Every sentence of a retrieved passage takes that passage's rank.
        best_passage: dict[int, int] = {}
        for chunk_id in passage_ranking:
            chunk = self.index.chunks[chunk_id]
            for sentence_id in range(chunk.first_sentence, chunk.last_sentence):
                best_passage.setdefault(sentence_id, chunk_id)
        passage_rank = {chunk_id: rank for rank, chunk_id in enumerate(passage_ranking, start=1)}
        by_passage = sorted(best_passage, key=lambda s: (passage_rank[best_passage[s]], s))

        fused = reciprocal_rank_fusion([by_passage, dense_sentences, lexical_sentences])
        candidates = []
        for sentence_id, score in sorted(fused.items(), key=lambda item: -item[1]):
            chunk_id = best_passage.get(sentence_id, self.index.chunk_of_sentence(sentence_id))
            candidates.append(
                Candidate(
                    sentence_id=sentence_id,
                    chunk_id=chunk_id,
                    fused=score,
                    sentence_cosine=float(sentence_cosines[sentence_id]),
                    passage_score=passage_fused.get(chunk_id, 0.0) / best_fused,
                )
            )
        return candidates

    def _dense_passages(self, query: Query, k: int) -> list[int]:
        k = min(k, self.index.faiss_passages.ntotal)
        if k == 0:
            return []
        _, ids = self.index.faiss_passages.search(query.vector.reshape(1, -1), k)
        return [int(i) for i in ids[0] if i >= 0]


def _top(scores: np.ndarray, k: int) -> list[int]:
    k = min(k, len(scores))
    if k == 0:
        return []
    top = np.argpartition(-scores, k - 1)[:k]
    return [int(i) for i in top[np.argsort(-scores[top], kind="stable")]]


def _top_bm25(bm25, query_terms: list[str], k: int) -> list[int]:
    """Items with a positive BM25 score, best first (terms unknown to the index are ignored)."""
    if not query_terms:
        return []
    scores = bm25.get_scores(query_terms)
    ranked = _top(scores, k)
    return [i for i in ranked if scores[i] > 0]
