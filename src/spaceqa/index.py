"""Index: persist and load passages, sentences, their vectors and the lexical indexes.

Layout of an index folder::

    index/
      CURRENT              name of the live version (replaced atomically)
      <version>/           one complete build
        manifest.json      model, dimension, chunking, corpus hashes (and files that failed), counts, created-at, format
        documents.jsonl    the cleaned documents: every offset points into their text
        spans.npz          sentence and passage offsets
        passages.faiss     passage vectors, searched exactly or by HNSW (see ``search_plan``); row i is passage i
        sentences.npy      sentence vectors (pooled from their passage); row i is sentence i; large indexes read rows from disk
        bm25-passages/     bm25s lexical index over passages
        bm25-sentences/    bm25s lexical index over sentences

Vectors are L2-normalised and searched by inner product, so scores are cosines.
Sentences and passages are held as integer arrays (``SentenceTable``, ``ChunkTable``), not
one Python object each: a million passages are some five million sentences.
A build is written to a hidden temporary folder, renamed into place, and only then
named in CURRENT: a crash at any point leaves the previous version serving.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import json
import operator
import os
import shutil
import uuid
import weakref
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator, Sequence

import bm25s
import faiss
import numpy as np

from .errors import IndexMismatchError, IndexMissingError
from .records import Chunk, Document, Sentence
from .text import terms

# What an index holds, and how the documents in it were read: a change to either is a new
# version, and an index of another version is rebuilt rather than served.  3: sentence
# vectors pooled from their passage; 4: no part-of-speech tags (the reader needs none);
# 5: titles from a heading or the file name, heading lines sentences of their own (ingest.py,
# chunk.py: a change to what a document's text, title or sentences become bumps it too).
FORMAT_VERSION = 5
CURRENT_FILE = "CURRENT"
LOCK_FILE = ".lock"
KEEP_OLD_VERSIONS = 1  # the previous build stays for requests still reading it

# Below this many passages every question searches all vectors exactly: it costs a few
# milliseconds and loses nothing.  From it on, passages are searched with an HNSW graph and
# sentences only inside the passages the graph finds (bench/scale.py measures both).
APPROXIMATE_FROM_PASSAGES = 50_000
HNSW_NEIGHBOURS = 32  # links per vector: recall against memory (4 bytes a link)
HNSW_EF_CONSTRUCTION = 80
# Candidates kept while searching: recall against time.  At 100,000 passages (bench/scale.py)
# recall@10 against exact search was 0.90 at 128, 0.94 at 256, 0.98 at 512 (about 5 ms more);
# at 1,000,000 it fell to 0.94 at 512, and was 0.96 at 1024 (8 ms a question), 0.98 at 2048.
# A search-time setting: the graph does not depend on it.
HNSW_EF_SEARCH = 1024
SENTENCE_SEARCH_PASSAGES = 64  # passages whose sentences are scored by vector, when not all are


def search_plan(passages: int) -> dict:
    """How an index of this many passages is searched; recorded in its manifest."""
    if passages < APPROXIMATE_FROM_PASSAGES:
        return {"passages": {"type": "flat"}, "sentences": {"type": "exact"}}
    return {
        "passages": {"type": "hnsw", "neighbours": HNSW_NEIGHBOURS, "ef_construction": HNSW_EF_CONSTRUCTION, "ef_search": HNSW_EF_SEARCH},
        "sentences": {"type": "within passages", "passages": SENTENCE_SEARCH_PASSAGES},
    }


@dataclass(frozen=True)
class Manifest:
    """What an index was built from; compared with the corpus and settings before use."""

    format_version: int
    version: str
    model: str
    dimension: int
    chunking: dict
    documents: dict[str, str]  # doc_id -> sha256 of the source file
    counts: dict[str, int]
    created_at: str
    similarity: str = "cosine: inner product over L2-normalised vectors"
    # doc_id -> {"sha256", "reason"}: corpus files that could not be read.  Recorded so that an
    # unchanged bad file neither makes the index look stale nor is read again by every build;
    # it is retried when its hash changes.  (Absent from manifests written before: none failed.)
    failed: dict[str, dict[str, str]] = field(default_factory=dict)
    # How vectors are searched (``search_plan``); manifests written before it searched exactly.
    search: dict = field(default_factory=lambda: search_plan(0))

    def to_dict(self) -> dict:
        return dict(self.__dict__)

    def file_hashes(self) -> dict[str, str]:
        """``{doc_id: sha256}`` of every corpus file the build saw: the indexed ones and those that failed."""
        return {**{doc_id: failure["sha256"] for doc_id, failure in self.failed.items()}, **self.documents}

    @classmethod
    def from_dict(cls, data: dict) -> "Manifest":
        return cls(**data)


def _row(key, length: int) -> int:
    """An integer key as a row number, counting from the end when negative, as a list does."""
    i = operator.index(key)
    if not -length <= i < length:
        raise IndexError(f"row {i} of {length}")
    return i % length


class SpanTable(Sequence):
    """One row of integers per sentence or passage; a record is made only when one is asked for."""

    columns: tuple[str, ...] = ()

    def __init__(self, doc_ids: Sequence[str], rows: np.ndarray) -> None:
        self.doc_ids = list(doc_ids)  # row[0] is a position in this list
        self.rows = np.asarray(rows, dtype=np.int64).reshape(-1, len(self.columns))

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, key):
        if isinstance(key, slice):
            return [self._record(i) for i in range(*key.indices(len(self)))]
        return self._record(_row(key, len(self)))

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and self.doc_ids == other.doc_ids and np.array_equal(self.rows, other.rows)

    __hash__ = None  # mutable arrays inside

    def column(self, name: str) -> np.ndarray:
        return self.rows[:, self.columns.index(name)]

    def _record(self, i: int):
        raise NotImplementedError


class SentenceTable(SpanTable):
    columns = ("document", "start", "end")

    def _record(self, i: int) -> Sentence:
        document, start, end = self.rows[i].tolist()
        return Sentence(i, self.doc_ids[document], start, end)


class ChunkTable(SpanTable):
    columns = ("document", "start", "end", "first_sentence", "last_sentence")

    def _record(self, i: int) -> Chunk:
        document, start, end, first, last = self.rows[i].tolist()
        return Chunk(i, self.doc_ids[document], start, end, first, last)


@dataclass(frozen=True)
class IndexContent:
    """Everything a build produces, before it is written."""

    documents: list[Document]
    sentences: SentenceTable  # doc_ids: those of ``documents``, in order
    chunks: ChunkTable
    sentence_vectors: np.ndarray
    chunk_vectors: np.ndarray


class LoadedIndex:
    """A read-only index in memory; shared by all request threads."""

    def __init__(
        self, path: Path, manifest: Manifest, documents: list[Document], sentences: SentenceTable, chunks: ChunkTable,
        *, sentence_vectors: np.ndarray, faiss_passages, bm25_passages, bm25_sentences,
    ) -> None:
        self.path = path
        self.manifest = manifest
        self.documents = {doc.doc_id: doc for doc in documents}
        self.sentences = sentences
        self.chunks = chunks
        self.sentence_vectors = sentence_vectors  # an array, or VectorRows (read from disk) for large indexes
        self.bm25_passages = bm25_passages
        self.bm25_sentences = bm25_sentences
        self.faiss_passages = faiss_passages
        self._sentence_chunk = _first_chunk_of_each_sentence(chunks, len(sentences))
        # doc_id -> (first sentence, last sentence, first chunk, last chunk), ends exclusive: a
        # build keeps each document's sentences and chunks together, in document order.
        self.document_ranges = _document_ranges(documents, sentences, chunks)

    @functools.cached_property
    def chunk_vectors(self) -> np.ndarray:
        """Every passage vector, read back from the FAISS index (builds reuse them; a question never needs them)."""
        return self.faiss_passages.reconstruct_n(0, self.faiss_passages.ntotal)

    @property
    def version(self) -> str:
        return self.manifest.version

    def sentence_text(self, sentence_id: int) -> str:
        sentence = self.sentences[sentence_id]
        return self.documents[sentence.doc_id].text[sentence.start : sentence.end]

    def chunk_text(self, chunk_id: int) -> str:
        chunk = self.chunks[chunk_id]
        return self.documents[chunk.doc_id].text[chunk.start : chunk.end]

    def chunk_of_sentence(self, sentence_id: int) -> int:
        """The first passage that holds the sentence (passages overlap)."""
        return int(self._sentence_chunk[sentence_id])



# --- writing ---------------------------------------------------------------------------


def write_index(index_dir: Path, content: IndexContent, *, model: str, chunking: dict, failed: dict[str, dict[str, str]] | None = None) -> Manifest:
    """Write a complete build and make it the live version, atomically; ``failed`` goes in the manifest as it is."""
    index_dir = Path(index_dir)
    index_dir.mkdir(parents=True, exist_ok=True)
    created = datetime.now(timezone.utc)
    version = created.strftime("%Y%m%dT%H%M%S%fZ") + "-" + uuid.uuid4().hex[:6]
    manifest = Manifest(
        format_version=FORMAT_VERSION,
        version=version,
        model=model,
        dimension=int(content.chunk_vectors.shape[1]),
        chunking=chunking,
        documents={doc.doc_id: doc.sha256 for doc in content.documents},
        counts={
            "documents": len(content.documents),
            "chunks": len(content.chunks),
            "sentences": len(content.sentences),
        },
        created_at=created.isoformat(timespec="seconds"),
        failed=dict(failed or {}),
        search=search_plan(len(content.chunks)),
    )
    staging = index_dir / f".build-{version}"
    try:
        staging.mkdir()
        _write_files(staging, content, manifest)
        staging.rename(index_dir / version)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    _replace_file(index_dir / CURRENT_FILE, version + "\n")
    _remove_old_versions(index_dir, keep=version)
    return manifest


def remove_unfinished_builds(index_dir: Path) -> None:
    """Remove what a killed build left: its staging folder, a half-written CURRENT, a version never made live.

    Call it holding ``build_lock``: then no other build is writing any of these.
    """
    index_dir = Path(index_dir)
    if not index_dir.is_dir():
        return
    live = current_version(index_dir)
    for path in index_dir.iterdir():
        # Versions are named by their UTC creation time, so one newer than the live version was
        # renamed into place by a build killed before it could name it in CURRENT.
        never_live = live is not None and path.name > live and (path / "manifest.json").is_file()
        if path.name.startswith(".build-") or never_live:
            shutil.rmtree(path, ignore_errors=True)
        elif path.name.startswith(f".{CURRENT_FILE}."):
            path.unlink(missing_ok=True)


@contextlib.contextmanager
def build_lock(index_dir: Path) -> Iterator[None]:
    """Hold an exclusive lock on the index folder: one build at a time, across processes."""
    index_dir = Path(index_dir)
    index_dir.mkdir(parents=True, exist_ok=True)
    with open(index_dir / LOCK_FILE, "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _write_files(folder: Path, content: IndexContent, manifest: Manifest) -> None:
    with open(folder / "documents.jsonl", "w", encoding="utf-8") as handle:
        for doc in content.documents:
            row = {"doc_id": doc.doc_id, "title": doc.title, "sha256": doc.sha256, "text": doc.text, "pages": [list(p) for p in doc.pages]}
            handle.write(json.dumps(row) + "\n")
    if content.sentences.doc_ids != [doc.doc_id for doc in content.documents]:
        raise ValueError("the sentence table must number the documents in the order they are listed")
    np.savez(folder / "spans.npz", sentences=content.sentences.rows, chunks=content.chunks.rows)
    faiss.write_index(_passage_search_index(content.chunk_vectors, manifest.search["passages"]), str(folder / "passages.faiss"))
    np.save(folder / "sentences.npy", np.ascontiguousarray(content.sentence_vectors, dtype=np.float32))
    texts = [doc.text for doc in content.documents]
    # A passage is whole sentences, so its terms are its sentences' terms: tokenise each sentence once.
    sentence_terms = [terms(texts[d][start:end]) for d, start, end in content.sentences.rows.tolist()]
    passage_terms = [[t for i in range(first, last) for t in sentence_terms[i]] for *_, first, last in content.chunks.rows.tolist()]
    _bm25_from(passage_terms).save(str(folder / "bm25-passages"), show_progress=False)
    _bm25_from(sentence_terms).save(str(folder / "bm25-sentences"), show_progress=False)
    # The manifest is written last: a folder without one is an unfinished build.
    (folder / "manifest.json").write_text(json.dumps(manifest.to_dict(), indent=2, sort_keys=True) + "\n")
    for path in folder.rglob("*"):
        if path.is_file():
            with open(path, "rb") as handle:
                os.fsync(handle.fileno())


def _passage_search_index(vectors: np.ndarray, plan: dict):
    """A FAISS index over the passage vectors, exact or HNSW as the plan says."""
    dimension = vectors.shape[1]
    if plan["type"] == "flat":
        index = faiss.IndexFlatIP(dimension)
    else:
        index = faiss.IndexHNSWFlat(dimension, plan["neighbours"], faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = plan["ef_construction"]
        index.hnsw.efSearch = plan["ef_search"]
    index.add(np.ascontiguousarray(vectors, dtype=np.float32))
    return index


def _bm25_from(term_lists: list[list[str]]) -> bm25s.BM25:
    model = bm25s.BM25()
    # An empty token list would make bm25s fail; such texts simply never match.
    model.index([row or [""] for row in term_lists], show_progress=False)
    return model


def _replace_file(path: Path, text: str) -> None:
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}")
    with open(temporary, "w") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)


def _remove_old_versions(index_dir: Path, keep: str) -> None:
    versions = sorted(p for p in index_dir.iterdir() if p.is_dir() and (p / "manifest.json").exists() and p.name != keep)
    for old in versions[: max(0, len(versions) - KEEP_OLD_VERSIONS)]:
        shutil.rmtree(old, ignore_errors=True)


# --- reading ---------------------------------------------------------------------------


def current_version(index_dir: Path) -> str | None:
    """The live version's name, or None when the folder holds no complete index."""
    try:
        version = (Path(index_dir) / CURRENT_FILE).read_text().strip()
    except FileNotFoundError:
        return None
    return version if version and (Path(index_dir) / version / "manifest.json").exists() else None


