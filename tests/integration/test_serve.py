"""`spaceqa serve` as a real process behind a real WSGI server (waitress)."""

from __future__ import annotations

import json
import os
import re
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


server_paths: dict[str, tuple[Path, Path, Path]] = {}  # base URL -> (corpus, index, log) of that server
server_pids: dict[str, int] = {}  # base URL -> process id of that server


@pytest.fixture(scope="module")
def server(tmp_path_factory, bundled_copy: Path):
    """Start `spaceqa serve` as on a new machine: no index, and no ONNX copy of either network yet.

    It must export both (the reader is a copy of the shipped one without its exports, the
    user cache is empty), build the index, then serve.
    """
    from spaceqa.reader import SHIPPED_READER

    root = tmp_path_factory.mktemp("serve")
    corpus = root / "corpus"
    shutil.copytree(bundled_copy, corpus)
    reader = root / "reader"
    shutil.copytree(SHIPPED_READER, reader, ignore=shutil.ignore_patterns("reader-*"))
    port = free_port()
    log = open(root / "serve.log", "w+")
    fresh = {"XDG_CACHE_HOME": str(root / "cache"), "SPACEQA_READER": str(reader)}
    process = subprocess.Popen(
        [sys.executable, "-m", "spaceqa.cli", "serve", "--corpus", str(corpus), "--index", str(root / "index"), "--port", str(port)],
        stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1", **fresh},
    )
    base = f"http://127.0.0.1:{port}"
    server_paths[base] = (corpus, root / "index", root / "serve.log")
    server_pids[base] = process.pid
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
    status, body = request(f"{server}/ask", {"question": "On what date did Soyuz-19 lift off?"})
    assert status == 200 and body["answer"] == "July 15, 1975"


@pytest.mark.skipif(not Path("/proc/self/maps").exists(), reason="reads the server's memory map from /proc (Linux)")
def test_the_server_answers_without_loading_pytorch(server):
    """Both networks run in ONNX Runtime: PyTorch (about 180 MiB and two seconds of start) never enters the server.

    Not even on this first start, which exported both networks: each export runs in a
    process of its own (onnx_export.in_fresh_process).
    """
    status, _ = request(f"{server}/ask", {"question": "Who commanded the Soyuz-19 spacecraft?"}, timeout=60)
    assert status == 200
    libraries = Path(f"/proc/{server_pids[server]}/maps").read_text()
    assert "libtorch" not in libraries and "onnxruntime" in libraries


def test_bad_input_is_a_json_4xx_over_the_wire(server):
    status, body = request(f"{server}/ask", {"question": ""})
    assert status == 400 and body["error"]["code"] == "empty_question"
    status, body = request(f"{server}/documents/..%2F..%2Fetc%2Fpasswd")
    assert status == 404 and "error" in body


def test_each_request_is_logged_once(server):
    path = f"/no-such-page-{time.monotonic_ns()}"
    try:
        urllib.request.urlopen(server + path, timeout=30)
    except urllib.error.HTTPError as error:
        assert error.code == 404
    log = server_paths[server][2]
    deadline = time.monotonic() + 5
    while path not in log.read_text() and time.monotonic() < deadline:
        time.sleep(0.1)
    lines = [line for line in log.read_text().splitlines() if path in line]
    assert len(lines) == 1 and re.fullmatch(rf"GET {re.escape(path)} 404 [\d.]+ms [0-9a-f]{{32}}", lines[0])


def test_an_index_built_by_another_process_is_served_without_a_restart(server):
    corpus, index, _ = server_paths[server]
    before = request(f"{server}/healthz")[1]["index_version"]
    (corpus / "selene.txt").write_text(
        "The Selene Accord\n\nIn 2031 the Selene Accord on lunar navigation beacons was signed in Reykjavik.", encoding="utf-8"
    )
    built = subprocess.run(
        [sys.executable, "-m", "spaceqa.cli", "index", "--corpus", str(corpus), "--index", str(index)],
        capture_output=True, text=True, timeout=300,
    )
    assert built.returncode == 0, built.stderr
    assert "indexed 1, unchanged 5" in built.stdout  # incremental: only the new document was embedded
    deadline = time.monotonic() + 30
    while request(f"{server}/healthz")[1]["index_version"] == before and time.monotonic() < deadline:
        time.sleep(0.5)
    assert request(f"{server}/healthz")[1]["documents"] == 6
    status, body = request(f"{server}/ask", {"question": "In which city was the Selene Accord signed?"})
    assert status == 200 and body["answer"] == "Reykjavik" and body["answers"][0]["doc_id"] == "selene.txt"


def test_a_starting_server_says_what_it_is_doing_before_it_serves(server):
    """A first start is long (model, index, reader): each step is said, in order, before "serving".

    (On a terminal the build also shows a progress bar; written to a file, as here, it does not.)
    """
    log = server_paths[server][2].read_text(encoding="utf-8")
    steps = [
        "loading the embedding model",
        "exporting the embedding model to ONNX once",
        "building the index, because there is no index",
        "indexed 5",
        "loading the reader",
        "exporting the reader to ONNX once",
        f"at {server}",
    ]
    positions = [log.find(step) for step in steps]
    assert -1 not in positions and positions == sorted(positions), log[:2000]
