"""Retrieve: find the sentences that may answer a query, from dense and lexical evidence.

Four ranked lists are fused with reciprocal rank fusion (RRF): passages by vector
(FAISS) and by BM25, sentences by vector and by BM25.  A sentence inherits the rank
of the best passage that holds it, so a sentence whose own words are sparse
("He spent 115 days there.") is still found through its passage.  RRF needs no
score normalisation across retrievers, which is why it is the fusion rule here.

How vectors are searched follows the index's search plan (``index.search_plan``): a small
index scores every sentence vector; a large one searches passages by HNSW and scores by
vector only the sentences of the passages found, so no question touches every vector.
BM25 lists are scored from the memory-mapped postings of the question's terms alone.
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
    fused: float  # RRF score over three lists: its passage's rank, its own vector rank and its own BM25 rank
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
        return self._passages(query, self._dense_passages(query, self.passages_k * 2))

    def _passages(self, query: Query, dense: list[int]) -> list[tuple[int, float]]:
        lexical = _top_bm25(self.index.bm25_passages, query.terms, self.passages_k * 2)
        fused = reciprocal_rank_fusion([dense[: self.passages_k * 2], lexical])
        return sorted(fused.items(), key=lambda item: -item[1])[: self.passages_k]

    def candidates(self, query: Query) -> list[Candidate]:
        """Sentences worth reading, best first."""
        plan = self.index.manifest.search["sentences"]
        searched = plan["passages"] if plan["type"] == "within passages" else 0
        dense_passages = self._dense_passages(query, max(self.passages_k * 2, searched))
        passages = self._passages(query, dense_passages)
        passage_ranking = [chunk_id for chunk_id, _ in passages]
        best_fused = passages[0][1] if passages else 1.0
        passage_fused = dict(passages)
        sentence_cosines = SentenceCosines(self.index.sentence_vectors, query.vector, within=dense_passages[:searched] if searched else None, chunks=self.index.chunks)
        dense_sentences = sentence_cosines.top(self.sentences_k)
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
                    sentence_cosine=sentence_cosines[sentence_id],
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


class SentenceCosines:
    """Cosines of a query with sentence vectors: all of them, or those of some passages only.

    Scoring only the sentences of the passages found keeps a large index's sentence
    vectors on disk except for the few rows a question reads; any other sentence's cosine
    is computed when asked for.
    """

    def __init__(self, vectors: np.ndarray, query_vector: np.ndarray, *, within: list[int] | None, chunks) -> None:
        self.vectors, self.query_vector = vectors, query_vector
        if within is None:
            self.ids, self.cosines = None, np.asarray(vectors @ query_vector)
        else:
            ranges = chunks.rows[np.asarray(within, dtype=np.int64), 3:5].tolist()  # [first, last) sentences of each passage
            self.ids = np.unique(np.concatenate([np.arange(first, last) for first, last in ranges] + [np.zeros(0, dtype=np.int64)]))
            self.cosines = np.asarray(vectors[self.ids] @ query_vector, dtype=np.float32)

    def top(self, k: int) -> list[int]:
        """The ``k`` sentences of highest cosine among those scored, best first."""
        best = _top(self.cosines, k)
        return best if self.ids is None else [int(self.ids[i]) for i in best]

    def __getitem__(self, sentence_id: int) -> float:
        if self.ids is None:
            return float(self.cosines[sentence_id])
        position = int(np.searchsorted(self.ids, sentence_id))
        if position < len(self.ids) and self.ids[position] == sentence_id:
            return float(self.cosines[position])
        return float(self.vectors[sentence_id] @ self.query_vector)


def _top(scores: np.ndarray, k: int) -> list[int]:
    k = min(k, len(scores))
    if k == 0:
        return []
    top = np.argpartition(-scores, k - 1)[:k]
    return [int(i) for i in top[np.argsort(-scores[top], kind="stable")]]


def _top_bm25(bm25, query_terms: list[str], k: int) -> list[int]:
    """Items with a positive BM25 score, best first, ties by id (terms unknown to the index are ignored).

    Scored from the postings of the question's own terms only: bm25s's ``retrieve`` fills and
    partitions a score for every item, which at millions of sentences costs more than all the
    rest of a question's retrieval.  The scores are bm25s's own (its precomputed per-term
    document scores, summed per query term as ``get_scores`` does); that an absent term adds
    nothing holds for the plain BM25 that ``index._bm25_from`` builds.
    """
    vocabulary, matrix = bm25.vocab_dict, bm25.scores
    term_ids = [vocabulary[t] for t in query_terms if t in vocabulary]
    if not term_ids or k <= 0:
        return []
    indptr = matrix["indptr"]
    items = np.concatenate([matrix["indices"][indptr[t] : indptr[t + 1]] for t in term_ids])
    weights = np.concatenate([matrix["data"][indptr[t] : indptr[t + 1]] for t in term_ids])
    if len(items) == 0:
        return []
    found, where = np.unique(items, return_inverse=True)
    scores = np.bincount(where, weights=weights).astype(np.float32)
    # Every item scoring at least the k-th best, then sorted by score and id: ties (repeated
    # text) come out in the same order every time.
    if len(scores) > k:
        kth = np.partition(scores, len(scores) - k)[len(scores) - k]
        keep = np.flatnonzero(scores >= kth)
        found, scores = found[keep], scores[keep]
    order = np.lexsort((found, -scores))[:k]
    return [int(found[i]) for i in order if scores[i] > 0]
