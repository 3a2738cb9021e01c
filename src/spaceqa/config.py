"""Settings: one dataclass, filled from defaults, then ``SPACEQA_*`` variables, then explicit values.

Only the entry points (the CLI, ``create_app``, and training, which retrieves its hard
negatives with the embedder the service asks with) call ``Settings.load``; the stages take
plain arguments.  Every field names its environment variable and says what it is for;
a test checks that README.md documents each one.
"""

from __future__ import annotations

import dataclasses
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from .chunk import ChunkParams
from .embed import EMBEDDING_RUNTIMES

# An origin as browsers send it: scheme, host, optional port; no path, no trailing slash.
_ORIGIN = re.compile(r"https?://[^\s/?#*,]+")


def _setting(default: Any, env: str, help: str) -> Any:
    return field(default=default, metadata={"env": env, "help": help})


@dataclass(frozen=True)
class Settings:
    corpus_dir: Path = _setting(Path("corpus"), "SPACEQA_CORPUS", "Folder of documents to index and serve.")
    index_dir: Path = _setting(Path("index"), "SPACEQA_INDEX", "Folder where the built index lives.")
    host: str = _setting("127.0.0.1", "SPACEQA_HOST", "Address `spaceqa serve` listens on.")
    port: int = _setting(8000, "SPACEQA_PORT", "Port `spaceqa serve` listens on.")
    model: str = _setting("", "SPACEQA_MODEL", "Folder of a local sentence-transformers model; empty means the bundled all-MiniLM-L6-v2.")
    reader: str = _setting("", "SPACEQA_READER", "Folder of a reader trained with `spaceqa train-reader`; empty means the one shipped with SpaceQA.")
    embedding_runtime: str = _setting(
        "onnx-int8",
        "SPACEQA_EMBEDDING_RUNTIME",
        "What computes the embeddings: `torch` (PyTorch float32), `onnx` (ONNX Runtime float32) or `onnx-int8` (ONNX Runtime, 8-bit weights, "
        "exported once into the user's cache; see bench/RESULTS.md). An index is served only by the runtime that built it: "
        "`ask` or `serve` with another rebuilds the index for it, and a server still running with the first goes on with "
        "its version and names the new one in `/healthz` (`index_problem`).",
    )
    batch_size: int = _setting(8, "SPACEQA_BATCH_SIZE", "Texts per batch when embedding (8: fastest on a small CPU, see bench/RESULTS.md).")
    threads: int = _setting(8, "SPACEQA_THREADS", "Worker threads of the HTTP server.")
    min_score: float = _setting(0.5, "SPACEQA_MIN_SCORE", "Calibrated score below which `answer` is null (the documents do not answer).")
    max_question_chars: int = _setting(500, "SPACEQA_MAX_QUESTION_CHARS", "Longest question accepted, in characters (the chat page's question box takes the same limit).")
    max_history: int = _setting(20, "SPACEQA_MAX_HISTORY", "Most earlier questions accepted in `history`.")
    admin_token: str = _setting("", "SPACEQA_ADMIN_TOKEN", "Bearer token for uploading and deleting documents and reindexing over HTTP; empty disables those endpoints.")
    max_upload_bytes: int = _setting(20 * 1024 * 1024, "SPACEQA_MAX_UPLOAD_BYTES", "Largest document accepted by `POST /documents`, in bytes.")
    reload_interval: float = _setting(2.0, "SPACEQA_RELOAD_INTERVAL", "Seconds between checks for a new index version written by `spaceqa index`; 0 turns hot swapping off.")
    chunk_target_words: int = _setting(ChunkParams.target_words, "SPACEQA_CHUNK_TARGET_WORDS", "Words at which a passage is closed.")
    chunk_max_words: int = _setting(ChunkParams.max_words, "SPACEQA_CHUNK_MAX_WORDS", "Words a passage never exceeds (unless one sentence does).")
    chunk_overlap_words: int = _setting(ChunkParams.overlap_words, "SPACEQA_CHUNK_OVERLAP_WORDS", "Words of whole sentences repeated between passages.")
    cors_origins: str = _setting("", "SPACEQA_CORS_ORIGINS", "Comma-separated origins (`https://app.example.org`) whose pages may call the public API from a browser; empty allows none.")

    def __post_init__(self) -> None:
        # Every value is checked when the settings are loaded (a usage error, exit code 2), not
        # where it is first used, which may be after the model has loaded or at the first request.
        self.allowed_origins
        if self.embedding_runtime not in EMBEDDING_RUNTIMES:
            raise ValueError(f"SPACEQA_EMBEDDING_RUNTIME is {self.embedding_runtime!r}; choose one of {', '.join(EMBEDDING_RUNTIMES)}")
        for name, low, high in _RANGES:
            value = getattr(self, name)
            if not low <= value <= high:
                raise ValueError(f"{_field(name).metadata['env']} is {value}; it must be " + (f"between {low} and {high}" if high != float("inf") else f"at least {low}"))
        try:
            self.chunk_params
        except ValueError as error:
            raise ValueError(f"SPACEQA_CHUNK_TARGET_WORDS, _MAX_WORDS and _OVERLAP_WORDS do not fit together: {error}") from None

    @classmethod
    def load(cls, overrides: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None) -> "Settings":
        """Defaults, then ``SPACEQA_*`` from ``environ``, then ``overrides`` (None values are ignored)."""
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            if f.metadata["env"] in environ:
                values[f.name] = _parse(f, environ[f.metadata["env"]])
        unknown = set(overrides or {}) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise ValueError(f"unknown settings: {', '.join(sorted(unknown))}")
        for name, value in (overrides or {}).items():
            if value is not None:
                values[name] = _parse(_field(name), value)
        return cls(**values)

    @property
    def chunk_params(self) -> ChunkParams:
        return ChunkParams(self.chunk_target_words, self.chunk_max_words, self.chunk_overlap_words)

    @property
    def allowed_origins(self) -> frozenset[str]:
        """The origins of ``cors_origins``, each checked: exact origins only, never ``*``."""
        origins = frozenset(part.strip() for part in self.cors_origins.split(",") if part.strip())
        for origin in origins:
            if not _ORIGIN.fullmatch(origin):
                raise ValueError(
                    f"SPACEQA_CORS_ORIGINS holds {origin!r}; name each origin exactly, as scheme://host[:port] "
                    "(e.g. https://app.example.org), with no path and no wildcard"
                )
        return origins

    @classmethod
    def documented(cls) -> list[tuple[str, str, Any, str]]:
        """``(field, env var, default, help)`` for every setting."""
        return [(f.name, f.metadata["env"], f.default, f.metadata["help"]) for f in dataclasses.fields(cls)]


# (field, lowest, highest) of the numeric settings.
_RANGES = [
    ("port", 0, 65535),
    ("batch_size", 1, float("inf")),
    ("threads", 1, float("inf")),
    ("min_score", 0.0, 1.0),  # a calibrated probability: above 1 no question would ever be answered
    ("max_question_chars", 1, float("inf")),
    ("max_history", 0, float("inf")),
    ("max_upload_bytes", 1, float("inf")),
    ("reload_interval", 0.0, float("inf")),
]
_KIND_NAMES = {int: "an integer", float: "a number", str: "text"}


def _field(name: str) -> dataclasses.Field:
    return next(f for f in dataclasses.fields(Settings) if f.name == name)


def _parse(f: dataclasses.Field, value: Any) -> Any:
    kind = type(f.default)
    if isinstance(value, kind):
        return value
    try:
        return kind(value)
    except (TypeError, ValueError):
        raise ValueError(f"{f.metadata['env']} must be {_KIND_NAMES.get(kind, 'a ' + kind.__name__)}, got {value!r}") from None
