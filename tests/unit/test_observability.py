"""The access log (one line per request, errors included) and the metrics at /metrics."""

from __future__ import annotations

import logging
import re

import pytest
from prometheus_client.parser import text_string_to_metric_families

from conftest import write_corpus
from fakes import HashEmbedder, fake_reader

OTHER_DOCUMENTS = {
    f"soyuz-{i}.txt": f"Soyuz {i}\n\nThe Soyuz {i} spacecraft docked with the station after a flight of {i + 2} days. "
    f"Its crew of three carried out experiments in biology and materials science before returning to Earth."
    for i in range(5)
}
LINE = re.compile(r"^(?P<method>\S+) (?P<path>\S+) (?P<status>\d{3}) (?P<ms>\d+\.\d)ms (?P<id>[A-Za-z0-9._-]{1,64})$")


@pytest.fixture
def access(caplog):
    caplog.set_level(logging.INFO, logger="spaceqa.access")
    return lambda: [r.getMessage() for r in caplog.records if r.name == "spaceqa.access"]


def samples(client) -> dict:
    """``{(name, frozenset(labels)): value}`` of one scrape, parsed by prometheus_client's own parser."""
    text = client.get("/metrics").get_data(as_text=True)
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def requests_total(client, **labels) -> float:
    return samples(client).get(("spaceqa_http_requests_total", frozenset(labels.items())), 0.0)


def test_one_access_line_per_request_with_method_path_status_and_ms(tiny_client, access):
    tiny_client.post("/ask", json={"question": "When was Mir launched?"})
    tiny_client.get("/documents/mir.txt")
    lines = access()
    assert len(lines) == 2
    first, second = (LINE.match(line) for line in lines)
    assert (first["method"], first["path"], first["status"]) == ("POST", "/ask", "200")
    assert (second["method"], second["path"], second["status"]) == ("GET", "/documents/mir.txt", "200")


@pytest.mark.parametrize(
    "method, path, kwargs, status",
    [
        ("POST", "/ask", {"json": {"question": ""}}, 400),
        ("GET", "/nowhere", {}, 404),
        ("GET", "/ask", {}, 405),
        ("POST", "/ask", {"data": b"x" * 70_000, "content_type": "application/json"}, 413),
        ("POST", "/ask", {"data": "question=x", "content_type": "text/plain"}, 415),
    ],
)
def test_errors_are_logged_once_too(tiny_client, access, method, path, kwargs, status):
    assert tiny_client.open(path, method=method, **kwargs).status_code == status
    assert [LINE.match(line)["status"] for line in access()] == [str(status)]


