"""Every response over real HTTP carries the security headers: pages, files, API, errors.

No browser needed; it asks the same waitress server the browser tests use.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest

from spaceqa.security import SECURITY_HEADERS


def fetch(url: str, body: dict | None = None):
    """(status, headers) of a GET, or of a JSON POST when ``body`` is given; 4xx included."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"} if data else {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.headers
    except urllib.error.HTTPError as error:
        with error:
            return error.code, error.headers


@pytest.mark.parametrize(
    ("path", "body", "status"),
    [
        ("/", None, 200),
        ("/static/app.js", None, 200),
        ("/static/app.css", None, 200),
        ("/view/shuttle-mir.txt", None, 200),
        ("/documents/shuttle-mir.txt", None, 200),
        ("/ask", {"question": "On what date did Soyuz-19 lift off?"}, 200),
        ("/ask", {"question": ""}, 400),
        ("/ask", None, 405),
        ("/no-such-page", None, 404),
        ("/static/no-such-file.js", None, 404),
        ("/documents/no-such-document.txt", None, 404),
    ],
)
def test_security_headers_are_on_every_response(live_server: str, path: str, body, status: int):
    got_status, headers = fetch(live_server + path, body)
    assert got_status == status
    for name, value in SECURITY_HEADERS.items():
        assert headers[name] == value


def test_the_policy_forbids_inline_script_and_other_origins():
    policy = dict(part.split(" ", 1) for part in SECURITY_HEADERS["Content-Security-Policy"].split("; "))
    assert policy["script-src"] == "'self'" and "unsafe-inline" not in SECURITY_HEADERS["Content-Security-Policy"]
    assert policy["default-src"] == "'self'"
    assert policy["frame-ancestors"] == "'none'" and policy["object-src"] == "'none'"


def test_an_internal_error_carries_them_too(tiny_app, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(tiny_app.extensions["spaceqa"], "ask", broken)
    tiny_app.config.update(TESTING=False, PROPAGATE_EXCEPTIONS=False)  # the error handler runs, as in production
    response = tiny_app.test_client().post("/ask", json={"question": "Mir?"})
    assert response.status_code == 500
    for name, value in SECURITY_HEADERS.items():
        assert response.headers[name] == value