def read_manifest(index_dir: Path) -> Manifest:
    version = current_version(index_dir)
    if version is None:
        raise IndexMissingError(f"there is no index in {index_dir} yet")
    data = json.loads((Path(index_dir) / version / "manifest.json").read_text())
    if data.get("format_version") != FORMAT_VERSION:
        raise IndexMismatchError(
            f"the index in {index_dir} has format {data.get('format_version')}, this SpaceQA reads {FORMAT_VERSION}"
        )
    return Manifest.from_dict(data)


def staleness(manifest: Manifest, *, fingerprint: dict[str, str], model: str, chunking: dict) -> str | None:
    """Why an index no longer fits the corpus and settings, or None when it does."""
    if manifest.model != model:
        return f"it was built with model {manifest.model!r}, the service uses {model!r}"
    if manifest.chunking != chunking:
        return f"it was built with chunking {manifest.chunking}, the settings say {chunking}"
    # Failed files count as seen: only a change to one of them makes the index stale.
    seen = manifest.file_hashes()
    added = fingerprint.keys() - seen.keys()
    removed = seen.keys() - fingerprint.keys()
    changed = {d for d in fingerprint.keys() & seen.keys() if fingerprint[d] != seen[d]}
    if added or removed or changed:
        return f"the corpus changed: {len(added)} added, {len(changed)} changed, {len(removed)} removed"
    return None


