"""Observability: one access-log line per request, and Prometheus metrics at ``GET /metrics``.

The access log is the logger ``spaceqa.access`` (``POST /ask 200 23.4ms 9f1c…``, the last
field the request's id); it propagates to ``spaceqa``, which ``spaceqa serve`` prints to
stderr.  Every response carries its id as ``X-Request-Id``: the client's own, when it sent a
well-formed one, else a new one, so a user's report can be found in the log.  The metrics live in a registry of
this app's own, never prometheus_client's global one, so any number of apps (tests build
many) can live in one process.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Callable, Iterable
from urllib.parse import quote

from flask import Blueprint, Flask, Response, current_app, request
from prometheus_client import CollectorRegistry, Counter, Histogram, ProcessCollector, generate_latest
from prometheus_client.core import GaugeMetricFamily

bp = Blueprint("observability", __name__)
access_log = logging.getLogger("spaceqa.access")

# The classic Prometheus text format; prometheus_client's CONTENT_TYPE_LATEST has moved on to 1.0.0.
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# Fast routes (/healthz, /documents) answer in about a millisecond, /ask in tens: buckets from 1 ms to 10 s.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 10.0)
# Label values come from a fixed set, so a client cannot grow the series without bound:
# the route is the URL rule ("/documents/<path:doc_id>"), never the raw path; any other method is "other".
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED = "<unmatched>"  # the route label of a request no rule matched (404, 405)
ROUTE_KEY = "spaceqa.route"  # where the matched rule waits in the WSGI environ
MAX_LOGGED_PATH = 300
REQUEST_ID_HEADER = "X-Request-Id"
WELL_FORMED_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")  # a client's id is kept only if it cannot break a log line
SCORE_BUCKETS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
PATH_SAFE = "/:@!$&'()*+,;=-._~"  # left as they are in a logged path: RFC 3986 path characters


class Metrics:
    """The app's metrics: a request counter and latency histogram, and the index read at scrape time."""

    def __init__(self, engine: Callable[[], object]) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "spaceqa_http_requests", "HTTP requests answered, by method, route (URL rule) and status.",
            ["method", "route", "status"], registry=self.registry,
        )
        self.latency = Histogram(
            "spaceqa_http_request_duration_seconds", "Time from receiving a request to its response, by method and route.",
            ["method", "route"], buckets=LATENCY_BUCKETS, registry=self.registry,
        )
        self.answers = Counter(
            "spaceqa_answers", "Questions asked, by outcome: answered, or abstained (the documents do not answer).",
            ["outcome"], registry=self.registry,
        )
        self.top_score = Histogram(
            "spaceqa_answer_top_score", "The calibrated score of each question's top answer (0 when there is none).",
            buckets=SCORE_BUCKETS, registry=self.registry,
        )
        self.registry.register(IndexCollector(engine))
        ProcessCollector(registry=self.registry)  # process_resident_memory_bytes, CPU seconds, open fds

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        method = method if method in KNOWN_METHODS else "other"
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(method, route).observe(seconds)

    def observe_answer(self, answered: bool, top_score: float) -> None:
        self.answers.labels("answered" if answered else "abstained").inc()
        self.top_score.observe(top_score)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


class IndexCollector:
    """Gauges of the live index, read from the engine at each scrape so they follow a hot swap."""

    def __init__(self, engine: Callable[[], object]) -> None:
        self._engine = engine

    def collect(self) -> Iterable[GaugeMetricFamily]:
        manifest = self._engine().index.manifest
        info = GaugeMetricFamily("spaceqa_index_info", "The index being served; its version is a label.", labels=["version"])
        info.add_metric([manifest.version], 1)
        yield info
        yield GaugeMetricFamily("spaceqa_index_documents", "Documents in the index being served.", value=manifest.counts["documents"])
        yield GaugeMetricFamily("spaceqa_index_chunks", "Passages (chunks) in the index being served.", value=manifest.counts["chunks"])

    def describe(self) -> list:
        return []  # nothing to check at registration; collect() needs a loaded engine


class _Observed:
    """WSGI middleware around ``app.wsgi_app``: times every request, then logs and counts it once.

    Outside Flask, so error responses, Flask's own 404/405/413 and even an exception that
    escapes Flask (testing mode) are each seen exactly once.
    """

    def __init__(self, wsgi_app, metrics: Metrics) -> None:
        self.wsgi_app = wsgi_app
        self.metrics = metrics

    def __call__(self, environ, start_response):
        started = time.perf_counter()
        status = [500]
        offered = environ.get("HTTP_X_REQUEST_ID", "")
        request_id = offered if WELL_FORMED_ID.fullmatch(offered) else uuid.uuid4().hex

        def observed_start_response(status_line, headers, exc_info=None):
            status[0] = int(status_line.split(" ", 1)[0])
            headers = [(name, value) for name, value in headers if name.lower() != REQUEST_ID_HEADER.lower()]
            return start_response(status_line, [*headers, (REQUEST_ID_HEADER, request_id)], exc_info)

        try:
            return self.wsgi_app(environ, observed_start_response)
        finally:
            # Time to the response's headers; a streamed body (static files) is sent after this.
            seconds = time.perf_counter() - started
            method = environ.get("REQUEST_METHOD", "")
            self.metrics.observe(method, environ.get(ROUTE_KEY, UNMATCHED), status[0], seconds)
            access_log.info("%s %s %d %.1fms %s", _quoted(method), _quoted(_path(environ)), status[0], seconds * 1000, request_id)


def init_app(app: Flask) -> None:
    """Log and count every request of ``app``, and serve its metrics at ``GET /metrics``."""
    metrics = Metrics(lambda: app.extensions["spaceqa"])
    app.extensions["spaceqa.metrics"] = metrics
    app.before_request(_remember_route)
    app.wsgi_app = _Observed(app.wsgi_app, metrics)
    app.register_blueprint(bp)


def _remember_route() -> None:
    # before_request runs even when routing failed (url_rule is None then), before any view.
    if request.url_rule is not None:
        request.environ[ROUTE_KEY] = request.url_rule.rule


@bp.get("/metrics")
def metrics():
    return Response(current_app.extensions["spaceqa.metrics"].exposition(), content_type=CONTENT_TYPE)


def _path(environ) -> str:
    # WSGI hands the path over as latin-1 characters standing for its bytes; they are UTF-8.
    return environ.get("PATH_INFO", "").encode("latin-1", "replace").decode("utf-8", "replace")


def _quoted(text: str) -> str:
    """``text`` as one token of one log line: percent-encoded as in a URL (a "%0a" or a space in a
    path can neither start a forged line nor shift the fields), and capped in length."""
    if len(text) > MAX_LOGGED_PATH:
        text = text[:MAX_LOGGED_PATH] + "..."
    return quote(text, safe=PATH_SAFE)
