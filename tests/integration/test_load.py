"""Load: 8 concurrent clients x 60 requests against waitress with `spaceqa serve`'s options.

No timing assertions: this checks that concurrency loses, breaks and double-counts nothing
(responses, metrics, access log), not how fast it is; bench/serve_bench.py measures speed.
"""

from __future__ import annotations

import http.client
import json
import logging
import threading

import pytest

from conftest import TINY_DOCUMENTS, write_corpus
from fakes import HashEmbedder, fake_reader
from servers import serve_in_thread

CLIENTS = 8
REQUESTS_PER_CLIENT = 60
SUBJECTS = ["Neil Armstrong", "the Apollo program", "Mir", "Valeri Polyakov", "the Baikonur Cosmodrome", "tomatoes", "Apollo 17", "the core module"]
ASKS = ["Who was {}?", "When did {} happen?", "Where was {}?", "Tell me about {}", "How long did {} last?", "What is {}?"]


class Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.messages: list[str] = []
        self._guard = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        with self._guard:
            self.messages.append(record.getMessage())


@pytest.fixture
def access_lines():
    logger = logging.getLogger("spaceqa.access")
    handler, level = Collect(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield handler.messages
    logger.removeHandler(handler)
    logger.setLevel(level)


def client_run(port: int, number: int, results: list, errors: list) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)  # one keep-alive connection per client
    try:
        for i in range(REQUESTS_PER_CLIENT):
            # Mostly distinct questions, so the engine's cache does not answer them all.
            question = ASKS[i % len(ASKS)].format(SUBJECTS[(i + number) % len(SUBJECTS)]) + f" ({number}-{i})"
            connection.request("POST", "/ask", body=json.dumps({"question": question, "top_k": 1 + i % 3}), headers={"Content-Type": "application/json"})
            response = connection.getresponse()
            results.append((response.status, response.getheader("Content-Type"), question, response.read()))
    except Exception as error:  # a client that dies is an error of the run, reported below
        errors.append(repr(error))
    finally:
        connection.close()


def test_concurrent_clients_all_get_well_formed_answers(tmp_path, access_lines):
    from spaceqa import create_app

    app = create_app({"corpus_dir": write_corpus(tmp_path / "corpus", TINY_DOCUMENTS), "index_dir": tmp_path / "index"}, embedder=HashEmbedder(), reader=fake_reader())
    results: list = []
    errors: list = []
    with serve_in_thread(app, threads=8) as port:
        clients = [threading.Thread(target=client_run, args=(port, n, results, errors)) for n in range(CLIENTS)]
        for thread in clients:
            thread.start()
        for thread in clients:
            thread.join()
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        connection.request("GET", "/metrics")
        metrics = connection.getresponse().read().decode()
        connection.close()

    assert errors == []
    assert len(results) == CLIENTS * REQUESTS_PER_CLIENT == 480
    for status, content_type, question, raw in results:
        assert status == 200 and content_type == "application/json", raw[:300]
        body = json.loads(raw)
        assert body["question"] == question  # each response belongs to its own request
        assert set(body) == {"question", "understood_as", "answer", "answers", "took_ms"} and body["answers"]
    # Counted once each, from 8 threads at once: no update lost, none doubled.
    assert 'spaceqa_http_requests_total{method="POST",route="/ask",status="200"} 480.0' in metrics
    assert 'spaceqa_http_request_duration_seconds_count{method="POST",route="/ask"} 480.0' in metrics
    assert sum(line.startswith("POST /ask 200 ") for line in access_lines) == 480
