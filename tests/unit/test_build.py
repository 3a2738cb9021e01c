"""Incremental builds: only new and changed documents are embedded, and the result equals a full build."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from fakes import HashEmbedder
from pdfs import bomb_pdf, lone_surrogate_pdf, make_pdf, unknown_filter_pdf
from spaceqa import ingest
from spaceqa.build import NOT_READ_AGAIN, build_index, index_problem
from spaceqa.chunk import ChunkParams
from spaceqa.index import current_version, load_index


class CountingEmbedder(HashEmbedder):
    """The fake embedder, counting the texts the build sends through the model."""

    def __init__(self) -> None:
        super().__init__()
        self.texts = 0
        self._inside = False

    def embed(self, texts, *, show_progress=False):
        if not self._inside:
            self.texts += len(texts)
        return super().embed(texts, show_progress=show_progress)

    def embed_with_spans(self, texts, spans, *, show_progress=False):
        self.texts += len(texts)  # one pass over the passages; the spans come with it
        self._inside = True
        try:
            return super().embed_with_spans(texts, spans, show_progress=show_progress)
        finally:
            self._inside = False


def same_index(a, b) -> None:
    """Two loaded indexes hold the same documents, sentences, passages and vectors."""
    assert list(a.documents) == list(b.documents)
    assert [(d.title, d.text, d.sha256, d.pages) for d in a.documents.values()] == [(d.title, d.text, d.sha256, d.pages) for d in b.documents.values()]
    assert a.sentences == b.sentences and a.chunks == b.chunks
    assert np.array_equal(a.sentence_vectors, b.sentence_vectors) and np.array_equal(a.chunk_vectors, b.chunk_vectors)


def test_an_incremental_build_equals_a_full_build(tmp_path, tiny_corpus):
    embedder = CountingEmbedder()
    build_index(tiny_corpus, tmp_path / "index", embedder, ChunkParams())
    (tiny_corpus / "mir.txt").write_text("Mir Space Station\n\nMir was replaced by the ISS, whose first crew arrived in 2000.")
    (tiny_corpus / "notes" / "gardening.txt").unlink()
    (tiny_corpus / "a-first.txt").write_text("Vostok\n\nVostok 1 carried Yuri Gagarin into orbit on 12 April 1961.")
    (tiny_corpus / "z-last.pdf").write_bytes(make_pdf(["Skylab fell to Earth in July 1979."]))

    embedder.texts = 0
    report = build_index(tiny_corpus, tmp_path / "index", embedder, ChunkParams())
    assert (report.indexed, report.unchanged, report.removed) == (3, 1, 1)

    full = build_index(tiny_corpus, tmp_path / "full", HashEmbedder(), ChunkParams(), full=True)
    assert full.indexed == 4 and full.unchanged == 0
    same_index(load_index(tmp_path / "index"), load_index(tmp_path / "full"))


def test_only_new_and_changed_documents_are_embedded(tmp_path, tiny_corpus):
    embedder = CountingEmbedder()
    first = build_index(tiny_corpus, tmp_path / "index", embedder, ChunkParams())
    everything = embedder.texts
    assert everything == first.chunks  # sentences are pooled from the passages, not embedded again

    embedder.texts = 0
    again = build_index(tiny_corpus, tmp_path / "index", embedder, ChunkParams())
    assert embedder.texts == 0 and again.indexed == 0 and again.unchanged == 3 and again.embedded_chunks == 0
    # Nothing changed: no new version, so running servers have nothing to reload.
    assert again.published is False and again.version == first.version and "up to date" in again.summary()
    assert load_index(tmp_path / "index").version == first.version

    (tiny_corpus / "apollo.txt").write_text("The Apollo Program\n\nApollo 11 landed on the Moon in July 1969.")
    changed = build_index(tiny_corpus, tmp_path / "index", embedder, ChunkParams())
    assert changed.indexed == 1 and 0 < embedder.texts < everything

    embedder.texts = 0
    forced = build_index(tiny_corpus, tmp_path / "index", embedder, ChunkParams(), full=True)
    assert forced.indexed == 3 and embedder.texts == forced.chunks


def test_other_chunking_means_nothing_is_reused(tmp_path, tiny_corpus):
    embedder = CountingEmbedder()
    build_index(tiny_corpus, tmp_path / "index", embedder, ChunkParams())
    report = build_index(tiny_corpus, tmp_path / "index", embedder, ChunkParams(target_words=50, max_words=80, overlap_words=10))
    assert report.indexed == 3 and report.unchanged == 0


def test_unreadable_and_unsupported_files_are_reported_and_the_rest_indexed(tmp_path, tiny_corpus):
    (tiny_corpus / "broken.pdf").write_bytes(b"%PDF-1.4 nothing else")
    (tiny_corpus / "slides.key").write_bytes(b"\x00\x01")
    report = build_index(tiny_corpus, tmp_path / "index", HashEmbedder(), ChunkParams())
    assert report.documents == 3
    assert [path for path, _ in report.failed] == ["broken.pdf"] and [path for path, _ in report.skipped] == ["slides.key"]
    summary = report.summary()
    for words in ["indexed 3", "unchanged 0", "skipped 1", "failed 1", "3 documents", "chunks/s"]:
        assert words in summary


def test_a_document_that_turns_unreadable_is_dropped(tmp_path, tiny_corpus):
    build_index(tiny_corpus, tmp_path / "index", HashEmbedder(), ChunkParams())
    (tiny_corpus / "mir.txt").write_bytes(b"\xff\xfe broken now")
    report = build_index(tiny_corpus, tmp_path / "index", HashEmbedder(), ChunkParams())
    assert "mir.txt" not in load_index(tmp_path / "index").documents
    assert [path for path, _ in report.failed] == ["mir.txt"] and report.unchanged == 2


def test_pages_survive_reuse(tmp_path, tiny_corpus):
    (tiny_corpus / "skylab.pdf").write_bytes(make_pdf(["Skylab launched in 1973.", "It fell in 1979."]))
    build_index(tiny_corpus, tmp_path / "index", HashEmbedder(), ChunkParams())
    (tiny_corpus / "mir.txt").write_text("Mir\n\nMir changed, so this build reuses the PDF.")
    build_index(tiny_corpus, tmp_path / "index", HashEmbedder(), ChunkParams())
    pages = load_index(tmp_path / "index").documents["skylab.pdf"].pages
    assert [number for number, _ in pages] == [1, 2]


@pytest.mark.parametrize("full", [False, True])
def test_an_empty_corpus_keeps_the_old_index(tmp_path, tiny_corpus, full):
    from spaceqa.errors import EmptyCorpusError

    first = build_index(tiny_corpus, tmp_path / "index", HashEmbedder(), ChunkParams())
    for path in list(tiny_corpus.rglob("*.txt")):
        path.unlink()
    with pytest.raises(EmptyCorpusError):
        build_index(tiny_corpus, tmp_path / "index", HashEmbedder(), ChunkParams(), full=full)
    assert load_index(tmp_path / "index").version == first.version


def test_a_poisoned_corpus_is_indexed_without_its_poison(tmp_path, tiny_corpus):
    (tiny_corpus / "filter.pdf").write_bytes(unknown_filter_pdf())
    (tiny_corpus / "bomb.pdf").write_bytes(bomb_pdf())
    (tiny_corpus / "deep.html").write_text("<div>" * 20_000 + "<p>Twenty thousand divs hold this one sentence.</p>" + "</div>" * 20_000)
    report = build_index(tiny_corpus, tmp_path / "index", HashEmbedder(), ChunkParams())
    failed = dict(report.failed)
    assert list(failed) == ["bomb.pdf", "filter.pdf"]
    assert "LimitReachedError" in failed["bomb.pdf"] and "/NoSuchDecode" in failed["filter.pdf"]
    assert set(load_index(tmp_path / "index").documents) == {"apollo.txt", "deep.html", "mir.txt", "notes/gardening.txt"}


def test_a_pdf_that_maps_a_letter_to_half_a_surrogate_pair_is_indexed_with_a_replacement(tmp_path, tiny_corpus):
    (tiny_corpus / "half.pdf").write_bytes(lone_surrogate_pdf("The crew of Soyuz X docked."))
    report = build_index(tiny_corpus, tmp_path / "index", HashEmbedder(), ChunkParams())
    assert report.failed == []
    text = load_index(tmp_path / "index").documents["half.pdf"].text
    assert text == "The crew of Soyuz \ufffd docked." and text.encode("utf-8")  # what a tokenizer and JSON need


def test_a_file_that_cannot_be_opened_fails_alone_and_once(tmp_path, tiny_corpus, monkeypatch):
    locked = tiny_corpus / "locked.txt"
    locked.write_text("Locked\n\nNobody may read this file.")

    def refuse(original):
        def read(path, *args):
            if Path(path).name == "locked.txt":
                raise PermissionError(13, "Permission denied", str(path))
            return original(path, *args)

        return read

    monkeypatch.setattr(ingest, "file_sha256", refuse(ingest.file_sha256))
    monkeypatch.setattr(Path, "read_bytes", refuse(Path.read_bytes))
    index_dir, embedder, params = tmp_path / "index", HashEmbedder(), ChunkParams()
    report = build_index(tiny_corpus, index_dir, embedder, params)
    assert [doc_id for doc_id, _ in report.failed] == ["locked.txt"] and "Permission denied" in report.failed[0][1]
    assert set(load_index(index_dir).documents) == {"apollo.txt", "mir.txt", "notes/gardening.txt"}
    assert index_problem(tiny_corpus, index_dir, embedder, params) is None  # not stale at every ask
    assert build_index(tiny_corpus, index_dir, embedder, params).published is False


def test_a_failed_file_is_not_read_again_until_it_changes(tmp_path, tiny_corpus, monkeypatch):
    index_dir, embedder, params = tmp_path / "index", HashEmbedder(), ChunkParams()
    (tiny_corpus / "broken.txt").write_bytes(b"\xff\xfe not UTF-8")
    first = build_index(tiny_corpus, index_dir, embedder, params)
    assert [path for path, _ in first.failed] == ["broken.txt"]
    # The index fits the corpus: `spaceqa ask` and `serve` have nothing to rebuild.
    assert index_problem(tiny_corpus, index_dir, embedder, params) is None

    read = []
    real_read = ingest.read_document
    monkeypatch.setattr(ingest, "read_document", lambda path, corpus: read.append(path.name) or real_read(path, corpus))
    again = build_index(tiny_corpus, index_dir, embedder, params)
    assert read == [] and again.published is False  # still reported, not read, and said so
    assert again.failed == [(doc_id, reason + NOT_READ_AGAIN) for doc_id, reason in first.failed]

    (tiny_corpus / "broken.txt").write_text("Mended\n\nThe file was mended and reads as text now.")
    assert "1 changed" in index_problem(tiny_corpus, index_dir, embedder, params)
    mended = build_index(tiny_corpus, index_dir, embedder, params)
    assert read == ["broken.txt"] and mended.failed == [] and "broken.txt" in load_index(index_dir).documents

    (tiny_corpus / "later.txt").write_bytes(b"\xff broken too")
    build_index(tiny_corpus, index_dir, embedder, params)
    (tiny_corpus / "later.txt").unlink()  # a failed file that goes away: its record goes too
    gone = build_index(tiny_corpus, index_dir, embedder, params)
    assert gone.published is True and gone.failed == [] and index_problem(tiny_corpus, index_dir, embedder, params) is None


def test_a_killed_build_leaves_nothing_behind_after_the_next_build(tmp_path, tiny_corpus):
    index_dir = tmp_path / "index"
    first = build_index(tiny_corpus, index_dir, HashEmbedder(), ChunkParams())
    # What a build killed at each step leaves: a staging folder, a half-written CURRENT, and a
    # complete version renamed into place but never named in CURRENT.
    (index_dir / ".build-20990101T000000000000Z-killed").mkdir()
    (index_dir / ".build-20990101T000000000000Z-killed" / "documents.jsonl").write_text("{}")
    (index_dir / ".CURRENT.deadbeef").write_text("20990101T000000000000Z-never\n")
    shutil.copytree(index_dir / first.version, index_dir / "20990101T000000000000Z-never")
    again = build_index(tiny_corpus, index_dir, HashEmbedder(), ChunkParams())
    assert again.published is False and current_version(index_dir) == first.version
    assert sorted(p.name for p in index_dir.iterdir()) == sorted([".lock", "CURRENT", first.version])
