"""Malformed requests over real HTTP (waitress, `spaceqa serve`'s options), sent as raw bytes.

Every one is answered with a JSON 4xx in the API's error shape, never a 5xx, and no response
ever carries a file from outside the corpus: a secret file sits right beside it.
"""

from __future__ import annotations

import json

import pytest

from conftest import TINY_DOCUMENTS, write_corpus
from fakes import HashEmbedder, fake_reader
from servers import raw_request, serve_in_thread

SECRET = "TOP-SECRET-d41d8cd98f00"  # the content of ../secret.txt, beside the corpus folder
OUTSIDE_MARKERS = [SECRET, "root:x:0:0", "[build-system]"]  # the secret, /etc/passwd, pyproject.toml
JSON = {"Content-Type": "application/json"}


@pytest.fixture(scope="module")
def port(tmp_path_factory):
    from spaceqa import create_app

    root = tmp_path_factory.mktemp("bad-input")
    corpus = write_corpus(root / "corpus", TINY_DOCUMENTS)
    (root / "secret.txt").write_text(SECRET, encoding="utf-8")
    (corpus / ".hidden").write_text(SECRET, encoding="utf-8")  # not a .txt document: never indexed, never served
    app = create_app({"corpus_dir": corpus, "index_dir": root / "index"}, embedder=HashEmbedder(), reader=fake_reader())
    with serve_in_thread(app) as port:
        yield port


def ask_raw(body: bytes, headers=JSON):
    return ("POST", "/ask", body, headers)


def ask(payload) -> tuple:
    return ask_raw(json.dumps(payload).encode())


def nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


