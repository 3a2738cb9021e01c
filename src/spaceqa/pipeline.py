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
from .conversation import Interpretation, PastTurn, choose, interpretations, settled_as_asked
from .index import LoadedIndex, current_version, load_index
from .reader import ExtractiveReader
from .records import AskResult
from .retrieve import Query, Retriever
from .text import terms

log = logging.getLogger("spaceqa")
# A client that sends questions without their answers gets the last one asked again, with at
# most the HISTORY_USED - 1 turns before it as its own history (and so on back, cached).
HISTORY_USED = 3
RETRY_REFUSED_SECONDS = 60.0  # when a version that failed to load is tried again (see Engine.refused)


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
        # The newest version that could not be served, and why.  Tried again only after
        # RETRY_REFUSED_SECONDS (a load can fail for a passing reason, such as memory, but at a
        # million passages it costs seconds and gigabytes), or as soon as another is published.
        self.refused: tuple[str, str] | None = None
        self._refused_at = 0.0
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
                self.refused = None
                return False
            if self.refused and self.refused[0] == version and time.monotonic() - self._refused_at < RETRY_REFUSED_SECONDS:
                return False
            try:
                self.use_index(load_index(index_dir))
            except Exception as error:
                self.refused, self._refused_at = (version, str(error)), time.monotonic()
                raise
            self.refused = None
            log.info("now serving index version %s", version)
            return True

    def watch(self, index_dir: Path, interval: float) -> threading.Thread:
        """Check ``index_dir`` every ``interval`` seconds and switch to new versions (a daemon thread).

        The thread holds the engine weakly and ends with it, so short-lived apps (tests) leave nothing behind.
        A version that cannot be served is reported once (and in ``/healthz``), not at every check.
        """
        engine_ref = weakref.ref(self)

        def run() -> None:
            reported: tuple[str, str] | None = None  # the last problem logged: each one is logged once
            while (engine := engine_ref()) is not None:
                try:
                    engine.refresh(index_dir)
                except Exception as error:  # whatever a load raises, the watcher must outlive it
                    if engine.refused != reported:
                        reported = engine.refused
                        expected = isinstance(error, (SpaceQAError, OSError, ValueError))
                        log.error("could not switch to the new index in %s: %s; still serving %s", index_dir, error, engine.index.version, exc_info=not expected)
                del engine
                time.sleep(interval)

        thread = threading.Thread(target=run, name="spaceqa-index-watcher", daemon=True)
        thread.start()
        return thread

    @property
    def index(self) -> LoadedIndex:
        return self._state[0]

    def ask(self, question: str, history: Sequence[PastTurn | str] = (), top_k: int = 3) -> AskResult:
        """Answer ``question``; ``history`` holds the earlier turns of the chat, oldest first.

        A follow-up is asked in each of its interpretations (see ``conversation.py``), and
        the one the reader is confident in is answered; ``understood_as`` says which.  The
        question as asked is read first: when it is answered surely (``settled_as_asked``),
        no other reading could be chosen, so none is read.
        """
        started = time.perf_counter()
        understood, readings, answerer = self._read(question, history)
        answers = answerer.answers(readings[:top_k])
        best = answers[0] if answers else None
        return AskResult(
            question=question,
            answer=best.text if best and best.score >= self.min_score else None,
            answers=answers,
            took_ms=(time.perf_counter() - started) * 1000,
            understood_as=understood.understood_as,
        )

    def window_texts(self, question: str) -> list[str]:
        """The windows the reader reads for a standalone ``question`` (benchmarks time the reader on them)."""
        _, retriever, answerer = self._state
        return answerer.window_texts(question, retriever.candidates(Query(vector=self._embed(question), terms=terms(question))))

    def _read(self, question: str, history: Sequence[PastTurn | str]) -> tuple[Interpretation, list[Reading], Answerer]:
        state = self._state  # one snapshot: the whole request sees one index
        past = [turn if isinstance(turn, PastTurn) else PastTurn(turn) for turn in history]
        previous = self._with_answer(state[0], past) if past else None
        options = interpretations(question, previous)
        as_asked = self._read_as(state, options[0])
        answerer = state[2]
        if len(options) == 1 or (as_asked and settled_as_asked(as_asked[0].score)):
            return options[0], as_asked, answerer
        readings = [as_asked] + [self._read_as(state, option) for option in options[1:]]
        earlier = set(terms(options[-1].context))  # every reading but the one as asked has the earlier turn as context
        related = [bool(found) and bool(earlier & set(terms(answerer.window_text(found[0])))) for found in readings]
        chosen = choose([found[0].score if found else 0.0 for found in readings], options, related, min_score=self.min_score)
        return options[chosen], readings[chosen], answerer

    def _read_as(self, state: tuple[LoadedIndex, Retriever, Answerer], option: Interpretation) -> list[Reading]:
        _, retriever, answerer = state
        query = Query(vector=self._embed(option.search_text), terms=terms(f"{option.question} {option.context}"))
        return answerer.readings(option.question, retriever.candidates(query))

    def _with_answer(self, index: LoadedIndex, past: list[PastTurn]) -> PastTurn:
        """The last turn, with its answer and how it was understood: asked again (and cached) when not given."""
        last = past[-1]
        if last.answer_known:
            return last
        before = tuple(past[:-1][-(HISTORY_USED - 1) :])
        key = ("ask", index.version, last.question, before)
        result = self._cache.get_or_compute(key, lambda: self.ask(last.question, before, top_k=1))
        return PastTurn(last.question, result.answer, answer_known=True, understood_as=result.understood_as)

    def _embed(self, text: str) -> np.ndarray:
        return self._cache.get_or_compute(("vector", text), lambda: self.embedder.embed([text])[0])


def load_embedder(settings: Settings, *, lazy: bool = False) -> Embedder:
    """The embedding model of ``settings.model`` run by ``settings.embedding_runtime`` (both recorded in its ``name``)."""
    from .embed import OnnxEmbedder, SentenceTransformerEmbedder

    if settings.embedding_runtime == "torch":
        return SentenceTransformerEmbedder(settings.model or None, batch_size=settings.batch_size, lazy=lazy)
    return OnnxEmbedder(settings.model or None, batch_size=settings.batch_size, quantise=settings.embedding_runtime == "onnx-int8", lazy=lazy)


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