def load_index(index_dir: Path) -> LoadedIndex:
    """Load the live version of the index in ``index_dir``."""
    manifest = read_manifest(index_dir)
    folder = Path(index_dir) / manifest.version
    documents = []
    with open(folder / "documents.jsonl", encoding="utf-8") as handle:
        for line in handle:
            row = json.loads(line)
            pages = tuple((int(number), int(start)) for number, start in row.get("pages", []))
            documents.append(Document(doc_id=row["doc_id"], title=row["title"], text=row["text"], sha256=row["sha256"], pages=pages))
    doc_ids = [doc.doc_id for doc in documents]
    with np.load(folder / "spans.npz") as spans:
        sentences, chunks = SentenceTable(doc_ids, spans["sentences"]), ChunkTable(doc_ids, spans["chunks"])
    return LoadedIndex(
        folder,
        manifest,
        documents,
        sentences,
        chunks,
        # All in memory when every question scores every sentence; else read row by row.
        sentence_vectors=np.load(folder / "sentences.npy") if manifest.search["sentences"]["type"] == "exact" else VectorRows(folder / "sentences.npy"),
        faiss_passages=_passage_search(folder, manifest),
        # Memory-mapped: a question reads only the postings of its own terms (retrieve._top_bm25).
        bm25_passages=bm25s.BM25.load(str(folder / "bm25-passages"), mmap=True, show_progress=False),
        bm25_sentences=bm25s.BM25.load(str(folder / "bm25-sentences"), mmap=True, show_progress=False),
    )