# (id, (method, target, body, headers), expected status, expected error code); None: any 4xx / any code.
MATRIX = [
    # wrong types
    ("question-number", ask({"question": 42}), 400, "invalid_question"),
    ("question-object", ask({"question": {"text": "Who?"}}), 400, "invalid_question"),
    ("question-boolean", ask({"question": True}), 400, "invalid_question"),
    ("question-null", ask({"question": None}), 400, "missing_question"),
    ("history-object", ask({"question": "Mir?", "history": {"0": "earlier"}}), 400, "invalid_history"),
    ("history-nested-lists", ask({"question": "Mir?", "history": [["earlier"]]}), 400, "invalid_history"),
    ("top_k-string", ask({"question": "Mir?", "top_k": "3"}), 400, "invalid_top_k"),
    ("top_k-NaN", ask_raw(b'{"question": "Mir?", "top_k": NaN}'), 400, "invalid_top_k"),
    ("top_k-overflowing-float", ask_raw(b'{"question": "Mir?", "top_k": 1e400}'), 400, "invalid_top_k"),
    ("top_k-5000-digits", ask_raw(b'{"question": "Mir?", "top_k": ' + b"9" * 5000 + b"}"), 400, "malformed_json"),
    ("body-null", ask_raw(b"null"), 400, "invalid_body"),
    ("body-list", ask_raw(b'["Who?"]'), 400, "invalid_body"),
    ("body-number", ask_raw(b"42"), 400, "invalid_body"),
    # empty and oversized
    ("question-empty", ask({"question": ""}), 400, "empty_question"),
    ("question-whitespace", ask({"question": " \t\n\u00a0\u3000\u2003 "}), 400, "empty_question"),
    ("question-501-chars", ask({"question": "w" * 501}), 400, "question_too_long"),
    ("question-60k-chars", ask({"question": "why " * 15_000}), 400, "question_too_long"),
    ("history-21-entries", ask({"question": "Mir?", "history": ["earlier"] * 21}), 400, "invalid_history"),
    ("history-entry-10k-chars", ask({"question": "Mir?", "history": ["e" * 10_000]}), 400, "invalid_history"),
    # malformed JSON and bytes
    ("body-empty", ask_raw(b""), 400, "malformed_json"),
    ("json-truncated", ask_raw(b'{"question": "Who'), 400, "malformed_json"),
    ("json-trailing-garbage", ask_raw(b'{"question": "Who?"} x'), 400, "malformed_json"),
    ("json-single-quotes", ask_raw(b"{'question': 'Who?'}"), 400, "malformed_json"),
    ("json-nested-30000", ask_raw(nested(30_000)), 400, "malformed_json"),
    ("json-nested-question-20000", ask_raw(b'{"question": ' + nested(20_000) + b"}"), 400, "malformed_json"),
    ("json-nested-100000", ask_raw(nested(100_000)), 413, "request_entity_too_large"),
    ("json-huge-500k", ask({"question": "Mir?", "padding": "x" * 500_000}), 413, "request_entity_too_large"),
    ("utf8-invalid-bytes", ask_raw(b'{"question": "caf\xc3 \xff\xfe?"}'), 400, "malformed_json"),
    ("utf8-overlong-slash", ask_raw(b'{"question": "\xc0\xaf"}'), 400, "malformed_json"),
    ("latin1-declared-charset", ask_raw('{"question": "Café?"}'.encode("latin-1"), {"Content-Type": "application/json; charset=latin-1"}), 400, "malformed_json"),
    # wrong method
    ("GET-ask", ("GET", "/ask", b"", {}), 405, "method_not_allowed"),
    ("PUT-ask", ("PUT", "/ask", b'{"question": "Mir?"}', JSON), 405, "method_not_allowed"),
    ("HEAD-ask", ("HEAD", "/ask", b"", {}), 405, None),  # HEAD has no body to carry the JSON
    ("BREW-ask", ("BREW", "/ask", b"", {}), 405, "method_not_allowed"),
    ("POST-healthz", ("POST", "/healthz", b"{}", JSON), 405, "method_not_allowed"),
    ("PATCH-metrics", ("PATCH", "/metrics", b"{}", JSON), 405, "method_not_allowed"),
    # wrong content type
    ("content-type-missing", ask_raw(b'{"question": "Mir?"}', {}), 415, "unsupported_media_type"),
    ("content-type-text", ask_raw(b'{"question": "Mir?"}', {"Content-Type": "text/plain"}), 415, "unsupported_media_type"),
    ("content-type-form", ask_raw(b"question=Mir%3F", {"Content-Type": "application/x-www-form-urlencoded"}), 415, "unsupported_media_type"),
    ("content-type-multipart", ask_raw(b"--x\r\n\r\nMir?\r\n--x--", {"Content-Type": "multipart/form-data; boundary=x"}), 415, "unsupported_media_type"),
    ("content-type-xml", ask_raw(b"<question>Mir?</question>", {"Content-Type": "application/xml"}), 415, "unsupported_media_type"),
    # odd Unicode that is refused
    ("question-NUL", ask({"question": "Who walked\u0000 on the Moon?"}), 400, "invalid_question"),
    ("question-escape-sequence", ask({"question": "Who \u001b[31mwalked\u001b[0m on the Moon?"}), 400, "invalid_question"),
    ("question-lone-surrogate", ask_raw(b'{"question": "Who \\ud800 walked on the Moon?"}'), 400, "invalid_question"),
    ("question-reversed-surrogates", ask_raw(b'{"question": "\\udfff\\ud800"}'), 400, "invalid_question"),
    ("history-lone-surrogate", ask_raw(b'{"question": "When was it launched?", "history": ["\\udc80 Mir"]}'), 400, "invalid_history"),
    ("history-NUL", ask({"question": "When was it launched?", "history": ["Tell me about Mir\u0000"]}), 400, "invalid_history"),
]

# /documents/<id> ids that try to leave the corpus, raw and encoded: all unknown ids, so 404.
TRAVERSALS = [
    "../secret.txt",
    "../../../../../../etc/passwd",
    "..%2Fsecret.txt",
    "..%2F..%2F..%2F..%2Fetc%2Fpasswd",
    "%2e%2e/secret.txt",
    "%2e%2e%2f%2e%2e%2fsecret.txt",
    "%252e%252e%252fsecret.txt",  # double-encoded
    "..\\secret.txt",
    "..%5csecret.txt",
    "/etc/passwd",  # //etc/passwd after /documents/
    "%2Fetc%2Fpasswd",
    "....//secret.txt",
    "notes/../../secret.txt",
    "%c0%ae%c0%ae/secret.txt",  # overlong UTF-8 dots
    "mir.txt%00",
    "mir.txt%00.png",
    "%00",
    ".hidden",
    "x" * 8000,
]
STATIC_TRAVERSALS = ["../pyproject.toml", "..%2f..%2fpyproject.toml", "%2e%2e/%2e%2e/pyproject.toml", "..%5c..%5cpyproject.toml", "/etc/passwd"]
UNKNOWN_ROUTES = ["/nowhere", "/ask/", "/.env", "/admin.php", "/healthz/../../etc/passwd", "//etc/passwd", "/%2e%2e/%2e%2e/etc/passwd", "/documents/"]

