"""Build: ingest -> chunk -> embed -> index, reusing what an earlier build computed.

A document whose file hash is unchanged since the live index keeps its sentences,
passages and vectors; only new and changed documents are read and embedded, and
deleted ones are dropped.  A file that could not be read is recorded in the manifest with
its hash and reason, and is not read again until it changes.  Documents are assembled in
the same order as a full build, so an incremental build produces the same index as
``full=True`` (tested).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import chunk
from .chunk import ChunkParams, chunk_sentences, count_words, split_sentences
from .embed import Embedder
from .errors import EmptyCorpusError, IndexMismatchError, IndexMissingError
from .index import ChunkTable, IndexContent, LoadedIndex, SentenceTable, build_lock, load_index, read_manifest, remove_unfinished_builds, staleness, write_index
from .ingest import corpus_fingerprint, load_corpus
from .records import Document

log = logging.getLogger("spaceqa")


@dataclass
class PreparedDocument:
    """One document split and embedded; offsets are into its text, ids are local."""

    document: Document
    sentences: list[tuple[int, int]]
    chunks: list[tuple[int, int, int, int]]  # start, end, first sentence, last sentence (exclusive)
    sentence_vectors: np.ndarray | None = None
    chunk_vectors: np.ndarray | None = None


@dataclass
class BuildReport:
    version: str
    documents: int
    indexed: int  # read and embedded in this build: new or changed
    unchanged: int  # taken over from the previous index
    removed: int  # in the previous index, gone from the corpus
    chunks: int
    embedded_chunks: int
    sentences: int
    seconds: float
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (doc id, reason): not a supported type
    # (doc id, reason): every supported file that cannot be read, including those that failed in
    # an earlier build and were not read again because they have not changed.
    failed: list[tuple[str, str]] = field(default_factory=list)
    published: bool = True  # False when nothing had changed and the live version stays

    def summary(self) -> str:
        rate = self.embedded_chunks / self.seconds if self.seconds else 0.0
        outcome = f"version {self.version}" if self.published else f"up to date, version {self.version} stays"
        return (
            f"indexed {self.indexed}, unchanged {self.unchanged}, removed {self.removed}, skipped {len(self.skipped)}, "
            f"failed {len(self.failed)} documents; {self.documents} documents, {self.chunks} chunks "
            f"({self.embedded_chunks} embedded) in {self.seconds:.1f}s ({rate:.1f} chunks/s); {outcome}"
        )

    def to_dict(self) -> dict:
        return dict(self.__dict__, skipped=[list(s) for s in self.skipped], failed=[list(f) for f in self.failed])


# Said of a file that failed before and is unchanged: so a report does not read as if it was tried again.
NOT_READ_AGAIN = " (unchanged since it failed: not read again)"


def build_index(
    corpus_dir: Path, index_dir: Path, embedder: Embedder, params: ChunkParams, *, full: bool = False, progress: bool = False
) -> BuildReport:
    """Publish a new index version for the corpus; with ``full`` nothing is reused.

    The reported seconds cover the build itself: the sentence splitter is loaded (once per
    process, as the model is) before the clock starts.
    """
    chunk.warm_up()
    started = time.perf_counter()
    with build_lock(index_dir):
        remove_unfinished_builds(index_dir)
        fingerprint = corpus_fingerprint(corpus_dir)
        previous = None if full else _reusable_index(index_dir, embedder, params)
        old_hashes = previous.manifest.documents if previous else {}
        old_failures = previous.manifest.failed if previous else {}
        unchanged = [doc_id for doc_id, sha in fingerprint.items() if old_hashes.get(doc_id) == sha]
        # A file that failed and has not changed since would fail again, at the same cost: not read.
        still_failed = {doc_id: failure for doc_id, failure in old_failures.items() if fingerprint.get(doc_id) == failure["sha256"]}
        scan = load_corpus(corpus_dir, only=set(fingerprint) - set(unchanged) - set(still_failed))
        # The hash from before reading: if the file changed meanwhile, it differs next time and is retried.
        failed = still_failed | {doc_id: {"sha256": fingerprint[doc_id], "reason": reason} for doc_id, reason in scan.failed}
        failed = {doc_id: failed[doc_id] for doc_id in fingerprint if doc_id in failed}  # in corpus order
        if previous is not None and not scan.documents and set(unchanged) == set(old_hashes) and failed == old_failures:
            # Nothing to change: publishing an identical version would only make servers reload.
            return _report(previous.version, previous, fresh=[], unchanged=unchanged, removed=0, scan=scan, failed=failed, started=started, published=False)
        if scan.documents:
            # A lazy embedder loads its model on first use; like the splitter's, that load
            # is not part of the build's seconds.
            loading = time.perf_counter()
            _ = embedder.dimension
            started += time.perf_counter() - loading
        fresh = prepare_documents(scan.documents, params)
        _embed(fresh, embedder, progress)
        prepared = {p.document.doc_id: p for p in fresh}
        prepared.update({doc_id: _reuse(previous, doc_id) for doc_id in unchanged})
        if not prepared:
            raise EmptyCorpusError(f"no readable documents in {corpus_dir}; add some and run `spaceqa index` again")
        # The corpus scan's order, whatever was reused: the same index as a full build.
        content = assemble([prepared[doc_id] for doc_id in fingerprint if doc_id in prepared])
        manifest = write_index(index_dir, content, model=embedder.name, chunking=params.to_dict(), failed=failed)
    removed = len(old_hashes.keys() - fingerprint.keys())
    return _report(manifest.version, content, fresh=fresh, unchanged=unchanged, removed=removed, scan=scan, failed=failed, started=started, published=True)


def _report(version, content, *, fresh, unchanged, removed, scan, failed, started, published) -> BuildReport:
    read_now = {doc_id for doc_id, _ in scan.failed}
    return BuildReport(
        version=version,
        documents=len(content.documents),
        indexed=len(fresh),
        unchanged=len(unchanged),
        removed=removed,
        chunks=len(content.chunks),
        embedded_chunks=sum(len(p.chunks) for p in fresh),
        sentences=len(content.sentences),
        seconds=time.perf_counter() - started,
        skipped=scan.skipped,
        failed=[(doc_id, failure["reason"] + ("" if doc_id in read_now else NOT_READ_AGAIN)) for doc_id, failure in failed.items()],
        published=published,
    )


def prepare_documents(documents: list[Document], params: ChunkParams) -> list[PreparedDocument]:
    """Split documents into sentences and passages (no vectors yet)."""
    prepared = []
    for doc in documents:
        spans = split_sentences(doc.text)
        word_counts = [count_words(doc.text[start:end]) for start, end in spans]
        chunks = [(spans[first][0], spans[last - 1][1], first, last) for first, last in chunk_sentences(word_counts, params)]
        prepared.append(PreparedDocument(doc, spans, chunks))
    return prepared


def assemble(documents: list[PreparedDocument]) -> IndexContent:
    """Number the sentences and passages of prepared documents, in order, into index content."""
    sentence_rows: list[tuple[int, int, int]] = []
    chunk_rows: list[tuple[int, int, int, int, int]] = []
    for number, prepared in enumerate(documents):
        base = len(sentence_rows)
        sentence_rows += [(number, start, end) for start, end in prepared.sentences]
        chunk_rows += [(number, s, e, base + f, base + l) for s, e, f, l in prepared.chunks]
    doc_ids = [p.document.doc_id for p in documents]
    return IndexContent(
        documents=[p.document for p in documents],
        sentences=SentenceTable(doc_ids, np.array(sentence_rows, dtype=np.int64)),
        chunks=ChunkTable(doc_ids, np.array(chunk_rows, dtype=np.int64)),
        sentence_vectors=_stack([p.sentence_vectors for p in documents]),
        chunk_vectors=_stack([p.chunk_vectors for p in documents]),
    )


def index_problem(corpus_dir: Path, index_dir: Path, embedder: Embedder, params: ChunkParams) -> str | None:
    """Why the index cannot serve this corpus as it is (missing or stale), or None."""
    try:
        manifest = read_manifest(index_dir)
    except (IndexMissingError, IndexMismatchError) as problem:
        return str(problem)
    return staleness(manifest, fingerprint=corpus_fingerprint(corpus_dir), model=embedder.name, chunking=params.to_dict())


def _reusable_index(index_dir: Path, embedder: Embedder, params: ChunkParams) -> LoadedIndex | None:
    """The live index, when its vectors can be taken over (same model and chunking)."""
    try:
        manifest = read_manifest(index_dir)
    except (IndexMissingError, IndexMismatchError):
        return None
    problem = staleness(manifest, fingerprint=manifest.file_hashes(), model=embedder.name, chunking=params.to_dict())
    if problem:
        log.info("rebuilding everything, because %s", problem)
        return None
    return load_index(index_dir)


def _reuse(index: LoadedIndex, doc_id: str) -> PreparedDocument:
    first_sentence, last_sentence, first_chunk, last_chunk = index.document_ranges[doc_id]
    sentences = index.sentences.rows[first_sentence:last_sentence, 1:]
    chunks = index.chunks.rows[first_chunk:last_chunk, 1:] - [0, 0, first_sentence, first_sentence]
    return PreparedDocument(
        document=index.documents[doc_id],
        sentences=[tuple(row) for row in sentences.tolist()],
        chunks=[tuple(row) for row in chunks.tolist()],
        sentence_vectors=np.array(index.sentence_vectors[first_sentence:last_sentence]),
        chunk_vectors=index.chunk_vectors[first_chunk:last_chunk],
    )


def _embed(documents: list[PreparedDocument], embedder: Embedder, progress: bool) -> None:
    """One pass of the model over the passages; sentence vectors are pooled from it.

    A sentence takes its vector from the first passage that holds it (late pooling, see
    ``Embedder.embed_with_spans``); only a sentence no passage shows to the model whole
    (past the model's length limit) is embedded on its own.
    """
    texts, spans, owners = [], [], []
    dimension = embedder.dimension
    for number, prepared in enumerate(documents):
        prepared.chunk_vectors = np.zeros((len(prepared.chunks), dimension), dtype=np.float32)
        prepared.sentence_vectors = np.zeros((len(prepared.sentences), dimension), dtype=np.float32)
        for chunk_number, (start, end, first, last) in enumerate(prepared.chunks):
            texts.append(prepared.document.text[start:end])
            spans.append([(s - start, e - start) for s, e in prepared.sentences[first:last]])
            owners.append((number, chunk_number, first))
    passage_vectors, sentence_vectors = embedder.embed_with_spans(texts, spans, show_progress=progress) if texts else ([], [])
    pooled: set[tuple[int, int]] = set()
    for (number, chunk_number, first), passage_vector, vectors in zip(owners, passage_vectors, sentence_vectors):
        prepared = documents[number]
        prepared.chunk_vectors[chunk_number] = passage_vector
        for offset, vector in enumerate(vectors):
            if vector is not None and (number, first + offset) not in pooled:
                prepared.sentence_vectors[first + offset] = vector
                pooled.add((number, first + offset))
    alone = [(number, k) for number, p in enumerate(documents) for k in range(len(p.sentences)) if (number, k) not in pooled]
    if alone:
        vectors = embedder.embed([documents[n].document.text[slice(*documents[n].sentences[k])] for n, k in alone])
        for (number, k), vector in zip(alone, vectors):
            documents[number].sentence_vectors[k] = vector


def _stack(blocks: list[np.ndarray | None]) -> np.ndarray:
    blocks = [b for b in blocks if b is not None and len(b)]
    return np.ascontiguousarray(np.vstack(blocks), dtype=np.float32) if blocks else np.zeros((0, 0), dtype=np.float32)
