"""`spaceqa index --ray` without a cluster: the round trip of vectors, the worker's batches, the CLI's wiring."""

from __future__ import annotations

import itertools
import subprocess
import sys

import numpy as np
import pytest
from click.testing import CliRunner

from fakes import HashEmbedder
from spaceqa import distributed, pipeline
from spaceqa.cli import main
from spaceqa.distributed import flatten, reassemble
from spaceqa.errors import SpaceQAError

DIMENSION = 4


def unit_rows(count: int, seed: int) -> np.ndarray:
    vectors = np.random.default_rng(seed).normal(size=(count, DIMENSION)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def split_like_workers(rows: np.ndarray, text_vectors: np.ndarray, span_vectors: list, cuts: list[int]) -> list[dict]:
    """``flatten``'s output for each worker's slice of the texts, as workers would send them."""
    edges = [0, *cuts, len(rows)]
    return [flatten(rows[a:b], text_vectors[a:b], span_vectors[a:b]) for a, b in itertools.pairwise(edges)]


def test_vectors_come_back_in_the_order_of_the_texts_with_unseen_spans_still_none():
    text_vectors = unit_rows(5, seed=1)
    spans = unit_rows(7, seed=2)
    # Text 1 has no spans; text 3's last span was past the model's limit (None).
    span_vectors = [[spans[0], spans[1]], [], [spans[2]], [spans[3], spans[4], None], [spans[5], spans[6]]]
    rows = np.arange(5)
    batches = split_like_workers(rows, text_vectors, span_vectors, cuts=[2, 3])
    got_texts, got_spans = reassemble(reversed(batches), [2, 0, 1, 3, 2], DIMENSION)  # workers finish in any order
    np.testing.assert_array_equal(got_texts, text_vectors)
    assert [len(row) for row in got_spans] == [2, 0, 1, 3, 2]
    assert got_spans[3][2] is None
    for got_row, row in zip(got_spans, span_vectors):
        for got, vector in zip(got_row, row):
            assert (got is None) == (vector is None)
            if vector is not None:
                np.testing.assert_array_equal(got, vector)


def test_rows_out_of_order_inside_a_batch_find_their_place():
    text_vectors = unit_rows(3, seed=3)
    batch = flatten(np.array([2, 0, 1]), text_vectors[[2, 0, 1]], [[], [], []])
    np.testing.assert_array_equal(reassemble([batch], [0, 0, 0], DIMENSION)[0], text_vectors)


def test_a_text_the_cluster_never_returned_is_an_error_not_a_row_of_zeros():
    batch = flatten(np.array([0, 2]), unit_rows(2, seed=4), [[], []])
    with pytest.raises(SpaceQAError, match="no vector for 1 of 3 texts"):
        reassemble([batch], [0, 0, 0], DIMENSION)


def test_vectors_of_another_dimension_are_refused():
    batch = flatten(np.array([0]), np.ones((1, 8), dtype=np.float32), [[]])
    with pytest.raises(SpaceQAError, match="8 dimensions, this machine's model 4"):
        reassemble([batch], [0], DIMENSION)


class ShortSightedEmbedder(HashEmbedder):
    """Like a model with a length limit: the last span of a text with three or more is not seen (None)."""

    def embed_with_spans(self, texts, spans, *, show_progress: bool = False):
        text_vectors, span_vectors = super().embed_with_spans(texts, spans)
        return text_vectors, [row[:-1] + [None] if len(row) >= 3 else row for row in span_vectors]


def test_a_worker_embeds_its_batch_as_the_local_embedder_does():
    pa = pytest.importorskip("pyarrow", reason="pyarrow comes with the ray extra: `make install-ray`")
    texts = ["Tides follow the Moon. Twice a day. Mostly.", "Comets shed dust.", "Nothing here"]
    spans = [[(0, 22), (23, 35), (36, 43)], [(0, 17)], []]
    batch = pa.table({"row": [0, 1, 2], "text": texts, "spans": [[list(s) for s in row] for row in spans]})
    worker = distributed._EmbedBatches(ShortSightedEmbedder, expected_name=HashEmbedder.name, with_spans=True)
    text_vectors, span_vectors = reassemble([worker(batch)], [3, 1, 0], 256)
    local_texts, local_spans = ShortSightedEmbedder().embed_with_spans(texts, spans)
    np.testing.assert_array_equal(text_vectors, local_texts)
    assert span_vectors[0][2] is None and span_vectors[2] == []
    np.testing.assert_array_equal(span_vectors[0][0], local_spans[0][0])
    without_spans = distributed._EmbedBatches(HashEmbedder, expected_name=HashEmbedder.name, with_spans=False)
    only_texts = reassemble([without_spans(batch.drop_columns(["spans"]))], [0, 0, 0], 256)[0]
    np.testing.assert_array_equal(only_texts, HashEmbedder().embed(texts))


def test_a_worker_with_another_model_refuses_to_embed():
    with pytest.raises(SpaceQAError, match="install the same SpaceQA and model on every node"):
        distributed._EmbedBatches(HashEmbedder, expected_name="sentence-transformers/all-MiniLM-L6-v2", with_spans=True)


def test_importing_spaceqa_never_imports_ray():
    code = "import sys, spaceqa, spaceqa.cli, spaceqa.distributed; sys.exit('ray' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


@pytest.fixture
def fake_local_embedder(monkeypatch):
    monkeypatch.setattr(pipeline, "load_embedder", lambda settings, **_: HashEmbedder())


def test_index_ray_without_ray_installed_says_what_to_install_in_one_line(tmp_path, tiny_corpus, fake_local_embedder, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` now fails, as where the extra is not installed
    result = CliRunner().invoke(main, ["index", "--ray", "auto", "--corpus", str(tiny_corpus), "--index", str(tmp_path / "index")])
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == ["Error: `--ray` needs Ray: install spaceqa[ray] (pip install 'spaceqa[ray]')"]
    assert not (tmp_path / "index").exists()  # said before any work


def test_index_ray_builds_through_an_embedder_for_the_cluster_named_as_the_local_one(tmp_path, tiny_corpus, fake_local_embedder, monkeypatch):
    made = []

    class RecordingRayEmbedder(HashEmbedder):
        def __init__(self, address, factory, local):
            super().__init__()
            made.append((address, factory))
            self.name = local.name

    monkeypatch.setattr(distributed, "RayEmbedder", RecordingRayEmbedder)
    result = CliRunner().invoke(main, ["index", "--ray", "ray://head:10001", "--corpus", str(tiny_corpus), "--index", str(tmp_path / "index")])
    assert result.exit_code == 0, result.output
    [(address, factory)] = made
    assert address == "ray://head:10001"
    assert factory.args[0].corpus_dir == tiny_corpus  # each worker builds its embedder from this build's settings
    assert isinstance(factory(), HashEmbedder)


def test_index_help_says_what_runs_where():
    result = CliRunner().invoke(main, ["index", "--help"])
    assert "--ray ADDRESS" in result.output and "only" in result.output and "embedding runs on the cluster" in result.output


def free_port() -> int:
    import socket

    with socket.socket() as sock:  # free a moment ago: nothing listens there
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize("scheme", ["", "ray://"])
def test_an_address_nothing_listens_at_fails_at_once_not_after_rays_ten_minutes_of_retries(scheme):
    address = f"{scheme}127.0.0.1:{free_port()}"
    with pytest.raises(SpaceQAError, match=r"cannot reach the Ray cluster at .*127\.0\.0\.1:\d+ \(Connection refused\); start one with `ray start --head`"):
        distributed._check_reachable(address)


def test_auto_is_left_to_ray_to_find():
    distributed._check_reachable("auto")  # no port to try: nothing raised here
