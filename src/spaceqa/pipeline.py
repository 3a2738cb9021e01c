"""Pipeline: connects the stages; holds no logic of its own beyond the wiring.

Indexing: ingest -> chunk -> embed -> index.
Asking:   (conversation context) -> embed query -> retrieve -> answer.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from .answer import Calibration, Reader, Reading
from .config import Settings
from .chunk import ChunkParams, chunk_sentences, count_words, split_sentences
from .embed import Embedder
from .followup import Rewrite, is_follow_up, rewrite
from .errors import EmptyCorpusError, IndexMismatchError, IndexMissingError
from .index import IndexContent, LoadedIndex, build_lock, load_index, read_manifest, staleness, write_index
from .ingest import corpus_fingerprint, load_corpus
from .records import AskResult, Chunk, Document, Sentence
from .retrieve import Query, Retriever
from .tagging import tag
from .text import terms

log = logging.getLogger("spaceqa")
HISTORY_USED = 2  # how many earlier questions may feed the context of a follow-up


@dataclass
class BuildReport:
    version: str
    documents: int
    chunks: int
    sentences: int
    seconds: float
    skipped: list[tuple[str, str]] = field(default_factory=list)

    def summary(self) -> str:
        rate = self.chunks / self.seconds if self.seconds else 0.0
        return (
            f"indexed {self.documents} documents, {self.chunks} chunks, {self.sentences} sentences "
            f"in {self.seconds:.1f}s ({rate:.1f} chunks/s); skipped {len(self.skipped)}; version {self.version}"
        )


# --- indexing --------------------------------------------------------------------------


def build_index(
    corpus_dir: Path, index_dir: Path, embedder: Embedder, params: ChunkParams, *, progress: bool = False
) -> BuildReport:
    """Read the corpus, chunk, embed and publish a new index version."""
    started = time.perf_counter()
    with build_lock(index_dir):
        scan = load_corpus(corpus_dir)
        if not scan.documents:
            raise EmptyCorpusError(f"no readable .txt documents in {corpus_dir}; add some and run `spaceqa index` again")
        content = prepare_content(scan.documents, embedder, params, progress=progress)
        manifest = write_index(index_dir, content, model=embedder.name, chunking=params.to_dict())
    return BuildReport(
        version=manifest.version,
        documents=len(content.documents),
        chunks=len(content.chunks),
        sentences=len(content.sentences),
        seconds=time.perf_counter() - started,
        skipped=scan.skipped,
    )


def prepare_content(documents: list[Document], embedder: Embedder, params: ChunkParams, *, progress: bool = False) -> IndexContent:
    """Split documents into sentences and passages, tag the sentences, and embed both."""
    sentences: list[Sentence] = []
    chunks: list[Chunk] = []
    for doc in documents:
        spans = split_sentences(doc.text)
        base = len(sentences)
        sentences += [Sentence(base + i, doc.doc_id, start, end) for i, (start, end) in enumerate(spans)]
        word_counts = [count_words(doc.text[start:end]) for start, end in spans]
        for first, last in chunk_sentences(word_counts, params):
            chunks.append(Chunk(len(chunks), doc.doc_id, spans[first][0], spans[last - 1][1], base + first, base + last))
    texts = {doc.doc_id: doc.text for doc in documents}
    passage_texts = [texts[c.doc_id][c.start : c.end] for c in chunks]
    sentence_texts = [texts[s.doc_id][s.start : s.end] for s in sentences]
    sentence_tokens = [tag(text) for text in sentence_texts]
    # One call, so the progress bar covers the whole job.
    vectors = embedder.embed(passage_texts + sentence_texts, show_progress=progress)
    return IndexContent(
        documents=documents,
        sentences=sentences,
        chunks=chunks,
        chunk_vectors=vectors[: len(chunks)],
        sentence_vectors=vectors[len(chunks) :],
        sentence_tokens=sentence_tokens,
    )


def index_problem(corpus_dir: Path, index_dir: Path, embedder: Embedder, params: ChunkParams) -> str | None:
    """Why the index cannot serve this corpus as it is (missing or stale), or None."""
    try:
        manifest = read_manifest(index_dir)
    except (IndexMissingError, IndexMismatchError) as problem:
        return str(problem)
    return staleness(manifest, fingerprint=corpus_fingerprint(corpus_dir), model=embedder.name, chunking=params.to_dict())


# --- asking ----------------------------------------------------------------------------


class Engine:
    """The model and the live index, loaded once per process and shared by request threads."""

    def __init__(
        self, embedder: Embedder, index: LoadedIndex, *, min_score: float = 0.5, calibration: Calibration | None = None, cache_size: int = 1024
    ) -> None:
        self.embedder = embedder
        self.min_score = min_score
        self.calibration = calibration or Calibration.load()
        self._cache: OrderedDict[tuple, object] = OrderedDict()  # query vectors and re-asked questions
        self._cache_size = cache_size
        self._lock = threading.Lock()
        self.use_index(index)

    def use_index(self, index: LoadedIndex) -> None:
        """Serve from ``index``. One assignment, so a request sees the old or the new index, never a mix."""
        self._state = (index, Retriever(index), Reader(index, self.calibration))

    @property
    def index(self) -> LoadedIndex:
        return self._state[0]

    def ask(self, question: str, history: Sequence[str] = (), top_k: int = 3) -> AskResult:
        """Answer ``question``; ``history`` holds the earlier questions of the chat, oldest first."""
        started = time.perf_counter()
        readings, reader = self._read(question, history)
        answers = reader.answers(readings[:top_k])
        best = answers[0] if answers else None
        return AskResult(
            question=question,
            answer=best.text if best and best.score >= self.min_score else None,
            answers=answers,
            took_ms=(time.perf_counter() - started) * 1000,
        )

    def readings(self, question: str, history: Sequence[str] = ()) -> list[Reading]:
        """Every candidate sentence with its features and score, best first (for calibration and debugging)."""
        return self._read(question, history)[0]

    def _read(self, question: str, history: Sequence[str]) -> tuple[list[Reading], Reader]:
        index, retriever, reader = self._state  # one snapshot: the whole request sees one index
        search_text, context = question, ""
        if history and is_follow_up(question):
            rewritten = self._rewrite(index, question, list(history))
            search_text, context = rewritten.search_text, rewritten.context
        query = Query(vector=self._embed(search_text), terms=terms(f"{search_text} {context}"))
        return reader.readings(search_text, retriever.candidates(query), context=context, query_vector=query.vector), reader

    def _rewrite(self, index: LoadedIndex, question: str, history: list[str]) -> Rewrite:
        """Rewrite a follow-up with the answer to the previous question (re-asked, and cached)."""
        previous, before = history[-1], history[:-1][-(HISTORY_USED - 1) :]
        key = ("ask", index.version, previous, tuple(before))
        previous_result = self._cached(key, lambda: self.ask(previous, before, top_k=1))
        return rewrite(question, previous, previous_result.answer)

    def _embed(self, text: str) -> np.ndarray:
        return self._cached(("vector", text), lambda: self.embedder.embed([text])[0])

    def _cached(self, key: tuple, compute: Callable):
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
        value = compute()
        with self._lock:
            self._cache[key] = value
            if len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return value


def load_embedder(settings: Settings) -> Embedder:
    from .embed import SentenceTransformerEmbedder

    return SentenceTransformerEmbedder(settings.model or None, batch_size=settings.batch_size)


def open_engine(
    settings: Settings, embedder: Embedder | None = None, *, build_if_needed: bool = True, calibration: Calibration | None = None
) -> Engine:
    """An engine over the index in ``settings.index_dir``, (re)built first when missing or stale."""
    embedder = embedder or load_embedder(settings)
    params = settings.chunk_params
    problem = index_problem(settings.corpus_dir, settings.index_dir, embedder, params)
    if problem:
        if not build_if_needed:
            raise IndexMismatchError(f"{problem}; run `spaceqa index`")
        log.info("building the index, because %s", problem)
        log.info(build_index(settings.corpus_dir, settings.index_dir, embedder, params).summary())
    return Engine(embedder, load_index(settings.index_dir), min_score=settings.min_score, calibration=calibration)
