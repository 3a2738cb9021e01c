"""Fusion and hybrid retrieval over a small index built with the fake embedder."""

from __future__ import annotations

import numpy as np
import pytest

from spaceqa import index as index_module
from spaceqa.chunk import ChunkParams
from spaceqa.index import load_index
from spaceqa.build import build_index
from spaceqa.retrieve import RRF_K, Query, Retriever, SentenceCosines, _top_bm25, reciprocal_rank_fusion
from spaceqa.text import terms


def test_rrf_adds_reciprocal_ranks():
    fused = reciprocal_rank_fusion([[1, 2, 3], [3, 1]])
    assert fused[1] == pytest.approx(1 / (RRF_K + 1) + 1 / (RRF_K + 2))
    assert fused[3] == pytest.approx(1 / (RRF_K + 3) + 1 / (RRF_K + 1))
    assert fused[2] == pytest.approx(1 / (RRF_K + 2))
    assert max(fused, key=fused.get) == 1


def test_rrf_rewards_agreement_over_a_single_top_rank():
    fused = reciprocal_rank_fusion([[9, 5], [7, 5], [8, 5]])
    assert max(fused, key=fused.get) == 5


def test_rrf_of_nothing_is_empty():
    assert reciprocal_rank_fusion([[], []]) == {}


@pytest.fixture
def retriever(tmp_path, tiny_corpus, fake_embedder):
    build_index(tiny_corpus, tmp_path / "index", fake_embedder, ChunkParams())
    return Retriever(load_index(tmp_path / "index"))


def query(text: str, embedder) -> Query:
    return Query(vector=embedder.embed([text])[0], terms=terms(text))


def test_the_sentence_that_holds_the_answer_is_among_the_first_candidates(retriever, fake_embedder):
    candidates = retriever.candidates(query("How long did Valeri Polyakov stay aboard Mir?", fake_embedder))
    assert any("437 days" in retriever.index.sentence_text(c.sentence_id) for c in candidates[:3])


def test_passages_come_from_the_relevant_document(retriever, fake_embedder):
    chunk_id, _ = retriever.passages(query("tomatoes sun water", fake_embedder))[0]
    assert retriever.index.chunks[chunk_id].doc_id == "notes/gardening.txt"


def test_candidates_carry_their_evidence(retriever, fake_embedder):
    for candidate in retriever.candidates(query("Apollo Moon landing", fake_embedder)):
        chunk = retriever.index.chunks[candidate.chunk_id]
        assert chunk.first_sentence <= candidate.sentence_id < chunk.last_sentence
        assert -1.0 <= candidate.sentence_cosine <= 1.0 and candidate.fused > 0


def test_a_query_with_no_known_terms_still_returns_dense_results(retriever, fake_embedder):
    assert retriever.candidates(query("zzz qqq", fake_embedder))


def test_a_large_index_searches_by_hnsw_and_finds_what_exact_search_finds(tmp_path, tiny_corpus, fake_embedder, monkeypatch):
    """The approximate plan, forced on a small corpus: the same first candidates as exact search."""
    build_index(tiny_corpus, tmp_path / "exact", fake_embedder, ChunkParams())
    monkeypatch.setattr(index_module, "APPROXIMATE_FROM_PASSAGES", 1)
    build_index(tiny_corpus, tmp_path / "approximate", fake_embedder, ChunkParams())
    exact, approximate = Retriever(load_index(tmp_path / "exact")), Retriever(load_index(tmp_path / "approximate"))
    assert exact.index.manifest.search["passages"] == {"type": "flat"}
    assert approximate.index.manifest.search["passages"]["type"] == "hnsw"
    assert approximate.index.faiss_passages.hnsw.efSearch == index_module.HNSW_EF_SEARCH
    for text in ("How long did Valeri Polyakov stay aboard Mir?", "tomatoes sun water", "Apollo Moon landing"):
        q = query(text, fake_embedder)
        assert [p for p, _ in approximate.passages(q)] == [p for p, _ in exact.passages(q)]
        # Every passage of this corpus is within the searched ones, so the sentences scored are all of them.
        assert [(c.sentence_id, round(c.sentence_cosine, 5)) for c in approximate.candidates(q)] == [
            (c.sentence_id, round(c.sentence_cosine, 5)) for c in exact.candidates(q)
        ]


def test_sentence_cosines_of_some_passages_still_answer_for_any_sentence(retriever, fake_embedder):
    index = retriever.index
    q = query("Apollo Moon landing", fake_embedder)
    everything = SentenceCosines(index.sentence_vectors, q.vector, within=None, chunks=index.chunks)
    some = SentenceCosines(index.sentence_vectors, q.vector, within=[0], chunks=index.chunks)
    first = index.chunks[0]
    assert set(some.top(100)) == set(range(first.first_sentence, first.last_sentence))
    for sentence_id in range(len(index.sentences)):  # inside passage 0 or not
        assert some[sentence_id] == pytest.approx(everything[sentence_id], abs=1e-6)


def test_bm25_from_postings_ranks_as_bm25s_scores_with_ties_by_id():
    import bm25s

    texts = [["moon", "rocket"], ["moon"], ["garden", "tomato"], ["moon", "rocket"], ["rocket", "fuel", "moon", "moon"], ["tomato"]]
    bm25 = bm25s.BM25()
    bm25.index(texts, show_progress=False)
    for question in (["moon", "rocket"], ["tomato", "unknown"], ["moon"], ["unknown"], []):
        scores = bm25.get_scores(question) if question else np.zeros(len(texts))
        expected = sorted((i for i in range(len(texts)) if scores[i] > 0), key=lambda i: (-scores[i], i))
        for k in (1, 2, 3, 10):
            assert _top_bm25(bm25, question, k) == expected[:k]
