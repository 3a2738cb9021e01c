"""`spaceqa serve` hands waitress its limits and prints one access line per request to stderr.

waitress.create_server is replaced by a stand-in that records its options and sends requests through
the app, so the command runs in-process with the fake embedder and returns.
"""

from __future__ import annotations

import logging

import pytest
import waitress
from click.testing import CliRunner
from fakes import fake_reader

from spaceqa import app as app_module
from spaceqa.cli import main
from spaceqa.serving import (
    CHANNEL_TIMEOUT_S,
    CLEANUP_INTERVAL_S,
    CONNECTION_LIMIT,
    body_limit,
)


@pytest.fixture
def spaceqa_logger():
    """The "spaceqa" logger as a fresh process has it, and as it was afterwards.

    The command adds a stderr handler only when the logger has none, so one left by an earlier
    in-process run (bound to that run's captured stderr) is set aside first.
    """
    logger = logging.getLogger("spaceqa")
    handlers, level = list(logger.handlers), logger.level
    logger.handlers[:] = []
    yield logger
    logger.handlers[:] = handlers
    logger.setLevel(level)


def test_serve_passes_limits_and_logs_each_request(monkeypatch, tmp_path, tiny_corpus, fake_embedder, spaceqa_logger):
    real_create_app = app_module.create_app
    monkeypatch.setattr(app_module, "create_app", lambda settings: real_create_app(settings, embedder=fake_embedder, reader=fake_reader()))
    served = {}

    class FakeServer:
        def __init__(self, app, **options):
            served.update(options, app=app)
            self.app = app

        def run(self):
            client = self.app.test_client()
            client.get("/healthz")
            client.post("/ask", json={"question": ""})

    monkeypatch.setattr(waitress, "create_server", FakeServer)
    result = CliRunner().invoke(
        main, ["serve", "--corpus", str(tiny_corpus), "--index", str(tmp_path / "index"), "--port", "8123"], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    app = served.pop("app")
    assert served == {
        "host": "127.0.0.1",
        "port": 8123,
        "threads": 8,
        "max_request_body_size": body_limit(app),
        "channel_timeout": CHANNEL_TIMEOUT_S,
        "cleanup_interval": CLEANUP_INTERVAL_S,
        "connection_limit": CONNECTION_LIMIT,
        "asyncore_use_poll": True,  # select() cannot watch descriptors numbered 1024 and up
        "ident": "spaceqa",
    }
    assert f"up to {CONNECTION_LIMIT} connections at once" in result.stderr
    access = [line for line in result.stderr.splitlines() if line.startswith(("GET ", "POST "))]
    # method, path, status, duration, request id
    assert [line.split()[:3] for line in access] == [["GET", "/healthz", "200"], ["POST", "/ask", "400"]]
    assert all(len(line.split()) == 5 and line.split()[3].endswith("ms") for line in access)
    assert result.stdout == ""  # the log goes to stderr only


def test_waitress_reads_every_body_a_route_accepts_and_no_more(tmp_path, tiny_corpus, fake_embedder):
    from spaceqa import create_app

    app = create_app({"corpus_dir": tiny_corpus, "index_dir": tmp_path / "index", "max_upload_bytes": 5_000_000}, embedder=fake_embedder, reader=fake_reader())
    limit = body_limit(app)
    assert limit > app.config["MAX_CONTENT_LENGTH"]  # an /ask body over 64 KiB reaches the app: its JSON 413
    assert 5_000_000 < limit <= 5_000_000 + 128 * 1024  # an upload at the limit fits, with its multipart envelope


def test_a_taken_port_is_one_line_before_any_model_loads(monkeypatch, tmp_path, tiny_corpus):
    import socket

    monkeypatch.setattr(app_module, "create_app", lambda settings: pytest.fail("the models must not load for a port that is taken"))
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        result = CliRunner().invoke(main, ["serve", "--corpus", str(tiny_corpus), "--index", str(tmp_path / "index"), "--port", str(port)])
    assert result.exit_code == 1
    assert result.output.count("\n") == 1 and f"cannot listen on 127.0.0.1:{port}" in result.output and "--port" in result.output
    assert "serving" not in result.output


def test_serve_raises_a_low_open_file_limit_or_lowers_its_connection_limit_to_fit():
    import subprocess
    import sys

    from spaceqa.serving import connections_allowed, files_needed

    # In a child process: this one's limits are pytest's.  Soft 512, hard just enough for the full limit.
    script = (
        "import resource; from spaceqa.serving import raise_file_limit, files_needed;"
        "resource.setrlimit(resource.RLIMIT_NOFILE, (512, files_needed()));"
        "print(*raise_file_limit(files_needed()), resource.getrlimit(resource.RLIMIT_NOFILE)[0])"
    )
    child = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False)
    assert child.returncode == 0, child.stderr
    assert child.stdout.split() == ["512", str(files_needed()), str(files_needed())]
    assert connections_allowed(files_needed()) == CONNECTION_LIMIT
    assert 1 <= connections_allowed(1024) < CONNECTION_LIMIT  # a hard limit of 1024: fewer connections, no failing accept()


def test_an_unlimited_open_file_limit_keeps_the_full_connection_limit(monkeypatch):
    import resource

    from spaceqa.serving import connections_allowed, files_needed, raise_file_limit

    monkeypatch.setattr(resource, "getrlimit", lambda which: (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
    assert connections_allowed(raise_file_limit(files_needed())[1]) == CONNECTION_LIMIT  # not 1, as -1 files gave
