"""Tokens: the bundled model's WordPiece tokenizer, run by the `tokenizers` library alone.

transformers' ``AutoTokenizer`` wraps this same ``tokenizer.json``, but importing it imports
PyTorch, and with it about 180 MiB and two seconds into every process that tokenises.  The
server runs both networks with ONNX Runtime and needs PyTorch for nothing else, so the
embedder, the reader and the reader's training all tokenise here, through one narrow surface:
``offsets`` (a text's tokens), ``texts`` (passages for the embedder) and ``pairs`` (a
question with each text, for the reader).  ``tests/unit/test_tokens.py`` checks every output
against transformers' on the same inputs.

A ``Tokenizer`` configures its backend for each call, so calls must not overlap: the embedder
and the reader each serialise theirs (a lock, a thread of their own).  A model other than the
bundled one (``SPACEQA_MODEL``) gets its tokenizer from transformers, PyTorch and all.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

@dataclass(frozen=True)
class Batch:
    """Texts as a network reads them: one row per input, padded to the longest."""

    input_ids: np.ndarray  # (rows, tokens) int64
    token_type_ids: np.ndarray
    attention_mask: np.ndarray
    offsets: np.ndarray  # (rows, tokens, 2): each token's characters in its text; (0, 0) for special and padding tokens
    in_second: np.ndarray  # (rows, tokens) bool: the token belongs to the second text of a pair
    source_of_row: np.ndarray  # (rows,): which input each row came from (a long second text gives several rows)


class Tokenizer:
    """A model's tokenizer; ``of_model`` makes one."""

    def __init__(self, backend, model_max_length: int, pad_id: int) -> None:
        self._backend = backend  # a tokenizers.Tokenizer
        self.model_max_length = model_max_length
        self.pad_id = pad_id  # padding is masked out, but a model may derive positions from it
        self.vocab_size = backend.get_vocab_size(with_added_tokens=False)

    @classmethod
    def of_model(cls, folder: Path) -> "Tokenizer":
        """The tokenizer of the model in ``folder``.

        The bundled model's is read from its ``tokenizer.json`` (the tests check it against
        transformers').  Any other model's is built by transformers, as sentence-transformers
        builds it: a model's configuration may change what its ``tokenizer.json`` says, and only
        transformers knows every such rule.
        """
        from tokenizers import Tokenizer as Backend

        from .embed import bundled_model_path, offline_hub

        folder = Path(folder)
        if folder.resolve() != bundled_model_path().resolve():
            offline_hub()
            from transformers import AutoTokenizer

            built = AutoTokenizer.from_pretrained(str(folder))
            return cls(built.backend_tokenizer, int(min(built.model_max_length, 2**31)), built.pad_token_id or 0)
        config = folder / "tokenizer_config.json"
        settings = json.loads(config.read_text(encoding="utf-8")) if config.exists() else {}
        backend = Backend.from_file(str(folder / "tokenizer.json"))
        return cls(backend, int(settings.get("model_max_length", 512)), backend.token_to_id(settings.get("pad_token", "[PAD]")) or 0)

    def offsets(self, texts: Sequence[str]) -> list[list[tuple[int, int]]]:
        """Where each token of each text lies in it, without special tokens and without a length limit."""
        self._backend.no_truncation()
        self._backend.no_padding()
        return [encoding.offsets for encoding in self._backend.encode_batch(list(texts), add_special_tokens=False)]

    def texts(self, texts: Sequence[str], max_length: int) -> Batch:
        """Each text alone, cut to ``max_length`` tokens (special tokens included)."""
        self._backend.enable_truncation(max_length)
        self._backend.no_padding()
        return _batch(self._backend.encode_batch(list(texts)), self.pad_id, overflowing=False)

    def pairs(self, first: Sequence[str], second: Sequence[str], max_length: int, stride: int) -> Batch:
        """``first[i]`` with ``second[i]``; a second text too long for one row continues in further rows that overlap by ``stride`` tokens."""
        self._backend.enable_truncation(max_length, stride=stride, strategy="only_second")
        self._backend.no_padding()
        return _batch(self._backend.encode_batch(list(zip(first, second))), self.pad_id, overflowing=True)


def _batch(encodings, pad_id: int, *, overflowing: bool) -> Batch:
    rows, sources = [], []
    for source, encoding in enumerate(encodings):
        for row in [encoding, *(encoding.overflowing if overflowing else [])]:
            rows.append(row)
            sources.append(source)
    width = max((len(row.ids) for row in rows), default=0)
    shape = (len(rows), width)
    input_ids = np.full(shape, pad_id, dtype=np.int64)
    token_type_ids, attention_mask = np.zeros(shape, dtype=np.int64), np.zeros(shape, dtype=np.int64)
    offsets, in_second = np.zeros((*shape, 2), dtype=np.int64), np.zeros(shape, dtype=bool)
    for i, row in enumerate(rows):
        n = len(row.ids)
        input_ids[i, :n] = row.ids
        token_type_ids[i, :n] = row.type_ids
        attention_mask[i, :n] = row.attention_mask
        if n:
            offsets[i, :n] = row.offsets
        in_second[i, :n] = [sequence == 1 for sequence in row.sequence_ids]
    return Batch(input_ids, token_type_ids, attention_mask, offsets, in_second, np.asarray(sources, dtype=np.int64))
