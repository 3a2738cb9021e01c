"""The ONNX embedder on the real model: PyTorch's vectors within rounding, exported once and kept."""

from __future__ import annotations

import logging
import shutil
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import spaceqa.embed
from spaceqa.embed import OnnxEmbedder, exported_model

pytestmark = pytest.mark.integration

TEXTS = [
    "Mir was a space station operated in low Earth orbit from 1986 to 2001.",
    "Valeri Polyakov stayed aboard Mir for 437 days, the longest single spaceflight.",
    "Tomatoes need at least six hours of sun a day.",
    "When did the last Apollo mission land?",
    "x",
]
PASSAGE = "The Apollo program was run by NASA. Neil Armstrong walked on the Moon in 1969. The last mission was Apollo 17."
SENTENCES = [(0, 35), (36, 78), (79, 110)]  # as split_sentences cuts it


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    """A private user cache for this module's exports: each runtime is exported once, here."""
    with pytest.MonkeyPatch.context() as patch:
        home = tmp_path_factory.mktemp("cache")
        patch.setenv("XDG_CACHE_HOME", str(home))
        yield home / "spaceqa"


@pytest.fixture(scope="module")
def int8(cache) -> OnnxEmbedder:
    return OnnxEmbedder()


@pytest.fixture(scope="module")
def float32(cache) -> OnnxEmbedder:
    return OnnxEmbedder(quantise=False)


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.sum(a * b, axis=1)


def test_vectors_are_unit_length_and_within_rounding_of_pytorch(int8, float32, torch_embedder):
    expected = torch_embedder.embed(TEXTS)
    for embedder in (int8, float32):
        vectors = embedder.embed(TEXTS)
        assert vectors.shape == (len(TEXTS), 384) and vectors.dtype == np.float32
        assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert cosines(float32.embed(TEXTS), expected).min() > 0.9999  # the same arithmetic: only summation order differs
    int8_cosines = cosines(int8.embed(TEXTS), expected)
    assert int8_cosines[:-1].min() >= 0.99
    # A one-token text has nothing to average its rounding over: about 0.97-0.98 (SQuAD's
    # questions: 0.98 at worst, 0.993 on average; bench/embed_bench.py checks the retrieval).
    assert int8_cosines[-1] >= 0.96


def test_an_int8_vector_does_not_depend_on_the_texts_embedded_with_it(int8):
    together = int8.embed(TEXTS)
    assert np.allclose(together, np.vstack([int8.embed([text]) for text in TEXTS]), atol=1e-6)


def test_a_build_runs_one_pass_per_core_side_by_side_and_gets_the_same_vectors(int8, monkeypatch):
    texts = [PASSAGE, *TEXTS] * 3
    spans = [SENTENCES, *[[(0, len(t))] for t in TEXTS]] * 3
    monkeypatch.setattr(int8, "_build_workers", 2)
    side_by_side = int8.embed_with_spans(texts, spans)
    monkeypatch.setattr(int8, "_build_workers", 1)
    one_by_one = int8.embed_with_spans(texts, spans)
    assert np.allclose(side_by_side[0], one_by_one[0], atol=1e-6)
    for got, expected in zip(side_by_side[1], one_by_one[1]):
        assert np.allclose(np.stack(got), np.stack(expected), atol=1e-6)
    assert np.allclose(side_by_side[0][:6], int8.embed(texts[:6]), atol=1e-6)  # and what a question's session gives


def test_span_vectors_pool_the_tokens_of_each_span_in_context(float32, torch_embedder):
    passages, spans = float32.embed_with_spans([PASSAGE], [SENTENCES])
    tokens, mask, offsets = float32._token_embeddings([PASSAGE])  # one forward pass, pooled by hand below
    for (start, end), vector in zip(SENTENCES, spans[0]):
        inside = mask[0] & (offsets[0, :, 0] >= start) & (offsets[0, :, 1] <= end) & (offsets[0, :, 1] > offsets[0, :, 0])
        mean = tokens[0][inside].mean(axis=0)
        assert np.allclose(vector, mean / np.linalg.norm(mean), atol=1e-6)
    assert np.allclose(passages, float32.embed([PASSAGE]), atol=1e-6)
    # ... which is what the PyTorch embedder gives for the same spans.
    expected_passages, expected_spans = torch_embedder.embed_with_spans([PASSAGE], [SENTENCES])
    assert cosines(passages, expected_passages).min() > 0.9999
    assert cosines(np.stack(spans[0]), np.stack(expected_spans[0])).min() > 0.9999


def test_spans_past_the_length_limit_get_none(int8):
    words = " ".join(f"word{i}" for i in range(400))  # far past 256 tokens
    _, spans = int8.embed_with_spans([words], [[(0, 5), (len(words) - 6, len(words))]])
    assert spans[0][0] is not None and spans[0][1] is None


def test_the_tokenizer_is_shared_safely_between_threads(int8):
    # Request threads embed queries at once; the fast tokenizer alone would fail ("Already borrowed").
    expected = int8.embed(TEXTS)
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda _: int8.embed(TEXTS), range(16)))
    assert all(np.allclose(vectors, expected, atol=1e-6) for vectors in results)


def forbid_export(*args, **kwargs):
    raise AssertionError("exported again")


def test_a_second_embedder_reuses_the_export(int8, cache, monkeypatch):
    monkeypatch.setattr(spaceqa.embed, "_export_token_embeddings", forbid_export)
    assert np.allclose(OnnxEmbedder().embed(TEXTS), int8.embed(TEXTS))
    assert len(list(cache.glob("embedder-int8-*.onnx"))) == 1


def copy_of_the_export(cache, calls: list):
    """An exporter that records its call and copies the int8 export already made (a real one takes seconds)."""
    (made,) = cache.glob("embedder-int8-*.onnx")

    def export(folder, target, quantisation):
        calls.append(target)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(made, target)

    return export


def test_changed_weights_are_exported_again(int8, cache, tmp_path, monkeypatch):
    calls: list = []
    monkeypatch.setattr(spaceqa.embed, "_export_token_embeddings", copy_of_the_export(cache, calls))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))  # the module's cache stays as the other tests expect it
    shutil.copytree(cache, tmp_path / "spaceqa", ignore=shutil.ignore_patterns("embedder-fp32-*"))  # the export of the old weights
    monkeypatch.setattr("spaceqa.ingest.file_sha256", lambda path: "f" * 64)  # as if the model file had changed
    exported_model(int8._path, quantise=True)
    assert [target.name for target in calls] == [f"embedder-int8-{'f' * 16}.onnx"]
    exported_model(int8._path, quantise=True)
    assert len(calls) == 1


def test_an_unwritable_cache_falls_back_to_a_temporary_export(int8, cache, tmp_path, monkeypatch, caplog):
    calls: list = []
    monkeypatch.setattr(spaceqa.embed, "_export_token_embeddings", copy_of_the_export(cache, calls))
    (tmp_path / "a-file").write_text("")  # no folder can be made under a file, even by root
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "a-file"))
    monkeypatch.setattr("spaceqa.ingest.file_sha256", lambda path: "e" * 64)
    with caplog.at_level(logging.WARNING, logger="spaceqa"):
        session = exported_model(int8._path, quantise=True).session()
    assert session.get_outputs()[0].shape[-1] == 384
    assert len(calls) == 2 and "a-file" not in str(calls[1])  # the cache tried, then a temporary folder
    assert "exporting to a temporary folder instead" in caplog.text and "a-file" in caplog.text
