"""The README's example nginx configuration, run in front of SpaceQA: it answers, and slow clients stay nginx's.

The configuration is taken from README.md as written; only what a test machine must change is
changed (a plain-HTTP port instead of TLS, the upstream's port, writable paths). Skips without
nginx (`make test` installs it with Chromium).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import threading
import time

import pytest

from conftest import PROJECT
from servers import raw_request, serve_in_thread

pytestmark = pytest.mark.integration

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
SLOW_CLIENTS = 150
WITHIN_S = 2.0


def readme_nginx_config() -> str:
    readme = (PROJECT / "README.md").read_text(encoding="utf-8")
    return re.search(r"```nginx\n(.*?)```", readme, re.DOTALL).group(1)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def proxied(tmp_path, tiny_app):
    """nginx with the README's configuration in front of the app; yields nginx's port."""
    if not os.path.exists(NGINX):
        pytest.skip("nginx is not installed (make test installs it)")
    with serve_in_thread(tiny_app) as app_port:
        port = free_port()
        server = readme_nginx_config()
        server = server.replace("listen 443 ssl;", f"listen 127.0.0.1:{port};").replace("server 127.0.0.1:8000;", f"server 127.0.0.1:{app_port};")
        server = "\n".join(line for line in server.splitlines() if "ssl_certificate" not in line)
        temp = {name: tmp_path / name for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")}
        config = tmp_path / "nginx.conf"
        config.write_text(
            f"daemon off;\npid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log;\nevents {{ worker_connections 1024; }}\n"
            f"http {{\n  access_log {tmp_path}/access.log;\n"
            + "".join(f"  {name}_temp_path {path};\n" for name, path in temp.items())
            + server
            + "\n}\n"
        )
        checked = subprocess.run([NGINX, "-t", "-p", str(tmp_path), "-c", str(config)], capture_output=True, text=True)
        assert checked.returncode == 0, checked.stderr
        process = subprocess.Popen([NGINX, "-p", str(tmp_path), "-c", str(config)], stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    time.sleep(0.1)
            yield port
        finally:
            process.terminate()
            process.wait(timeout=10)


def test_the_readme_nginx_configuration_passes_questions_through_and_holds_slow_clients_itself(proxied):
    health = raw_request(proxied, "GET", "/healthz")
    assert health.status == 200 and health.headers.get("x-request-id")
    body = json.dumps({"question": "How long did Valeri Polyakov stay aboard Mir?"}).encode()
    asked = raw_request(proxied, "POST", "/ask", body=body, headers={"Content-Type": "application/json"})
    assert asked.status == 200 and json.loads(asked.body)["answers"]

    # The slow clients come from another address (127.0.0.2): the configuration caps open
    # requests per address, so from the probe's own address they would be refused, as meant.
    slow = []
    for n in range(SLOW_CLIENTS):  # half idle, half a POST head and one byte of a 4000-byte body
        sock = socket.create_connection(("127.0.0.1", proxied), timeout=5, source_address=("127.0.0.2", 0))
        if n % 2:
            sock.sendall(b"POST /ask HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 4000\r\n\r\n{")
        slow.append(sock)
    stop = threading.Event()

    def trickle() -> None:
        while not stop.wait(1.5):
            for sock in slow[1::2]:
                sock.sendall(b" ")

    dripper = threading.Thread(target=trickle, daemon=True)
    dripper.start()
    try:
        time.sleep(2)
        started = time.monotonic()
        assert raw_request(proxied, "GET", "/healthz", timeout=WITHIN_S).status == 200
        assert raw_request(proxied, "POST", "/ask", body=body, headers={"Content-Type": "application/json"}, timeout=WITHIN_S).status == 200
        assert time.monotonic() - started < 2 * WITHIN_S
    finally:
        stop.set()
        dripper.join()
        for sock in slow:
            sock.close()
