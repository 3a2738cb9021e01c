"""`spaceqa serve` as a real process behind a real WSGI server (waitress)."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def request(url: str, payload: dict | None = None, timeout: float = 30) -> tuple[int, dict]:
    data = json.dumps(payload).encode() if payload is not None else None
    req = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"} if data else {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


@pytest.fixture(scope="module")
def server(tmp_path_factory, bundled_copy: Path):
    """Start `spaceqa serve` on a free port with no index yet: it must build one, then serve."""
    root = tmp_path_factory.mktemp("serve")
    corpus = root / "corpus"
    shutil.copytree(bundled_copy, corpus)
    port = free_port()
    log = open(root / "serve.log", "w+")
    process = subprocess.Popen(
        [sys.executable, "-m", "spaceqa.cli", "serve", "--corpus", str(corpus), "--index", str(root / "index"), "--port", str(port)],
        stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if process.poll() is not None:
            log.seek(0)
            pytest.fail(f"spaceqa serve exited with {process.returncode}:\n{log.read()}")
        try:
            if request(f"{base}/healthz", timeout=2)[0] == 200:
                break
        except OSError:
            time.sleep(0.5)
    else:
        process.kill()
        pytest.fail("spaceqa serve did not become healthy in time")
    yield base
    process.terminate()
    process.wait(timeout=30)
    log.close()


def test_serves_health_and_answers(server):
    status, health = request(f"{server}/healthz")
    assert status == 200 and health["documents"] == 5
    status, body = request(f"{server}/ask", {"question": "Which company's flights reduced America's need for rides to the ISS from the Russians?"})
    assert status == 200 and body["answer"] == "SpaceX"


def test_bad_input_is_a_json_4xx_over_the_wire(server):
    status, body = request(f"{server}/ask", {"question": ""})
    assert status == 400 and body["error"]["code"] == "empty_question"
    status, body = request(f"{server}/documents/..%2F..%2Fetc%2Fpasswd")
    assert status == 404 and "error" in body