def test_an_unexpected_failure_is_logged_once_as_a_500(tiny_app, access, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(tiny_app.extensions["spaceqa"], "ask", broken)
    tiny_app.config.update(TESTING=False, PROPAGATE_EXCEPTIONS=False)
    with pytest.MonkeyPatch.context() as quiet:
        quiet.setattr(logging.getLogger("spaceqa"), "disabled", True)  # the traceback log.exception writes
        tiny_app.test_client().post("/ask", json={"question": "Mir?"})
    lines = access()
    assert len(lines) == 1 and LINE.match(lines[0])["status"] == "500"


def test_a_path_cannot_forge_a_log_line_or_shift_its_fields(tiny_client, access):
    tiny_client.get("/documents/x%0aGET%20/healthz%20200%201.0ms")
    tiny_client.get("/documents/Caf%C3%A9 du Monde.txt")
    forged, spaced = (LINE.match(line) for line in access())
    assert forged["path"] == "/documents/x%0AGET%20/healthz%20200%201.0ms" and forged["status"] == "404"
    assert spaced["path"] == "/documents/Caf%C3%A9%20du%20Monde.txt" and spaced["status"] == "404"


def test_metrics_are_prometheus_text_0_0_4(tiny_client):
    response = tiny_client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    names = {family.name for family in text_string_to_metric_families(response.get_data(as_text=True))}
    assert {"spaceqa_http_requests", "spaceqa_http_request_duration_seconds", "spaceqa_index_info", "spaceqa_index_documents", "spaceqa_index_chunks"} <= names


def test_requests_are_counted_by_url_rule_not_raw_path(tiny_client):
    for doc_id in ["mir.txt", "apollo.txt", "notes/gardening.txt", "missing.txt"]:
        tiny_client.get(f"/documents/{doc_id}")
    tiny_client.get("/nowhere/1")
    tiny_client.get("/nowhere/2")
    tiny_client.open("/ask", method="BREW")
    route = "/documents/<path:doc_id>"
    assert requests_total(tiny_client, method="GET", route=route, status="200") == 3
    assert requests_total(tiny_client, method="GET", route=route, status="404") == 1
    assert requests_total(tiny_client, method="GET", route="<unmatched>", status="404") == 2
    assert requests_total(tiny_client, method="other", route="<unmatched>", status="405") == 1
    routes = {dict(labels)["route"] for name, labels in samples(tiny_client) if name == "spaceqa_http_requests_total"}
    assert not any("gardening" in route or "nowhere" in route for route in routes)


def test_latency_histogram_in_seconds(tiny_client):
    tiny_client.post("/ask", json={"question": "When was Mir launched?"})
    scraped = samples(tiny_client)
    labels = frozenset({"method": "POST", "route": "/ask"}.items())
    assert scraped[("spaceqa_http_request_duration_seconds_count", labels)] == 1
    assert 0 < scraped[("spaceqa_http_request_duration_seconds_sum", labels)] < 60  # seconds, not milliseconds
    assert scraped[("spaceqa_http_request_duration_seconds_bucket", labels | {("le", "+Inf")})] == 1


def test_index_gauges_match_healthz(tiny_client):
    health = tiny_client.get("/healthz").get_json()
    scraped = samples(tiny_client)
    assert scraped[("spaceqa_index_info", frozenset({("version", health["index_version"])}))] == 1
    assert scraped[("spaceqa_index_documents", frozenset())] == health["documents"] == 3
    assert scraped[("spaceqa_index_chunks", frozenset())] == health["chunks"]


def test_index_gauges_follow_a_hot_swap(tiny_app, tiny_client, tmp_path):
    from spaceqa import create_app

    other = create_app(
        {"corpus_dir": write_corpus(tmp_path / "other", OTHER_DOCUMENTS), "index_dir": tmp_path / "other-index"},
        embedder=HashEmbedder(),
        reader=fake_reader(),
    )
    new_index = other.extensions["spaceqa"].index
    tiny_app.extensions["spaceqa"].use_index(new_index)
    scraped = samples(tiny_client)
    assert scraped[("spaceqa_index_info", frozenset({("version", new_index.manifest.version)}))] == 1
    assert scraped[("spaceqa_index_documents", frozenset())] == 5


def test_each_app_has_its_own_metrics(tiny_client, tmp_path):
    from spaceqa import create_app

    other = create_app({"corpus_dir": write_corpus(tmp_path / "c2", OTHER_DOCUMENTS), "index_dir": tmp_path / "i2"}, embedder=HashEmbedder(), reader=fake_reader())
    tiny_client.get("/healthz")
    tiny_client.get("/healthz")
    assert requests_total(tiny_client, method="GET", route="/healthz", status="200") == 2
    assert requests_total(other.test_client(), method="GET", route="/healthz", status="200") == 0


def test_every_response_carries_a_request_id_that_the_log_line_names(tiny_client, access):
    generated = tiny_client.get("/healthz")
    echoed = tiny_client.post("/ask", json={"question": "When was Mir launched?"}, headers={"X-Request-Id": "support-ticket-42"})
    replaced = tiny_client.get("/healthz", headers={"X-Request-Id": "bad id\twith spaces"})
    missing = tiny_client.get("/documents/missing.txt")
    assert re.fullmatch(r"[0-9a-f]{32}", generated.headers["X-Request-Id"])
    assert echoed.headers["X-Request-Id"] == "support-ticket-42"
    assert re.fullmatch(r"[0-9a-f]{32}", replaced.headers["X-Request-Id"]) and missing.status_code == 404
    ids = [LINE.match(line)["id"] for line in access()]
    assert ids == [r.headers["X-Request-Id"] for r in (generated, echoed, replaced, missing)]
    assert len(set(ids)) == 4


def test_metrics_count_answers_and_abstentions_and_the_top_score(tiny_client):
    tiny_client.post("/ask", json={"question": "When was the Mir core module launched?"})
    tiny_client.post("/ask", json={"question": "Which football club won the cup final?"})
    scraped = samples(tiny_client)
    answered = scraped.get(("spaceqa_answers_total", frozenset({("outcome", "answered")})), 0)
    abstained = scraped.get(("spaceqa_answers_total", frozenset({("outcome", "abstained")})), 0)
    assert answered + abstained == 2 and answered >= 1 and abstained >= 1
    assert scraped[("spaceqa_answer_top_score_count", frozenset())] == 2
    assert scraped[("spaceqa_answer_top_score_bucket", frozenset({("le", "1.0")}))] == 2
