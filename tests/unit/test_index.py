"""Index persistence: round trip, manifest, atomic publish, staleness, crash safety."""

from __future__ import annotations

import json

import numpy as np
import pytest

from spaceqa import index as index_module
from spaceqa.chunk import ChunkParams
from spaceqa.errors import EmptyCorpusError, IndexMissingError
from spaceqa.index import current_version, load_index, read_manifest, staleness
from spaceqa.ingest import corpus_fingerprint
from spaceqa.build import build_index, index_problem


def test_round_trip_keeps_every_record_and_vector(tmp_path, tiny_corpus, fake_embedder):
    report = build_index(tiny_corpus, tmp_path / "index", fake_embedder, ChunkParams())
    loaded = load_index(tmp_path / "index")
    assert loaded.version == report.version
    assert set(loaded.documents) == {"apollo.txt", "mir.txt", "notes/gardening.txt"}
    assert len(loaded.chunks) == report.chunks and len(loaded.sentences) == report.sentences
    # Row i of each matrix is the vector of record i.
    for chunk in loaded.chunks:
        expected = fake_embedder.embed([loaded.chunk_text(chunk.chunk_id)])[0]
        assert np.allclose(loaded.chunk_vectors[chunk.chunk_id], expected, atol=1e-6)
    for sentence in loaded.sentences:
        expected = fake_embedder.embed([loaded.sentence_text(sentence.sentence_id)])[0]
        assert np.allclose(loaded.sentence_vectors[sentence.sentence_id], expected, atol=1e-6)
    assert np.allclose(np.linalg.norm(loaded.chunk_vectors, axis=1), 1.0, atol=1e-5)


def test_manifest_records_what_the_index_was_built_from(tmp_path, tiny_corpus, fake_embedder):
    params = ChunkParams(target_words=60, max_words=90, overlap_words=10)
    build_index(tiny_corpus, tmp_path / "index", fake_embedder, params)
    manifest = json.loads((tmp_path / "index" / current_version(tmp_path / "index") / "manifest.json").read_text())
    assert manifest["format_version"] == index_module.FORMAT_VERSION
    assert manifest["model"] == fake_embedder.name and manifest["dimension"] == fake_embedder.dimension
    assert manifest["chunking"] == params.to_dict()
    assert manifest["documents"] == corpus_fingerprint(tiny_corpus)
    assert manifest["counts"]["documents"] == 3 and manifest["created_at"]


