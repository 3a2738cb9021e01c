"""A Flask app behind a real WSGI server (waitress) in a background thread, for tests."""

from __future__ import annotations

import contextlib
import threading
from typing import Iterator

from waitress import wasyncore
from waitress.server import create_server


@contextlib.contextmanager
def serve_in_thread(app, threads: int = 4) -> Iterator[str]:
    """Serve ``app`` on a free port; yields its base URL and stops the server on exit."""
    sockets: dict = {}
    server = create_server(app, host="127.0.0.1", port=0, threads=threads, map=sockets)
    stop = threading.Event()

    # Our own loop instead of server.run(), so the sockets are closed by the thread that polls
    # them: closing them from the test thread could pull a socket from under a select() call.
    def serve() -> None:
        while not stop.is_set():
            wasyncore.loop(timeout=0.05, map=sockets, count=1)
        server.task_dispatcher.shutdown()
        wasyncore.close_all(sockets)

    thread = threading.Thread(target=serve, name="waitress", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.effective_port}"
    finally:
        stop.set()
        thread.join(timeout=10)
