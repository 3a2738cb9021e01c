"""Uploading, deleting and reindexing over HTTP, behind the admin token (fake embedder)."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest

from conftest import hang_detector, make_app
from fakes import HashEmbedder, fake_reader
from pdfs import bomb_pdf, make_pdf, unknown_filter_pdf

TOKEN = "s3cret-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
COMET = "Comet Notes\n\nThe comet Ikeya-Seki was discovered by Kaoru Ikeya in September 1965."


@pytest.fixture
def admin_app(tmp_path, tiny_corpus):
    settings = {"corpus_dir": tiny_corpus, "index_dir": tmp_path / "index", "admin_token": TOKEN, "max_upload_bytes": 4096, "reload_interval": 0}
    return make_app(settings, HashEmbedder(), fake_reader())


@pytest.fixture
def client(admin_app):
    return admin_app.test_client()


@pytest.fixture
def roomy_client(tmp_path, tiny_corpus):
    """An admin client whose upload limit lets a decompression bomb (about a megabyte) through."""
    settings = {"corpus_dir": tiny_corpus, "index_dir": tmp_path / "index", "admin_token": TOKEN, "max_upload_bytes": 4 << 20, "reload_interval": 0}
    return make_app(settings, HashEmbedder(), fake_reader()).test_client()


def corpus_files(corpus: Path) -> set[str]:
    return {p.relative_to(corpus).as_posix() for p in corpus.rglob("*") if p.is_file()}


def upload(client, name, content, headers=AUTH, **query):
    data = {"file": (io.BytesIO(content if isinstance(content, bytes) else content.encode()), name)}
    return client.post("/documents", data=data, headers=headers, query_string=query, content_type="multipart/form-data")


def test_everything_is_refused_when_no_token_is_configured(tmp_path, tiny_corpus):
    from spaceqa import create_app

    client = create_app({"corpus_dir": tiny_corpus, "index_dir": tmp_path / "index", "reload_interval": 0}, embedder=HashEmbedder(), reader=fake_reader()).test_client()
    for response in [upload(client, "x.txt", COMET), client.delete("/documents/mir.txt", headers=AUTH), client.post("/admin/reindex", headers=AUTH)]:
        assert response.status_code == 403 and response.get_json()["error"]["code"] == "admin_disabled"
    assert "x.txt" not in corpus_files(tiny_corpus) and "mir.txt" in corpus_files(tiny_corpus)


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}, {"Authorization": f"Basic {TOKEN}"}])
def test_a_missing_or_wrong_token_is_401(client, tiny_corpus, headers):
    before = corpus_files(tiny_corpus)
    for response in [upload(client, "comet.txt", COMET, headers=headers), client.delete("/documents/mir.txt", headers=headers), client.post("/admin/reindex", headers=headers)]:
        assert response.status_code == 401 and response.get_json()["error"]["code"] == "unauthorized"
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert corpus_files(tiny_corpus) == before


def test_an_uploaded_document_is_indexed_answered_and_cited(client, tiny_corpus):
    response = upload(client, "comet.txt", COMET)
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["doc_id"] == "comet.txt" and body["title"] == "Comet Notes" and body["index"]["indexed"] == 1
    assert (tiny_corpus / "comet.txt").read_text() == COMET
    answer = client.post("/ask", json={"question": "Who discovered the comet Ikeya-Seki?"}).get_json()["answers"][0]
    assert answer["doc_id"] == "comet.txt"
    assert client.get("/healthz").get_json()["index_version"] == body["index"]["version"]


def test_a_raw_body_upload_names_the_file_in_the_query(client, tiny_corpus):
    response = client.post("/documents", data=make_pdf(["Skylab fell to Earth in July 1979."]), headers=AUTH,
                           query_string={"filename": "skylab.pdf"}, content_type="application/pdf")
    assert response.status_code == 201, response.get_json()
    answers = client.post("/ask", json={"question": "When did Skylab fall to Earth?", "top_k": 10}).get_json()["answers"]
    assert any(a["doc_id"] == "skylab.pdf" and a["page"] == 1 for a in answers)


def test_an_existing_name_is_replaced_only_when_asked(client, tiny_corpus):
    response = upload(client, "mir.txt", COMET)
    assert response.status_code == 409 and response.get_json()["error"]["code"] == "document_exists"
    assert "Polyakov" in (tiny_corpus / "mir.txt").read_text()
    response = upload(client, "mir.txt", COMET, overwrite="true")
    assert response.status_code == 201 and response.get_json()["replaced"] is True
    assert (tiny_corpus / "mir.txt").read_text() == COMET


@pytest.mark.parametrize(
    "name, status, code",
    [
        ("../escape.txt", 400, "invalid_filename"),
        ("sub/dir.txt", 400, "invalid_filename"),
        (".hidden.txt", 400, "invalid_filename"),
        ("", 400, "invalid_filename"),
        ("evil\x00.txt", 400, "invalid_filename"),
        ("program.exe", 415, "unsupported_type"),
        ("noextension", 415, "unsupported_type"),
    ],
)
def test_unsafe_or_unsupported_names_are_refused_and_nothing_is_written(client, tiny_corpus, tmp_path, name, status, code):
    before = corpus_files(tiny_corpus)
    response = client.post("/documents", data=COMET.encode(), headers=AUTH, query_string={"filename": name}, content_type="text/plain")
    assert response.status_code == status and response.get_json()["error"]["code"] == code
    assert corpus_files(tiny_corpus) == before
    assert not (tmp_path / "escape.txt").exists()


@pytest.mark.parametrize(
    "name, content, status, code",
    [
        ("big.txt", "A sentence that repeats. " * 400, 413, "request_entity_too_large"),
        ("latin1.txt", "café".encode("latin-1"), 422, "unreadable_document"),
        ("broken.pdf", b"%PDF-1.4 not really", 422, "unreadable_document"),
        ("empty.txt", b"", 400, "empty_document"),
    ],
)
def test_a_rejected_upload_leaves_no_partial_file(client, tiny_corpus, name, content, status, code):
    before = corpus_files(tiny_corpus)
    response = client.post("/documents", data=content if isinstance(content, bytes) else content.encode(), headers=AUTH,
                           query_string={"filename": name}, content_type="application/octet-stream")
    assert response.status_code == status and response.get_json()["error"]["code"] == code
    assert corpus_files(tiny_corpus) == before  # no staged or partial file left behind, hidden or not


def test_a_multipart_upload_without_a_file_field(client):
    response = client.post("/documents", data={"other": "x"}, headers=AUTH, content_type="multipart/form-data")
    assert response.status_code == 400 and response.get_json()["error"]["code"] == "missing_file"


def test_a_body_without_a_file_name_is_a_missing_file(client, tiny_corpus):
    before = corpus_files(tiny_corpus)
    response = client.post("/documents", data=COMET.encode(), headers=AUTH, content_type="text/plain")
    assert response.status_code == 400 and response.get_json()["error"]["code"] == "missing_file"
    assert "?filename=" in response.get_json()["error"]["message"] and corpus_files(tiny_corpus) == before


def test_a_hidden_name_is_refused_with_the_reason(client):
    response = client.post("/documents", data=COMET.encode(), headers=AUTH, query_string={"filename": ".env.md"}, content_type="text/plain")
    assert response.status_code == 400 and "starting with '.'" in response.get_json()["error"]["message"]


def test_reindex_of_a_corpus_with_nothing_readable_is_409_and_keeps_the_index(client, tiny_corpus):
    version = client.get("/healthz").get_json()["index_version"]
    for path in [p for p in tiny_corpus.rglob("*.txt")]:
        path.write_bytes(b"\xff not text")
    response = client.post("/admin/reindex", headers=AUTH)
    assert response.status_code == 409 and response.get_json()["error"]["code"] == "empty_corpus"
    assert client.get("/healthz").get_json()["index_version"] == version


def test_a_published_change_stands_when_the_switch_fails(client, tiny_corpus, monkeypatch, admin_app):
    engine = admin_app.extensions["spaceqa"]

    def failing_refresh(index_dir):
        engine.refused = ("next", "out of memory")
        raise MemoryError("out of memory")

    monkeypatch.setattr(engine, "refresh", failing_refresh)
    response = upload(client, "comet.txt", COMET)
    assert response.status_code == 201 and (tiny_corpus / "comet.txt").exists()  # not undone: the index on disk holds it
    assert client.get("/healthz").get_json()["index_problem"] == {"version": "next", "reason": "out of memory"}


def test_a_failed_rebuild_undoes_the_upload(client, tiny_corpus, monkeypatch, admin_app):
    from spaceqa import admin

    def broken_build(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(admin, "build_index", broken_build)
    admin_app.config["TESTING"] = False  # let the JSON 500 handler answer, as in production
    before = corpus_files(tiny_corpus)
    version = client.get("/healthz").get_json()["index_version"]
    response = upload(client, "comet.txt", COMET)
    assert response.status_code == 500 and response.get_json()["error"]["code"] == "internal_error"
    assert corpus_files(tiny_corpus) == before
    assert client.get("/healthz").get_json()["index_version"] == version


def test_delete_removes_the_document_from_corpus_and_index(client, tiny_corpus):
    response = client.delete("/documents/notes/gardening.txt", headers=AUTH)
    assert response.status_code == 200 and response.get_json()["deleted"] is True
    assert not (tiny_corpus / "notes" / "gardening.txt").exists()
    assert client.get("/documents/notes/gardening.txt").status_code == 404
    assert client.get("/healthz").get_json()["documents"] == 2


@pytest.mark.parametrize("doc_id", ["missing.txt", "../corpus/mir.txt", "notes/../../outside.txt", ".lock", "notes"])
def test_delete_of_unknown_or_escaping_ids_is_404(client, tiny_corpus, tmp_path, doc_id):
    (tmp_path / "outside.txt").write_text("must survive")
    response = client.delete(f"/documents/{doc_id}", headers=AUTH)
    assert response.status_code == 404 and response.get_json()["error"]["code"] == "document_not_found"
    assert (tmp_path / "outside.txt").exists() and len(corpus_files(tiny_corpus)) == 3


def test_the_last_document_cannot_be_deleted(client, tiny_corpus):
    assert client.delete("/documents/mir.txt", headers=AUTH).status_code == 200
    assert client.delete("/documents/apollo.txt", headers=AUTH).status_code == 200
    response = client.delete("/documents/notes/gardening.txt", headers=AUTH)
    assert response.status_code == 409 and response.get_json()["error"]["code"] == "last_document"
    assert (tiny_corpus / "notes" / "gardening.txt").exists()


def test_reindex_picks_up_files_added_on_disk(client, tiny_corpus):
    (tiny_corpus / "comet.txt").write_text(COMET)
    body = client.post("/admin/reindex", headers=AUTH).get_json()
    assert body["indexed"] == 1 and body["unchanged"] == 3 and body["documents"] == 4
    full = client.post("/admin/reindex", headers=AUTH, query_string={"full": "true"}).get_json()
    assert full["indexed"] == 4 and full["unchanged"] == 0
    assert client.get("/documents/comet.txt").status_code == 200


def corpus_contents(corpus: Path) -> dict[str, bytes]:
    return {p.relative_to(corpus).as_posix(): p.read_bytes() for p in corpus.rglob("*") if p.is_file()}


@pytest.mark.parametrize(
    "make, reason",
    [(unknown_filter_pdf, "/NoSuchDecode"), (bomb_pdf, "LimitReachedError")],
    ids=["unknown filter", "decompression bomb"],
)
def test_an_upload_no_reader_can_take_is_422_with_the_reason_and_loses_nothing(roomy_client, tiny_corpus, make, reason):
    client = roomy_client
    assert upload(client, "report.pdf", make_pdf(["The probe Vega reached the comet in March 1986."])).status_code == 201
    before, version = corpus_contents(tiny_corpus), client.get("/healthz").get_json()["index_version"]
    for name, query in [("new.pdf", {}), ("report.pdf", {"overwrite": "true"})]:  # a new name, and replacing a document
        # The raw body, not multipart: werkzeug's test client leaves a temporary file open when it encodes a large form.
        with hang_detector(300):  # far above the reader's own time limit: only a hang trips it
            response = client.post("/documents", data=make(), headers=AUTH, query_string={"filename": name, **query}, content_type="application/pdf")
        assert response.status_code == 422, response.get_json()
        error = response.get_json()["error"]
        assert error["code"] == "unreadable_document" and name in error["message"] and reason in error["message"]
    assert corpus_contents(tiny_corpus) == before  # no staged file, the replaced document intact
    assert client.get("/healthz").get_json()["index_version"] == version
    assert client.get("/documents/report.pdf").status_code == 200


def test_a_poisoned_corpus_neither_stops_the_server_nor_reindex_nor_uploads(tmp_path, tiny_corpus):
    (tiny_corpus / "filter.pdf").write_bytes(unknown_filter_pdf())
    settings = {"corpus_dir": tiny_corpus, "index_dir": tmp_path / "index", "admin_token": TOKEN, "reload_interval": 0}
    client = make_app(settings, HashEmbedder(), fake_reader()).test_client()  # the server starts
    assert client.get("/healthz").get_json()["documents"] == 3
    (tiny_corpus / "bomb.pdf").write_bytes(bomb_pdf())
    response = client.post("/admin/reindex", headers=AUTH)
    assert response.status_code == 200 and [path for path, _ in response.get_json()["failed"]] == ["bomb.pdf", "filter.pdf"]
    response = upload(client, "comet.txt", COMET)
    assert response.status_code == 201 and [path for path, _ in response.get_json()["index"]["failed"]] == ["bomb.pdf", "filter.pdf"]
    assert client.get("/healthz").get_json()["documents"] == 4


@pytest.mark.parametrize("doc_id", ["mir%00.txt", "a%00/../mir.txt", "loop.txt", "deeper/loop.txt", "again/mir.txt", "slides.key", "broken.txt"])
def test_delete_touches_only_documents_of_the_index(client, tiny_corpus, doc_id):
    # In the corpus folder but not in the index: a symlink loop, a link to the folder itself (a
    # second path to every document), a file of an unsupported type, a file that cannot be read.
    os.symlink("loop.txt", tiny_corpus / "loop.txt")
    os.symlink("deeper", tiny_corpus / "deeper")
    os.symlink(".", tiny_corpus / "again")
    (tiny_corpus / "slides.key").write_bytes(b"\x00\x01")
    (tiny_corpus / "broken.txt").write_bytes(b"\xff not UTF-8")
    client.post("/admin/reindex", headers=AUTH)
    before = sorted(os.listdir(tiny_corpus))
    response = client.delete(f"/documents/{doc_id}", headers=AUTH)
    assert response.status_code == 404 and response.get_json()["error"]["code"] == "document_not_found"
    assert sorted(os.listdir(tiny_corpus)) == before and (tiny_corpus / "mir.txt").is_file()
    assert client.get("/healthz").get_json()["documents"] == 3


def test_symlinks_one_rule_for_the_list_the_text_and_delete(client, tiny_corpus):
    (tiny_corpus / ".private.txt").write_text("Private\n\nThe launch code is 0000, said the private note.")
    os.symlink(".private.txt", tiny_corpus / "exposed.txt")  # a link to a hidden file: never a document
    os.symlink("mir.txt", tiny_corpus / "station.txt")  # a link to a document: a document of its own
    client.post("/admin/reindex", headers=AUTH)
    listed = [d["doc_id"] for d in client.get("/documents").get_json()["documents"]]
    assert "exposed.txt" not in listed and "station.txt" in listed
    assert client.get("/documents/exposed.txt").status_code == 404
    assert client.delete("/documents/exposed.txt", headers=AUTH).status_code == 404
    assert os.path.islink(tiny_corpus / "exposed.txt") and (tiny_corpus / ".private.txt").is_file()
    # Deleting a linked document removes the link, never the file it points to.
    assert client.delete("/documents/station.txt", headers=AUTH).status_code == 200
    assert not os.path.lexists(tiny_corpus / "station.txt")
    assert (tiny_corpus / "mir.txt").read_text().startswith("Mir Space Station")
    assert client.get("/documents/mir.txt").status_code == 200
    assert [d["doc_id"] for d in client.get("/documents").get_json()["documents"]] == ["apollo.txt", "mir.txt", "notes/gardening.txt"]
