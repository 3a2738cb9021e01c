"""A running service switches to new index versions without failing or mixing requests."""

from __future__ import annotations

import json
import threading
import time
import urllib.request

import pytest

from fakes import HashEmbedder, fake_reader
from servers import serve_in_thread
from spaceqa import pipeline
from spaceqa.build import build_index
from spaceqa.chunk import ChunkParams
from spaceqa.errors import IndexMismatchError
from spaceqa.index import load_index


def make_app(tmp_path, corpus, **settings):
    from spaceqa import create_app

    return create_app({"corpus_dir": corpus, "index_dir": tmp_path / "index", **settings}, embedder=HashEmbedder(), reader=fake_reader())


def wait_for(condition, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def test_refresh_switches_to_a_newer_version(tmp_path, tiny_corpus):
    engine = make_app(tmp_path, tiny_corpus, reload_interval=0).extensions["spaceqa"]
    old = engine.index.version
    assert engine.refresh(tmp_path / "index") is False
    (tiny_corpus / "comet.txt").write_text("Comets\n\nHalley's Comet returns every 76 years.")
    new = build_index(tiny_corpus, tmp_path / "index", HashEmbedder(), ChunkParams()).version
    assert engine.refresh(tmp_path / "index") is True
    assert engine.index.version == new != old and "comet.txt" in engine.index.documents


def test_the_watcher_notices_an_index_built_elsewhere(tmp_path, tiny_corpus):
    app = make_app(tmp_path, tiny_corpus, reload_interval=0.1)
    client = app.test_client()
    (tiny_corpus / "comet.txt").write_text("Comets\n\nHalley's Comet returns every 76 years.")
    new = build_index(tiny_corpus, tmp_path / "index", HashEmbedder(), ChunkParams()).version
    assert wait_for(lambda: client.get("/healthz").get_json()["index_version"] == new)
    assert client.get("/documents/comet.txt").status_code == 200


def test_an_index_from_another_model_is_not_served_and_is_reported_once(tmp_path, tiny_corpus, monkeypatch):
    app = make_app(tmp_path, tiny_corpus, reload_interval=0)
    engine, client = app.extensions["spaceqa"], app.test_client()
    old = engine.index.version
    assert client.get("/healthz").get_json()["index_problem"] is None

    class OtherModel(HashEmbedder):
        name = "another-model"

    refused = build_index(tiny_corpus, tmp_path / "index", OtherModel(), ChunkParams()).version
    with pytest.raises(IndexMismatchError, match="another-model"):
        engine.refresh(tmp_path / "index")
    assert engine.index.version == old  # the old index keeps serving
    assert client.get("/healthz").get_json()["index_problem"]["version"] == refused

    loads = []
    monkeypatch.setattr(pipeline, "load_index", lambda folder: loads.append(folder) or load_index(folder))
    assert engine.refresh(tmp_path / "index") is False  # the refused version is not loaded at every check
    assert loads == []
    later = time.monotonic() + pipeline.RETRY_REFUSED_SECONDS + 1
    monkeypatch.setattr(pipeline.time, "monotonic", lambda: later)
    with pytest.raises(IndexMismatchError):  # ...but tried again a while later (a load may fail for a passing reason)
        engine.refresh(tmp_path / "index")
    assert len(loads) == 1

    served = build_index(tiny_corpus, tmp_path / "index", HashEmbedder(), ChunkParams(), full=True).version
    assert engine.refresh(tmp_path / "index") is True and engine.index.version == served
    assert client.get("/healthz").get_json()["index_problem"] is None


def test_rebuilds_while_requests_are_in_flight_fail_none_and_mix_none(tmp_path, tiny_corpus):
    app = make_app(tmp_path, tiny_corpus, reload_interval=0.05)
    questions = ["How long did Valeri Polyakov stay aboard Mir?", "When did Apollo 17 land?", "How much sun do tomatoes need?"]
    failures: list[str] = []
    answered = 0
    done = threading.Event()
    lock = threading.Lock()

    def client(base_url: str, number: int) -> None:
        nonlocal answered
        i = 0
        while not done.is_set():
            question = questions[(number + i) % len(questions)]
            body = json.dumps({"question": question, "top_k": 3}).encode()
            request = urllib.request.Request(f"{base_url}/ask", data=body, headers={"Content-Type": "application/json"})
            try:
                with urllib.request.urlopen(request, timeout=30) as response:
                    reply = json.loads(response.read())
                for a in reply["answers"]:
                    # Every field of an answer comes from one index version: the offsets agree.
                    sentence = a["sentence"]
                    assert sentence[a["start"] - a["sentence_start"] : a["end"] - a["sentence_start"]] == a["text"]
                    assert a["passage"][a["sentence_start"] - a["passage_start"] : a["sentence_end"] - a["passage_start"]] == sentence
                with lock:
                    answered += 1
            except Exception as error:  # any failure at all is what this test is about
                with lock:
                    failures.append(repr(error))
            i += 1

    with serve_in_thread(app, threads=4) as port:
        threads = [threading.Thread(target=client, args=(f"http://127.0.0.1:{port}", n)) for n in range(4)]
        for thread in threads:
            thread.start()
        versions = []
        for round_number in range(6):
            # Each rebuild changes the text before the fact, so offsets differ between versions.
            padding = "Padding sentence number one. " * round_number
            (tiny_corpus / "mir.txt").write_text(f"Mir Space Station\n\n{padding}Valeri Polyakov stayed aboard Mir for 437 days.")
            versions.append(build_index(tiny_corpus, tmp_path / "index", HashEmbedder(), ChunkParams()).version)
            time.sleep(0.2)
        assert wait_for(lambda: app.extensions["spaceqa"].index.version == versions[-1])
        time.sleep(0.3)
        done.set()
        for thread in threads:
            thread.join(timeout=30)
    assert failures == []
    assert answered > 20
    assert load_index(tmp_path / "index").version == versions[-1]


def test_the_watcher_reports_a_version_it_cannot_serve_once(tmp_path, tiny_corpus, caplog):
    app = make_app(tmp_path, tiny_corpus, reload_interval=0.02)

    class OtherModel(HashEmbedder):
        name = "another-model"

    with caplog.at_level("ERROR", logger="spaceqa"):
        refused = build_index(tiny_corpus, tmp_path / "index", OtherModel(), ChunkParams()).version
        assert wait_for(lambda: app.test_client().get("/healthz").get_json()["index_problem"] is not None)
        time.sleep(0.3)  # some fifteen more checks
    assert app.test_client().get("/healthz").get_json()["index_problem"]["version"] == refused
    assert len([r for r in caplog.records if "could not switch" in r.getMessage()]) == 1
