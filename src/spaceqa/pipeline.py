"""Pipeline: connects the stages; holds no logic of its own beyond the wiring.

Asking: (conversation context) -> embed query -> retrieve -> read and answer, with the
models and the live index held by one ``Engine`` per process.  Indexing lives in ``build.py``.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
import weakref
from pathlib import Path
from typing import Sequence

import numpy as np

from .answer import Answerer, Calibration, Reading
from .build import build_index, index_problem
from .cache import LruCache
from .config import Settings
from .embed import Embedder
from .errors import IndexMismatchError, SpaceQAError
from .followup import Rewrite, is_follow_up, rewrite
from .index import LoadedIndex, current_version, load_index
from .reader import ExtractiveReader
from .records import AskResult
from .retrieve import Query, Retriever
from .text import terms

log = logging.getLogger("spaceqa")
HISTORY_USED = 2  # how many earlier questions may feed the context of a follow-up


class Engine:
    """The models and the live index, loaded once per process and shared by request threads."""

    def __init__(
        self, embedder: Embedder, index: LoadedIndex, reader: ExtractiveReader, calibration: Calibration, *, min_score: float = 0.5, cache_size: int = 1024
    ) -> None:
        self.embedder = embedder
        self.reader = reader
        self.calibration = calibration
        self.min_score = min_score
        self._cache: LruCache[object] = LruCache(cache_size)  # query vectors and re-asked questions
        self._swap_lock = threading.Lock()
        self.use_index(index)

    def use_index(self, index: LoadedIndex) -> None:
        """Serve from ``index``. One assignment, so a request sees the old or the new index, never a mix."""
        if index.manifest.model != self.embedder.name:
            raise IndexMismatchError(f"index {index.version} was built with model {index.manifest.model!r}, this service embeds with {self.embedder.name!r}")
        self._state = (index, Retriever(index), Answerer(index, self.reader, self.calibration))

    def refresh(self, index_dir: Path) -> bool:
        """Switch to the live version in ``index_dir`` if it is newer than the one served; True if switched.

        The new index is loaded while the old one keeps answering; requests already running
        finish on the index they started with.
        """
        with self._swap_lock:
            version = current_version(index_dir)
            if version is None or version == self.index.version:
                return False
            self.use_index(load_index(index_dir))
            log.info("now serving index version %s", version)
            return True

    def watch(self, index_dir: Path, interval: float) -> threading.Thread:
        """Check ``index_dir`` every ``interval`` seconds and switch to new versions (a daemon thread).

        The thread holds the engine weakly and ends with it, so short-lived apps (tests) leave nothing behind.
        """
        engine_ref = weakref.ref(self)

        def run() -> None:
            while (engine := engine_ref()) is not None:
                try:
                    engine.refresh(index_dir)
                except (SpaceQAError, OSError, ValueError) as error:
                    log.error("could not switch to the new index in %s: %s; still serving %s", index_dir, error, engine.index.version)
                del engine
                time.sleep(interval)

        thread = threading.Thread(target=run, name="spaceqa-index-watcher", daemon=True)
        thread.start()
        return thread

    @property
    def index(self) -> LoadedIndex:
        return self._state[0]

    def ask(self, question: str, history: Sequence[str] = (), top_k: int = 3) -> AskResult:
        """Answer ``question``; ``history`` holds the earlier questions of the chat, oldest first."""
        started = time.perf_counter()
        readings, answerer = self._read(question, history)
        answers = answerer.answers(readings[:top_k])
        best = answers[0] if answers else None
        return AskResult(
            question=question,
            answer=best.text if best and best.score >= self.min_score else None,
            answers=answers,
            took_ms=(time.perf_counter() - started) * 1000,
        )

    def readings(self, question: str, history: Sequence[str] = ()) -> list[Reading]:
        """Every window read, with its span, features and score, best first (for calibration and debugging)."""
        return self._read(question, history)[0]

    def window_texts(self, question: str) -> list[str]:
        """The windows the reader reads for a standalone ``question`` (benchmarks time the reader on them)."""
        _, retriever, answerer = self._state
        return answerer.window_texts(question, retriever.candidates(Query(vector=self._embed(question), terms=terms(question))))

    def _read(self, question: str, history: Sequence[str]) -> tuple[list[Reading], Answerer]:
        index, retriever, answerer = self._state  # one snapshot: the whole request sees one index
        search_text, context = question, ""
        if history and is_follow_up(question):
            rewritten = self._rewrite(index, question, list(history))
            search_text, context = rewritten.search_text, rewritten.context
        query = Query(vector=self._embed(search_text), terms=terms(f"{search_text} {context}"))
        return answerer.readings(search_text, retriever.candidates(query)), answerer

    def _rewrite(self, index: LoadedIndex, question: str, history: list[str]) -> Rewrite:
        """Rewrite a follow-up with the answer to the previous question (re-asked, and cached)."""
        previous, before = history[-1], history[:-1][-(HISTORY_USED - 1) :]
        key = ("ask", index.version, previous, tuple(before))
        previous_result = self._cache.get_or_compute(key, lambda: self.ask(previous, before, top_k=1))
        return rewrite(question, previous, previous_result.answer)

    def _embed(self, text: str) -> np.ndarray:
        return self._cache.get_or_compute(("vector", text), lambda: self.embedder.embed([text])[0])


def load_embedder(settings: Settings, *, lazy: bool = False) -> Embedder:
    from .embed import SentenceTransformerEmbedder

    return SentenceTransformerEmbedder(settings.model or None, batch_size=settings.batch_size, lazy=lazy)


def load_reader(settings: Settings) -> tuple[ExtractiveReader, Calibration]:
    """The reader in ``settings.reader`` (the shipped one when empty) and its calibration."""
    return _reader_at(settings.reader)


@functools.lru_cache(maxsize=4)
def _reader_at(folder: str) -> tuple[ExtractiveReader, Calibration]:
    # Loaded once per process: a reader holds no state between questions, so every engine of
    # the process (apps in tests, evaluation runs) can share one.
    from .reader import load_reader as load

    reader, card = load(Path(folder) if folder else None)
    return reader, Calibration.from_card(card)


def open_engine(
    settings: Settings, embedder: Embedder | None = None, reader: tuple[ExtractiveReader, Calibration] | None = None, *, build_if_needed: bool = True
) -> Engine:
    """An engine over the index in ``settings.index_dir``, (re)built first when missing or stale."""
    if embedder is None:
        log.info("loading the embedding model")
        embedder = load_embedder(settings)
    params = settings.chunk_params
    problem = index_problem(settings.corpus_dir, settings.index_dir, embedder, params)
    if problem:
        if not build_if_needed:
            raise IndexMismatchError(f"{problem}; run `spaceqa index`")
        log.info("building the index, because %s", problem)
        log.info(build_index(settings.corpus_dir, settings.index_dir, embedder, params, progress=True).summary())
    if reader is None:
        log.info("loading the reader")
    reader_model, calibration = reader or load_reader(settings)
    return Engine(embedder, load_index(settings.index_dir), reader_model, calibration, min_score=settings.min_score)
