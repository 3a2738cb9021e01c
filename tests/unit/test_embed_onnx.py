"""The ONNX embedder's parts that need no model: pooling, the export cache, choosing the runtime."""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from spaceqa.config import Settings
from spaceqa.embed import OnnxEmbedder, SentenceTransformerEmbedder, _late_pooled, pool
from spaceqa.onnx_export import cached_export, cores, in_fresh_process
from spaceqa.pipeline import load_embedder

# One padded row: [CLS] three words [SEP] [PAD]; offsets as a fast tokenizer gives them
# for "ab cd ef" (special tokens and padding have empty offsets).
TOKENS = np.array([[9.0, 9.0], [1.0, 0.0], [0.0, 1.0], [3.0, 3.0], [9.0, 9.0], [5.0, -5.0]], dtype=np.float32)
MASK = np.array([True, True, True, True, True, False])
OFFSETS = np.array([[0, 0], [0, 2], [3, 5], [6, 8], [0, 0], [0, 0]])


def unit(vector) -> np.ndarray:
    vector = np.asarray(vector, dtype=np.float32)
    return vector / np.linalg.norm(vector)


class TestPool:
    def test_the_text_vector_is_the_unit_mean_of_every_unpadded_token(self):
        text_vector, _ = pool(TOKENS, MASK, OFFSETS, [])
        assert np.allclose(text_vector, unit(TOKENS[:5].mean(axis=0)))

    def test_a_span_vector_is_the_unit_mean_of_the_tokens_inside_it(self):
        _, (first_two, last) = pool(TOKENS, MASK, OFFSETS, [(0, 5), (6, 8)])
        assert np.allclose(first_two, unit([0.5, 0.5])) and np.allclose(last, unit([1.0, 1.0]))

    def test_a_span_the_truncated_text_does_not_reach_to_its_end_gets_none(self):
        # "ab cd ef gh": the model saw up to character 8 only, so "ef gh" is seen in part.
        _, (seen, cut, unseen) = pool(TOKENS, MASK, OFFSETS, [(3, 5), (6, 11), (9, 11)])
        assert seen is not None and cut is None and unseen is None


class TestSideBySidePasses:
    """``_late_pooled`` with threads: forward passes at once, vectors in the texts' order."""

    @staticmethod
    def fake_forward(calls_at_once: list, lock: threading.Lock):
        """Token embeddings that spell each text's number; records how many passes overlap."""
        running = [0]

        def token_embeddings(batch_texts: list[str]):
            with lock:
                running[0] += 1
                calls_at_once.append(running[0])
            time.sleep(0.002 * (int(batch_texts[0]) % 3))  # finish out of order
            with lock:
                running[0] -= 1
            tokens = np.array([[[float(text), 1.0]] for text in batch_texts], dtype=np.float32)
            return tokens, np.ones((len(batch_texts), 1), dtype=bool), np.array([[[0, len(text)]] for text in batch_texts])

        return token_embeddings

    def test_vectors_land_in_their_texts_rows_whatever_order_the_passes_end_in(self):
        texts = [str(n) for n in range(1, 41)]
        batches = ([i] for i in range(len(texts)))
        calls: list = []
        vectors, spans = _late_pooled(texts, [[(0, 1)]] * len(texts), 2, batches, self.fake_forward(calls, threading.Lock()), threads=3)
        assert np.allclose(vectors, [unit([n, 1.0]) for n in range(1, 41)])
        assert max(calls) > 1  # they did run side by side

    def test_one_thread_runs_the_passes_one_after_the_other(self):
        texts = [str(n) for n in range(1, 11)]
        calls: list = []
        vectors, _ = _late_pooled(texts, [[]] * len(texts), 2, ([i] for i in range(10)), self.fake_forward(calls, threading.Lock()))
        assert np.allclose(vectors, [unit([n, 1.0]) for n in range(1, 11)]) and max(calls) == 1


@pytest.mark.parametrize(("setting", "expected"), [("3", 3), ("0", 1), ("many", None), (None, None)])
def test_the_cores_a_process_uses_follow_omp_num_threads(monkeypatch, setting, expected):
    # Ray gives each worker its share of a node this way; unset or unreadable: every core.
    if setting is None:
        monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    else:
        monkeypatch.setenv("OMP_NUM_THREADS", setting)
    assert cores() == (expected or os.cpu_count())