def load_passage_search(index_dir: Path):
    """The live version's FAISS passage index alone, set up as ``load_index`` sets it up (for measuring search)."""
    manifest = read_manifest(index_dir)
    return _passage_search(Path(index_dir) / manifest.version, manifest)


def _passage_search(folder: Path, manifest: Manifest):
    passages = faiss.read_index(str(folder / "passages.faiss"))
    if manifest.search["passages"]["type"] == "hnsw":
        passages.hnsw.efSearch = manifest.search["passages"]["ef_search"]
    return passages


class VectorRows:
    """The rows of a float32 ``.npy`` matrix, read from disk when asked for rather than held.

    A question of a large index reads a few hundred sentence vectors scattered over gigabytes.
    Memory-mapped, each read also mapped its neighbours into the process (read-ahead and
    fault-around): at 100,000 passages the server grew by 13 MB a question.  Positioned reads
    of just the rows asked for leave the kernel's page cache to do the caching, outside the
    process.  Rows of one passage lie together, so they are read in runs.
    """

    def __init__(self, path: Path) -> None:
        with open(path, "rb") as handle:
            major, _ = np.lib.format.read_magic(handle)
            read_header = np.lib.format.read_array_header_1_0 if major == 1 else np.lib.format.read_array_header_2_0
            self.shape, fortran_order, self.dtype = read_header(handle)
            self._data_offset = handle.tell()
        if fortran_order or len(self.shape) != 2:
            raise ValueError(f"{path} is not a row-major matrix")
        self._row_bytes = self.shape[1] * self.dtype.itemsize
        self._fd = os.open(path, os.O_RDONLY)
        weakref.finalize(self, os.close, self._fd)

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, key) -> np.ndarray:
        if isinstance(key, slice):
            start, stop, step = key.indices(len(self))
            rows = self._run(start, max(start, stop))
            return rows[::step] if step != 1 else rows
        if np.ndim(key) == 0:
            row = _row(key, len(self))
            return self._run(row, row + 1)[0]
        ids = np.asarray(key, dtype=np.int64)
        out = np.empty((len(ids), self.shape[1]), dtype=self.dtype)
        if len(ids) == 0:
            return out
        order = np.argsort(ids, kind="stable")
        ordered = ids[order]
        breaks = np.flatnonzero(np.diff(ordered) != 1) + 1  # runs of consecutive rows
        for run in np.split(np.arange(len(ids)), breaks):
            first, last = int(ordered[run[0]]), int(ordered[run[-1]]) + 1
            out[order[run]] = self._run(first, last)
        return out

    def _run(self, first: int, last: int) -> np.ndarray:
        if not 0 <= first <= last <= len(self):
            raise IndexError(f"rows {first}:{last} of {len(self)}")
        data = os.pread(self._fd, (last - first) * self._row_bytes, self._data_offset + first * self._row_bytes)
        return np.frombuffer(data, dtype=self.dtype).reshape(last - first, self.shape[1])


