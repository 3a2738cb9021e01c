"""Fusion and hybrid retrieval over a small index built with the fake embedder."""

from __future__ import annotations

import pytest

from spaceqa.chunk import ChunkParams
from spaceqa.index import load_index
from spaceqa.build import build_index
from spaceqa.retrieve import RRF_K, Query, Retriever, reciprocal_rank_fusion
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
