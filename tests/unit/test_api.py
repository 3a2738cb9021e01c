"""The HTTP contract, with the fake embedder: shapes, offsets, documents, health, bad input."""

from __future__ import annotations

import pytest

ANSWER_FIELDS = {
    "text", "sentence", "score", "doc_id", "title", "start", "end",
    "sentence_start", "sentence_end", "passage", "passage_start", "passage_end", "page",
}


def ask(client, **payload):
    return client.post("/ask", json=payload)


def test_ask_returns_the_documented_shape(tiny_client):
    response = ask(tiny_client, question="How long did Valeri Polyakov stay aboard Mir?")
    assert response.status_code == 200 and response.is_json
    body = response.get_json()
    assert set(body) == {"question", "understood_as", "answer", "answers", "took_ms"}
    assert body["question"] == "How long did Valeri Polyakov stay aboard Mir?"
    assert body["understood_as"] is None  # no history: taken as asked
    assert 1 <= len(body["answers"]) <= 3
    for answer in body["answers"]:
        assert set(answer) == ANSWER_FIELDS
        assert 0.0 <= answer["score"] <= 1.0
    scores = [a["score"] for a in body["answers"]]
    assert scores == sorted(scores, reverse=True)
    assert body["took_ms"] >= 0


def test_every_answer_is_copied_verbatim_from_its_document(tiny_client):
    for question in ["When was the Mir core module launched?", "Who walked on the Moon first?", "How much sun do tomatoes need?"]:
        body = ask(tiny_client, question=question, top_k=10).get_json()
        for answer in body["answers"]:
            text = tiny_client.get(f"/documents/{answer['doc_id']}").get_json()["text"]
            assert text[answer["start"] : answer["end"]] == answer["text"]
            assert text[answer["sentence_start"] : answer["sentence_end"]] == answer["sentence"]
            assert text[answer["passage_start"] : answer["passage_end"]] == answer["passage"]
            assert answer["sentence_start"] <= answer["start"] <= answer["end"] <= answer["sentence_end"]
            assert answer["passage_start"] <= answer["sentence_start"] and answer["sentence_end"] <= answer["passage_end"]


def test_top_k_bounds_the_answers(tiny_client):
    assert len(ask(tiny_client, question="Mir space station", top_k=1).get_json()["answers"]) == 1
    assert len(ask(tiny_client, question="Mir space station", top_k=10).get_json()["answers"]) <= 10


def test_the_answer_is_null_or_the_top_answer_text(tiny_client):
    body = ask(tiny_client, question="How long did Valeri Polyakov stay aboard Mir?").get_json()
    assert body["answer"] in (None, body["answers"][0]["text"])


def test_documents_are_served_with_title_and_text(tiny_client):
    body = tiny_client.get("/documents/notes/gardening.txt").get_json()
    assert body["doc_id"] == "notes/gardening.txt"
    assert body["title"] == "Growing Tomatoes"
    assert body["text"].startswith("Growing Tomatoes\n\nTomatoes need")


@pytest.mark.parametrize(
    "doc_id",
    ["missing.txt", "../pyproject.toml", "..%2F..%2Fpyproject.toml", "%2Fetc%2Fpasswd", "notes/../mir.txt", "notes", ".lock"],
)
def test_unknown_or_escaping_document_ids_are_a_json_404(tiny_client, doc_id):
    response = tiny_client.get(f"/documents/{doc_id}")
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] in {"document_not_found", "not_found"}
    assert "build-system" not in response.get_data(as_text=True)


def test_healthz(tiny_client, tiny_app):
    body = tiny_client.get("/healthz").get_json()
    assert body["status"] == "ok" and body["documents"] == 3 and body["chunks"] >= 3
    assert body["index_version"] == tiny_app.extensions["spaceqa"].index.version


BAD_REQUESTS = [
    # (description, request kwargs, status, error code)
    ("no body", dict(data=b"", content_type="application/json"), 400, "malformed_json"),
    ("malformed json", dict(data=b'{"question": ', content_type="application/json"), 400, "malformed_json"),
    ("form post", dict(data={"question": "x"}), 415, "unsupported_media_type"),
    ("text/plain", dict(data=b'{"question": "hi"}', content_type="text/plain"), 415, "unsupported_media_type"),
    ("array body", dict(json=["question"]), 400, "invalid_body"),
    ("string body", dict(json="Who?"), 400, "invalid_body"),
    ("missing question", dict(json={"top_k": 2}), 400, "missing_question"),
    ("null question", dict(json={"question": None}), 400, "missing_question"),
    ("numeric question", dict(json={"question": 42}), 400, "invalid_question"),
    ("list question", dict(json={"question": ["Who?"]}), 400, "invalid_question"),
    ("empty question", dict(json={"question": ""}), 400, "empty_question"),
    ("blank question", dict(json={"question": "   \n\t "}), 400, "empty_question"),
    ("question too long", dict(json={"question": "why " * 200}), 400, "question_too_long"),
    ("top_k zero", dict(json={"question": "Mir?", "top_k": 0}), 400, "invalid_top_k"),
    ("top_k eleven", dict(json={"question": "Mir?", "top_k": 11}), 400, "invalid_top_k"),
    ("top_k string", dict(json={"question": "Mir?", "top_k": "3"}), 400, "invalid_top_k"),
    ("top_k float", dict(json={"question": "Mir?", "top_k": 2.5}), 400, "invalid_top_k"),
    ("top_k boolean", dict(json={"question": "Mir?", "top_k": True}), 400, "invalid_top_k"),
    ("history string", dict(json={"question": "Mir?", "history": "earlier"}), 400, "invalid_history"),
    ("history of numbers", dict(json={"question": "Mir?", "history": [1, 2]}), 400, "invalid_history"),
    ("history too long", dict(json={"question": "Mir?", "history": ["q"] * 21}), 400, "invalid_history"),
    ("history entry too long", dict(json={"question": "Mir?", "history": ["x" * 501]}), 400, "invalid_history"),
    ("history turn without question", dict(json={"question": "Mir?", "history": [{"answer": "1986"}]}), 400, "invalid_history"),
    ("history turn, numeric answer", dict(json={"question": "Mir?", "history": [{"question": "When?", "answer": 1986}]}), 400, "invalid_history"),
    ("history turn, unknown field", dict(json={"question": "Mir?", "history": [{"question": "When?", "reply": "1986"}]}), 400, "invalid_history"),
    ("history turn, answer too long", dict(json={"question": "Mir?", "history": [{"question": "When?", "answer": "x" * 501}]}), 400, "invalid_history"),
    ("history turn, NUL in answer", dict(json={"question": "Mir?", "history": [{"question": "When?", "answer": "19\u000086"}]}), 400, "invalid_history"),
    ("body over the size limit", dict(json={"question": "Mir?", "padding": "x" * 70_000}), 413, "request_entity_too_large"),
]