class TestExportCache:
    """``cached_export``: reuse what the sidecar vouches for, export again when anything differs."""

    @staticmethod
    def exporter(calls: list):
        def export(target: Path) -> None:
            calls.append(target)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(b"graph")

        return export

    def test_a_matching_copy_is_reused(self, tmp_path):
        calls: list = []
        place = tmp_path / "cache" / "model.onnx"
        description = {"weights_sha256": "a" * 64, "quantisation": {"per_channel": True}}
        assert cached_export([place], description, self.exporter(calls), what="test model") == place
        assert cached_export([place], description, self.exporter(calls), what="test model") == place
        assert calls == [place]
        assert json.loads(place.with_suffix(".json").read_text()) == description

    @pytest.mark.parametrize("changed", [{"weights_sha256": "b" * 64}, {"quantisation": {"per_channel": False}}])
    def test_changed_weights_or_recipe_export_again(self, tmp_path, changed):
        calls: list = []
        place = tmp_path / "model.onnx"
        description = {"weights_sha256": "a" * 64, "quantisation": {"per_channel": True}}
        cached_export([place], description, self.exporter(calls), what="test model")
        cached_export([place], description | changed, self.exporter(calls), what="test model")
        assert len(calls) == 2

    def test_an_unwritable_place_is_passed_over_and_none_writable_is_an_error_naming_them(self, tmp_path):
        (tmp_path / "a-file").write_text("")  # a folder cannot be made under a file, even by root
        blocked, free = tmp_path / "a-file" / "model.onnx", tmp_path / "free" / "model.onnx"
        calls: list = []
        assert cached_export([blocked, free], {"weights_sha256": "a"}, self.exporter(calls), what="test model") == free
        with pytest.raises(OSError, match="could not write the exported test model.*a-file"):
            cached_export([blocked], {"weights_sha256": "a"}, self.exporter(calls), what="test model")


def write_process_id(path: Path) -> None:
    path.write_text(str(os.getpid()))


class TestAFreshProcess:
    """``in_fresh_process``: exports run in a process of their own, their errors come back whole."""

    def test_the_function_runs_in_another_process(self, tmp_path):
        in_fresh_process(write_process_id, tmp_path / "pid")
        assert int((tmp_path / "pid").read_text()) != os.getpid()

    def test_its_exception_is_raised_here_with_its_type(self, tmp_path):
        # cached_export passes over a place it cannot write by catching OSError
        (tmp_path / "a-file").write_text("")
        with pytest.raises(OSError):
            in_fresh_process(os.makedirs, tmp_path / "a-file" / "below")

    def test_without_an_interpreter_to_start_it_runs_here(self, tmp_path, monkeypatch):
        monkeypatch.setattr("sys.executable", "")  # Python embedded in another program
        in_fresh_process(write_process_id, tmp_path / "pid")
        assert int((tmp_path / "pid").read_text()) == os.getpid()

    def test_a_process_that_dies_without_a_word_is_an_error_naming_the_function(self):
        with pytest.raises(RuntimeError, match=r"_exit failed in its own process \(exit status 3\)"):
            in_fresh_process(os._exit, 3)


class TestChoosingTheRuntime:
    @pytest.mark.parametrize(
        "runtime, kind, name",
        [
            ("torch", SentenceTransformerEmbedder, "sentence-transformers/all-MiniLM-L6-v2"),
            ("onnx", OnnxEmbedder, "sentence-transformers/all-MiniLM-L6-v2 (onnx)"),
            ("onnx-int8", OnnxEmbedder, "sentence-transformers/all-MiniLM-L6-v2 (onnx-int8)"),
        ],
    )
    def test_each_runtime_has_its_own_embedder_and_name(self, runtime, kind, name):
        # The name goes into the index manifest: an index is never served by another runtime.
        embedder = load_embedder(Settings.load({"embedding_runtime": runtime}, environ={}), lazy=True)
        assert isinstance(embedder, kind) and embedder.name == name

    def test_the_runtime_comes_from_the_environment(self):
        assert Settings.load(environ={"SPACEQA_EMBEDDING_RUNTIME": "onnx-int8"}).embedding_runtime == "onnx-int8"

    def test_an_unknown_runtime_is_refused_with_the_choices(self):
        with pytest.raises(ValueError, match="SPACEQA_EMBEDDING_RUNTIME is 'tensorrt'; choose one of torch, onnx, onnx-int8"):
            Settings.load(environ={"SPACEQA_EMBEDDING_RUNTIME": "tensorrt"})
