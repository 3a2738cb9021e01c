"""The app behind a real WSGI server (waitress) in a background thread, with `spaceqa serve`'s options.

Our own poll loop instead of ``server.run()``, so the sockets are closed by the thread that
polls them: closing them from the test thread could pull a socket from under a select() call.
``raw_request`` sends bytes exactly as given, for requests no HTTP client library would send.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from waitress import wasyncore
from waitress.server import create_server

from spaceqa.serving import waitress_options


@contextmanager
def serve_in_thread(app, *, threads: int = 8) -> Iterator[int]:
    """Serve ``app`` on a free port of 127.0.0.1 until the block ends; yields the port."""
    sockets: dict = {}
    server = create_server(app, host="127.0.0.1", port=0, map=sockets, **waitress_options(app, threads=threads))
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            wasyncore.loop(timeout=0.05, map=sockets, count=1, use_poll=server.adj.asyncore_use_poll)
        server.task_dispatcher.shutdown()
        wasyncore.close_all(sockets)

    thread = threading.Thread(target=serve, name="waitress", daemon=True)
    thread.start()
    try:
        yield server.effective_port
    finally:
        stop.set()
        thread.join(timeout=10)


class RawResponse:
    def __init__(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.status, self.headers, self.body = status, headers, body

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    def __repr__(self) -> str:
        return f"<{self.status} {self.headers.get('content-type')} {self.body[:200]!r}>"


def raw_request(port: int, method: str, target: bytes | str, *, body: bytes = b"", headers: dict[str, str] | None = None, timeout: float = 30) -> RawResponse:
    """Send one HTTP/1.1 request exactly as given (any bytes in the target), read the whole response."""
    target = target.encode("latin-1") if isinstance(target, str) else target
    head = [method.encode("ascii") + b" " + target + b" HTTP/1.1", b"Host: 127.0.0.1", b"Connection: close"]
    for name, value in (headers or {}).items():
        head.append(f"{name}: {value}".encode("latin-1"))
    if body or method in ("POST", "PUT", "PATCH"):
        head.append(f"Content-Length: {len(body)}".encode("ascii"))
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(b"\r\n".join(head) + b"\r\n\r\n" + body)
        received = bytearray()
        while chunk := sock.recv(65536):
            received += chunk
    head_bytes, _, payload = bytes(received).partition(b"\r\n\r\n")
    lines = head_bytes.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    response_headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        response_headers[name.strip().lower()] = value.strip()
    return RawResponse(status, response_headers, payload)