@pytest.mark.parametrize("description, kwargs, status, code", BAD_REQUESTS, ids=[r[0] for r in BAD_REQUESTS])
def test_bad_requests_get_a_json_error(tiny_client, description, kwargs, status, code):
    response = tiny_client.post("/ask", **kwargs)
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}
    assert body["error"]["code"] == code and body["error"]["message"]
    assert "Traceback" not in response.get_data(as_text=True)


def test_unknown_route_and_wrong_method_are_json(tiny_client):
    missing = tiny_client.get("/nowhere")
    assert missing.status_code == 404 and missing.get_json()["error"]["code"] == "not_found"
    wrong = tiny_client.get("/ask")
    assert wrong.status_code == 405 and wrong.get_json()["error"]["code"] == "method_not_allowed"


def test_an_unexpected_failure_is_a_json_500_without_a_trace(tiny_app, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(tiny_app.extensions["spaceqa"], "ask", broken)
    tiny_app.config["TESTING"] = False  # let the error handler run, as in production
    tiny_app.config["PROPAGATE_EXCEPTIONS"] = False
    response = tiny_app.test_client().post("/ask", json={"question": "Mir?"})
    assert response.status_code == 500
    assert response.get_json()["error"]["code"] == "internal_error"
    assert "secret internals" not in response.get_data(as_text=True)


def test_history_is_accepted_and_blank_entries_ignored(tiny_client):
    response = ask(tiny_client, question="When was it launched?", history=["Tell me about Mir", "  "])
    assert response.status_code == 200


def asked_questions(app) -> list[str]:
    """Record every question the engine asks itself, the earlier ones it asks again included."""
    engine = app.extensions["spaceqa"]
    asked, ask_once = [], engine.ask

    def recording(question, history=(), top_k=3):
        asked.append(question)
        return ask_once(question, history, top_k)

    engine.ask = recording  # the engine's own self.ask finds this one too
    return asked


def test_an_earlier_question_is_asked_again_only_when_its_answer_is_not_given(tiny_app):
    client, asked = tiny_app.test_client(), asked_questions(tiny_app)
    assert ask(client, question="When was it launched?", history=["Tell me about Mir"]).status_code == 200
    assert asked == ["When was it launched?", "Tell me about Mir"]

    asked.clear()
    for answer in ("the Mir space station", None):  # null: the user was told the documents do not answer
        history = [{"question": "Which station did Polyakov live on?", "answer": answer}]
        assert ask(client, question="When was it launched?", history=history).status_code == 200
    assert asked == ["When was it launched?", "When was it launched?"]


def test_the_page_is_served(tiny_client):
    with tiny_client.get("/") as response:
        assert response.status_code == 200 and b"SpaceQA" in response.data
        assert response.mimetype == "text/html" and b'maxlength="500"' in response.data


def test_the_question_box_takes_the_servers_length_limit(tmp_path, tiny_corpus, fake_embedder):
    from conftest import make_app
    from fakes import fake_reader

    client = make_app({"corpus_dir": tiny_corpus, "index_dir": tmp_path / "index", "max_question_chars": 800}, fake_embedder, fake_reader()).test_client()
    page = client.get("/").get_data(as_text=True)
    assert 'maxlength="800"' in page and 'maxlength="500"' not in page


def test_the_document_list_names_every_indexed_document_without_its_text(tmp_path, tiny_corpus, fake_embedder):
    from conftest import make_app
    from fakes import fake_reader
    from pdfs import make_pdf

    (tiny_corpus / "probe.pdf").write_bytes(make_pdf(["The probe Vega reached the comet in March 1986.", "It sent back pictures of the nucleus."]))
    client = make_app({"corpus_dir": tiny_corpus, "index_dir": tmp_path / "index"}, fake_embedder, fake_reader()).test_client()
    response = client.get("/documents")
    assert response.status_code == 200 and response.is_json
    listed = response.get_json()["documents"]
    assert [d["doc_id"] for d in listed] == ["apollo.txt", "mir.txt", "notes/gardening.txt", "probe.pdf"]
    for entry in listed:
        assert set(entry) == {"doc_id", "title", "pages", "characters", "sentences"}
        document = client.get(f"/documents/{entry['doc_id']}").get_json()
        assert entry["title"] == document["title"] and entry["characters"] == len(document["text"])
        assert entry["sentences"] >= 1
    assert [d["pages"] for d in listed] == [None, None, None, 2]
    assert "Tomatoes need" not in response.get_data(as_text=True)  # titles only, never the text