def test_faiss_search_on_random_vectors_finds_the_nearest(tmp_path):
    rng = np.random.default_rng(7)
    vectors = rng.normal(size=(50, 16)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    import faiss

    index = faiss.IndexFlatIP(16)
    index.add(vectors)
    query = vectors[23] + 0.01 * rng.normal(size=16).astype(np.float32)
    _, ids = index.search((query / np.linalg.norm(query)).reshape(1, -1).astype(np.float32), 1)
    assert ids[0][0] == 23


def test_a_new_build_replaces_the_old_and_keeps_one_previous(tmp_path, tiny_corpus, fake_embedder):
    versions = [build_index(tiny_corpus, tmp_path / "index", fake_embedder, ChunkParams()).version for _ in range(3)]
    assert current_version(tmp_path / "index") == versions[-1]
    kept = {p.name for p in (tmp_path / "index").iterdir() if p.is_dir()}
    assert kept == {versions[-1], versions[-2]}


def test_a_crash_mid_build_leaves_the_old_index_serving(tmp_path, tiny_corpus, fake_embedder, monkeypatch):
    index_dir = tmp_path / "index"
    first = build_index(tiny_corpus, index_dir, fake_embedder, ChunkParams())
    (tiny_corpus / "new.txt").write_text("New Document\n\nA brand new fact about comets is written here.")

    def explode(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(index_module, "_bm25_from", explode)
    with pytest.raises(RuntimeError):
        build_index(tiny_corpus, index_dir, fake_embedder, ChunkParams())
    assert current_version(index_dir) == first.version
    assert "new.txt" not in load_index(index_dir).documents
    assert not list(index_dir.glob(".build-*"))


def test_staleness_names_the_reason(tmp_path, tiny_corpus, fake_embedder):
    index_dir = tmp_path / "index"
    assert "no index" in index_problem(tiny_corpus, index_dir, fake_embedder, ChunkParams())
    build_index(tiny_corpus, index_dir, fake_embedder, ChunkParams())
    assert index_problem(tiny_corpus, index_dir, fake_embedder, ChunkParams()) is None
    (tiny_corpus / "mir.txt").write_text("Changed text, in a sentence.")
    (tiny_corpus / "added.txt").write_text("Added text, in a sentence.")
    assert "1 added, 1 changed, 0 removed" in index_problem(tiny_corpus, index_dir, fake_embedder, ChunkParams())
    manifest = read_manifest(index_dir)
    assert "chunking" in staleness(manifest, fingerprint=manifest.documents, model=manifest.model, chunking={"other": 1})
    assert "model" in staleness(manifest, fingerprint=manifest.documents, model="another-model", chunking=manifest.chunking)


def test_missing_index_and_empty_corpus_are_clear_errors(tmp_path, fake_embedder):
    with pytest.raises(IndexMissingError, match="no index"):
        load_index(tmp_path / "nothing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(EmptyCorpusError):
        build_index(tmp_path / "empty", tmp_path / "index", fake_embedder, ChunkParams())


def test_an_unfinished_build_folder_is_never_current(tmp_path, tiny_corpus, fake_embedder):
    index_dir = tmp_path / "index"
    build_index(tiny_corpus, index_dir, fake_embedder, ChunkParams())
    (index_dir / "CURRENT").write_text("20990101T000000Z-broken\n")
    (index_dir / "20990101T000000Z-broken").mkdir()  # no manifest: not a complete build
    assert current_version(index_dir) is None


def test_sentences_and_passages_are_rows_of_arrays_that_read_as_records(tmp_path, tiny_corpus, fake_embedder):
    build_index(tiny_corpus, tmp_path / "index", fake_embedder, ChunkParams())
    loaded = load_index(tmp_path / "index")
    assert isinstance(loaded.sentences.rows, np.ndarray) and isinstance(loaded.sentence_vectors, np.ndarray)  # small: in memory
    last = loaded.sentences[-1]
    assert last.sentence_id == len(loaded.sentences) - 1 and loaded.sentences[len(loaded.sentences) - 1] == last
    assert [s.sentence_id for s in loaded.sentences[2:5]] == [2, 3, 4]
    with pytest.raises(IndexError):
        loaded.sentences[len(loaded.sentences)]
    for doc_id, (first_s, last_s, first_c, last_c) in loaded.document_ranges.items():
        assert {s.doc_id for s in loaded.sentences[first_s:last_s]} == {doc_id}
        assert {c.doc_id for c in loaded.chunks[first_c:last_c]} == {doc_id}
    for sentence in loaded.sentences:  # the first passage holding each sentence
        owner = loaded.chunks[loaded.chunk_of_sentence(sentence.sentence_id)]
        assert owner.first_sentence <= sentence.sentence_id < owner.last_sentence
        assert all(not (c.first_sentence <= sentence.sentence_id < c.last_sentence) for c in loaded.chunks[: owner.chunk_id])


def test_vector_rows_read_from_disk_are_the_rows_of_the_matrix(tmp_path):
    matrix = np.random.default_rng(0).standard_normal((50, 8)).astype(np.float32)
    np.save(tmp_path / "m.npy", matrix)
    rows = index_module.VectorRows(tmp_path / "m.npy")
    assert len(rows) == 50 and rows.shape == (50, 8)
    assert np.array_equal(rows[7], matrix[7]) and np.array_equal(rows[-1], matrix[-1])
    assert np.array_equal(rows[10:20], matrix[10:20]) and np.array_equal(rows[::7], matrix[::7])
    ids = [31, 3, 4, 5, 49, 0, 30, 4]  # unordered, with runs and a repeat
    assert np.array_equal(rows[ids], matrix[ids]) and rows[[]].shape == (0, 8)
    with pytest.raises(IndexError):
        rows[[50]]


def test_a_large_index_reads_sentence_vectors_from_disk(tmp_path, tiny_corpus, fake_embedder, monkeypatch):
    monkeypatch.setattr(index_module, "APPROXIMATE_FROM_PASSAGES", 1)
    build_index(tiny_corpus, tmp_path / "index", fake_embedder, ChunkParams())
    loaded = load_index(tmp_path / "index")
    assert isinstance(loaded.sentence_vectors, index_module.VectorRows)
    assert np.array_equal(loaded.sentence_vectors[0 : len(loaded.sentences)], np.load(loaded.path / "sentences.npy"))


def test_the_passage_search_alone_is_set_up_as_the_loaded_index_s(tmp_path, tiny_corpus, fake_embedder, monkeypatch):
    monkeypatch.setattr(index_module, "APPROXIMATE_FROM_PASSAGES", 1)
    build_index(tiny_corpus, tmp_path / "index", fake_embedder, ChunkParams())
    alone, loaded = index_module.load_passage_search(tmp_path / "index"), load_index(tmp_path / "index").faiss_passages
    assert alone.hnsw.efSearch == loaded.hnsw.efSearch == index_module.HNSW_EF_SEARCH
    assert np.array_equal(alone.reconstruct_n(0, alone.ntotal), loaded.reconstruct_n(0, loaded.ntotal))


def test_vector_rows_refuse_a_row_past_the_end(tmp_path):
    np.save(tmp_path / "m.npy", np.zeros((3, 2), dtype=np.float32))
    rows = index_module.VectorRows(tmp_path / "m.npy")
    with pytest.raises(IndexError):
        rows[3]
    with pytest.raises(IndexError):
        rows[-4]