def _document_ranges(documents: list[Document], sentences: SentenceTable, chunks: ChunkTable) -> dict[str, tuple[int, int, int, int]]:
    # Rows are grouped by document, in the documents' order: each document's rows are one run.
    numbers = np.arange(len(documents))
    sentence_docs, chunk_docs = sentences.column("document"), chunks.column("document")
    bounds = np.stack([
        np.searchsorted(sentence_docs, numbers, "left"), np.searchsorted(sentence_docs, numbers, "right"),
        np.searchsorted(chunk_docs, numbers, "left"), np.searchsorted(chunk_docs, numbers, "right"),
    ], axis=1).tolist()
    return {doc.doc_id: tuple(row) for doc, row in zip(documents, bounds)}


def _first_chunk_of_each_sentence(chunks: ChunkTable, sentence_count: int) -> np.ndarray:
    """Row s: the lowest-numbered passage holding sentence s (passages overlap), or -1."""
    first, last = chunks.column("first_sentence"), chunks.column("last_sentence")
    lengths = np.maximum(last - first, 0)
    chunk_ids = np.repeat(np.arange(len(chunks)), lengths)
    sentence_ids = np.repeat(first - np.cumsum(lengths) + lengths, lengths) + np.arange(int(lengths.sum()))
    owner = np.full(sentence_count, np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(owner, sentence_ids, chunk_ids)
    owner[owner == np.iinfo(np.int64).max] = -1
    return owner
