"""Index: persist and load passages, sentences, their vectors and the lexical indexes.

Layout of an index folder::

    index/
      CURRENT              name of the live version (replaced atomically)
      <version>/           one complete build
        manifest.json      model, dimension, chunking, corpus hashes (and files that failed), counts, created-at, format
        documents.jsonl    the cleaned documents: every offset points into their text
        spans.npz          sentence and passage offsets
        passages.faiss     passage vectors; row i is passage i
        sentences.npy      sentence vectors (pooled from their passage); row i is sentence i
        bm25-passages/     bm25s lexical index over passages
        bm25-sentences/    bm25s lexical index over sentences

Vectors are L2-normalised and searched by inner product, so scores are cosines.
A build is written to a hidden temporary folder, renamed into place, and only then
named in CURRENT: a crash at any point leaves the previous version serving.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

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

    def to_dict(self) -> dict:
        return dict(self.__dict__)

    def file_hashes(self) -> dict[str, str]:
        """``{doc_id: sha256}`` of every corpus file the build saw: the indexed ones and those that failed."""
        return {**{doc_id: failure["sha256"] for doc_id, failure in self.failed.items()}, **self.documents}

    @classmethod
    def from_dict(cls, data: dict) -> "Manifest":
        return cls(**data)


@dataclass(frozen=True)
class IndexContent:
    """Everything a build produces, before it is written."""

    documents: list[Document]
    sentences: list[Sentence]
    chunks: list[Chunk]
    sentence_vectors: np.ndarray
    chunk_vectors: np.ndarray


class LoadedIndex:
    """A read-only index in memory; shared by all request threads."""

    def __init__(self, path: Path, manifest: Manifest, content: IndexContent, *, faiss_passages, bm25_passages, bm25_sentences):
        self.path = path
        self.manifest = manifest
        self.documents = {doc.doc_id: doc for doc in content.documents}
        self.sentences = content.sentences
        self.chunks = content.chunks
        self.sentence_vectors = content.sentence_vectors
        self.chunk_vectors = content.chunk_vectors
        self.bm25_passages = bm25_passages
        self.bm25_sentences = bm25_sentences
        self.faiss_passages = faiss_passages
        self._sentence_chunk = _first_chunk_of_each_sentence(content.chunks, len(content.sentences))
        # doc_id -> (first sentence, last sentence, first chunk, last chunk), ends exclusive: a
        # build keeps each document's sentences and chunks together, in document order.
        self.document_ranges = _document_ranges(content)

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
        return self._sentence_chunk[sentence_id]



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
    doc_index = {doc.doc_id: i for i, doc in enumerate(content.documents)}
    np.savez(
        folder / "spans.npz",
        sentences=np.array([(doc_index[s.doc_id], s.start, s.end) for s in content.sentences], dtype=np.int64).reshape(-1, 3),
        chunks=np.array(
            [(doc_index[c.doc_id], c.start, c.end, c.first_sentence, c.last_sentence) for c in content.chunks], dtype=np.int64
        ).reshape(-1, 5),
    )
    passages = faiss.IndexFlatIP(manifest.dimension)
    passages.add(content.chunk_vectors)
    faiss.write_index(passages, str(folder / "passages.faiss"))
    np.save(folder / "sentences.npy", content.sentence_vectors)
    texts = {d.doc_id: d.text for d in content.documents}
    # A passage is whole sentences, so its terms are its sentences' terms: tokenise each sentence once.
    sentence_terms = [terms(texts[s.doc_id][s.start : s.end]) for s in content.sentences]
    passage_terms = [[t for i in range(c.first_sentence, c.last_sentence) for t in sentence_terms[i]] for c in content.chunks]
    _bm25_from(passage_terms).save(str(folder / "bm25-passages"), show_progress=False)
    _bm25_from(sentence_terms).save(str(folder / "bm25-sentences"), show_progress=False)
    # The manifest is written last: a folder without one is an unfinished build.
    (folder / "manifest.json").write_text(json.dumps(manifest.to_dict(), indent=2, sort_keys=True) + "\n")
    for path in folder.rglob("*"):
        if path.is_file():
            with open(path, "rb") as handle:
                os.fsync(handle.fileno())


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
        sentences = [Sentence(i, doc_ids[d], int(s), int(e)) for i, (d, s, e) in enumerate(spans["sentences"].tolist())]
        chunks = [Chunk(i, doc_ids[d], int(s), int(e), int(f), int(l)) for i, (d, s, e, f, l) in enumerate(spans["chunks"].tolist())]
    passages = faiss.read_index(str(folder / "passages.faiss"))
    content = IndexContent(
        documents=documents,
        sentences=sentences,
        chunks=chunks,
        sentence_vectors=np.load(folder / "sentences.npy"),
        chunk_vectors=passages.reconstruct_n(0, passages.ntotal),
    )
    return LoadedIndex(
        folder,
        manifest,
        content,
        faiss_passages=passages,
        bm25_passages=bm25s.BM25.load(str(folder / "bm25-passages"), show_progress=False),
        bm25_sentences=bm25s.BM25.load(str(folder / "bm25-sentences"), show_progress=False),
    )


def _document_ranges(content: IndexContent) -> dict[str, tuple[int, int, int, int]]:
    ranges: dict[str, list[int]] = {doc.doc_id: [len(content.sentences), 0, len(content.chunks), 0] for doc in content.documents}
    for sentence in content.sentences:
        r = ranges[sentence.doc_id]
        r[0], r[1] = min(r[0], sentence.sentence_id), max(r[1], sentence.sentence_id + 1)
    for chunk in content.chunks:
        r = ranges[chunk.doc_id]
        r[2], r[3] = min(r[2], chunk.chunk_id), max(r[3], chunk.chunk_id + 1)
    return {doc_id: (r[0], max(r[0], r[1]), r[2], max(r[2], r[3])) for doc_id, r in ranges.items()}


def _first_chunk_of_each_sentence(chunks: list[Chunk], sentence_count: int) -> list[int]:
    owner = [-1] * sentence_count
    for chunk in chunks:
        for sentence_id in range(chunk.first_sentence, chunk.last_sentence):
            if owner[sentence_id] < 0:
                owner[sentence_id] = chunk.chunk_id
    return owner