# Odd but harmless Unicode around a normal question: answered (200) or refused (400), never a 5xx.
ODD_QUESTIONS = {
    "rtl-marks": "\u200fWho walked on the Moon first?\u200f",
    "rtl-override": "\u202eWho walked on the Moon first?\u202c",
    "zero-width-joiners": "Who\u200d walked\u200d on the Moon?",
    "emoji": "🚀 Who walked on the Moon first? 👩‍🚀🌕",
    "emoji-only": "🚀🌕",
    "byte-order-mark": "\ufeffWho walked on the Moon?",
    "combining-marks": "Wh\u0336o\u0337 walked on the M\u0338oon?",
    "arabic": "من مشى على القمر أولاً؟",
    "format-characters-only": "\u200f\u200d\u2060",
    "private-use": "Who walked on the \ue000Moon?",
    "noncharacter": "Who walked on the Moon?\uffff",
    "line-breaks": "Who walked\non the Moon?\r\n",
}


def check_no_outside_content(response) -> None:
    for marker in OUTSIDE_MARKERS:
        assert marker not in response.text


def check_json_error(response, status, code) -> None:
    assert 400 <= response.status < 500, response
    if status is not None:
        assert response.status == status, response
    check_no_outside_content(response)
    if response.headers.get("content-length") == "0" or not response.body:
        assert code is None  # HEAD: no body, by HTTP's rules
        return
    assert response.headers["content-type"].startswith("application/json"), response
    body = json.loads(response.body)
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}, body
    assert body["error"]["message"] and "Traceback" not in response.text
    if code is not None:
        assert body["error"]["code"] == code, body


@pytest.mark.parametrize("request_, status, code", [case[1:] for case in MATRIX], ids=[case[0] for case in MATRIX])
def test_malformed_requests_get_a_json_4xx(port, request_, status, code):
    method, target, body, headers = request_
    check_json_error(raw_request(port, method, target, body=body, headers=headers), status, code)


@pytest.mark.parametrize("doc_id", TRAVERSALS, ids=[t[:40] for t in TRAVERSALS])
def test_document_ids_that_leave_the_corpus_are_a_json_404(port, doc_id):
    check_json_error(raw_request(port, "GET", f"/documents/{doc_id}"), 404, None)


def test_a_raw_nul_byte_in_a_document_id_is_a_4xx(port):
    response = raw_request(port, "GET", b"/documents/mir.txt\x00../../secret.txt")
    assert 400 <= response.status < 500
    check_no_outside_content(response)


@pytest.mark.parametrize("filename", STATIC_TRAVERSALS)
def test_static_paths_that_leave_the_web_folder_are_a_json_404(port, filename):
    check_json_error(raw_request(port, "GET", f"/static/{filename}"), 404, "not_found")


@pytest.mark.parametrize("target", UNKNOWN_ROUTES)
def test_unknown_routes_are_a_json_404(port, target):
    check_json_error(raw_request(port, "GET", target), 404, None)


@pytest.mark.parametrize("question", ODD_QUESTIONS.values(), ids=ODD_QUESTIONS.keys())
def test_odd_unicode_in_a_question_is_answered_or_refused_never_a_5xx(port, question):
    response = raw_request(port, "POST", "/ask", body=json.dumps({"question": question}).encode(), headers=JSON)
    assert response.status in (200, 400), response
    body = json.loads(response.body)
    if response.status == 200:
        assert body["question"] == question.strip()
        assert isinstance(body["answers"], list)
    else:
        assert body["error"]["code"] in {"invalid_question", "empty_question"}
    check_no_outside_content(response)


def test_the_service_still_answers_after_the_bad_input(port):
    body = json.dumps({"question": "How long did Valeri Polyakov stay aboard Mir?"}).encode()
    response = raw_request(port, "POST", "/ask", body=body, headers=JSON)
    assert response.status == 200 and json.loads(response.body)["answers"]


def test_a_body_past_the_server_limit_is_refused_before_it_is_read(port):
    """Waitress stops a body larger than any route accepts at its Content-Length: a 413, in waitress's plain text."""
    import socket

    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        # 50 MB: over the largest body any route takes (uploads, 20 MiB by default); no byte of it is sent.
        sock.sendall(b"POST /ask HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 50000000\r\n\r\n")
        received = bytearray()
        while chunk := sock.recv(65536):
            received += chunk
    assert received.startswith(b"HTTP/1.1 413 ")
