"""Cross-origin requests: only the origins named in SPACEQA_CORS_ORIGINS, only the public routes."""

from __future__ import annotations

import pytest

from conftest import make_app
from fakes import HashEmbedder, fake_reader
from spaceqa.config import Settings

ALLOWED = "https://app.example.org"
OTHER = "https://evil.example.net"
TOKEN = "t0ken"


@pytest.fixture
def client(tmp_path, tiny_corpus):
    settings = {"corpus_dir": tiny_corpus, "index_dir": tmp_path / "index", "admin_token": TOKEN, "reload_interval": 0,
                "cors_origins": f"{ALLOWED}, http://localhost:3000"}
    return make_app(settings, HashEmbedder(), fake_reader()).test_client()


def preflight(client, path, method, origin=ALLOWED):
    return client.options(path, headers={"Origin": origin, "Access-Control-Request-Method": method, "Access-Control-Request-Headers": "content-type"})


@pytest.mark.parametrize("path", ["/healthz", "/documents", "/documents/mir.txt", "/openapi.json", "/documents/missing.txt"])
def test_an_allowed_origin_may_read_the_public_routes(client, path):
    response = client.get(path, headers={"Origin": ALLOWED})
    assert response.headers["Access-Control-Allow-Origin"] == ALLOWED
    assert "Origin" in response.headers["Vary"]


def test_ask_and_its_preflight_answer_an_allowed_origin(client):
    response = preflight(client, "/ask", "POST")
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == ALLOWED
    assert response.headers["Access-Control-Allow-Methods"] == "POST"
    assert response.headers["Access-Control-Allow-Headers"] == "Content-Type"
    answered = client.post("/ask", json={"question": "When was Mir launched?"}, headers={"Origin": "http://localhost:3000"})
    assert answered.status_code == 200 and answered.headers["Access-Control-Allow-Origin"] == "http://localhost:3000"
    refused = client.post("/ask", json={"question": ""}, headers={"Origin": ALLOWED})  # a page can read the error too
    assert refused.status_code == 400 and refused.headers["Access-Control-Allow-Origin"] == ALLOWED


def test_another_origin_gets_no_permission_but_the_answer_still_varies_by_origin(client):
    for response in (client.get("/healthz", headers={"Origin": OTHER}), preflight(client, "/ask", "POST", origin=OTHER)):
        assert "Access-Control-Allow-Origin" not in response.headers and "Access-Control-Allow-Methods" not in response.headers
        assert "Origin" in response.headers["Vary"]


def test_the_admin_routes_and_metrics_never_answer_another_origin(client):
    auth = {"Authorization": f"Bearer {TOKEN}", "Origin": ALLOWED}
    assert "Access-Control-Allow-Origin" not in client.post("/admin/reindex", headers=auth).headers
    assert "Access-Control-Allow-Origin" not in preflight(client, "/admin/reindex", "POST").headers
    assert "Access-Control-Allow-Origin" not in client.get("/metrics", headers={"Origin": ALLOWED}).headers
    # DELETE shares its URL with the public GET: the preflight allows GET only, so a browser will not send DELETE.
    assert preflight(client, "/documents/mir.txt", "DELETE").headers["Access-Control-Allow-Methods"] == "GET"
    assert preflight(client, "/documents", "POST").headers["Access-Control-Allow-Methods"] == "GET"


def test_off_by_default(tiny_client):
    response = tiny_client.get("/healthz", headers={"Origin": ALLOWED})
    assert "Access-Control-Allow-Origin" not in response.headers and "Vary" not in response.headers


@pytest.mark.parametrize("value", ["*", "https://app.example.org/", "app.example.org", "https://*.example.org", "null"])
def test_only_exact_origins_are_accepted(value):
    with pytest.raises(ValueError, match="SPACEQA_CORS_ORIGINS"):
        Settings.load({"cors_origins": value})
