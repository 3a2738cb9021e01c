"""How ``spaceqa serve`` runs the app under waitress: threads, body size limit, timeouts, connections.

One function, so the CLI and the tests that serve the app over real HTTP use the same options.

Slow clients.  Waitress reads every request whole (head and body) in its one event-loop thread
before a worker thread sees it, so a client that connects and says nothing, or trickles a body a
byte at a time, holds one socket and a few KiB, never a worker.  What such clients can exhaust is
the connection limit: at waitress's default of 100, 100 of them locked everyone else out, and a
trickling client is never idle, so ``channel_timeout`` alone never frees its place.  Hence a
limit far above any slow-client count we expect to see unproxied (CONNECTION_LIMIT), poll()
instead of select() (select() cannot watch a descriptor numbered 1024 or more), and an open-file
limit raised to match by ``spaceqa serve`` (``raise_file_limit``).  Waitress has no bound on the
total time to receive one request, so a determined client with thousands of sockets can still
fill the limit: a public service belongs behind a reverse proxy that limits connections per
address (README, "Behind a reverse proxy").
"""

from __future__ import annotations

from flask import Flask

MULTIPART_SLACK = 64 * 1024  # an upload's multipart envelope (boundary, part headers) around the file itself
CHANNEL_TIMEOUT_S = 30  # an idle or stalled connection (a slow-drip client) is closed; a request being answered is not
CLEANUP_INTERVAL_S = 5  # how often waitress looks for such connections (its default, 30, let them stay up to 60 s)
CONNECTION_LIMIT = 1000  # open connections at once; more wait in the listen backlog (see the module docstring)
FILES_PER_CONNECTION = 3  # a socket, plus a temporary file each for a large request body and a large response
FILES_RESERVED = 256  # the index, models, logs and libraries of the process itself


def body_limit(app: Flask) -> int:
    """The largest request body waitress reads: the most any route of ``app`` accepts, plus a multipart envelope.

    Waitress refuses a longer body at its Content-Length, before reading it, so no client can
    make it buffer more.  It is not the API's own 64 KiB: `POST /documents` takes uploads up to
    SPACEQA_MAX_UPLOAD_BYTES, and waitress answers its refusal in plain text, outside the app
    (no JSON error, no security headers, no access-log line), so every body a route could accept
    reaches the app, and an /ask body over 64 KiB gets the app's JSON 413.
    """
    settings = app.config["SPACEQA_SETTINGS"]
    return max(app.config["MAX_CONTENT_LENGTH"], settings.max_upload_bytes) + MULTIPART_SLACK


def files_needed(connections: int = CONNECTION_LIMIT) -> int:
    """Open files the process may need with ``connections`` connections open at once."""
    return FILES_RESERVED + FILES_PER_CONNECTION * connections


def connections_allowed(open_files: int) -> int:
    """The connection limit that an open-file limit of ``open_files`` can keep: CONNECTION_LIMIT, or fewer."""
    return max(1, min(CONNECTION_LIMIT, (open_files - FILES_RESERVED) // FILES_PER_CONNECTION))


def raise_file_limit(wanted: int) -> tuple[int, int]:
    """Raise this process's soft open-file limit (``ulimit -n``) toward ``wanted``; (before, after).

    Only up to the hard limit, which an unprivileged process cannot pass.  Where the platform
    has no such limit (no ``resource`` module), both are ``wanted``.
    """
    try:
        import resource
    except ImportError:  # Windows: no per-process descriptor limit to raise
        return wanted, wanted
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:  # -1, which the arithmetic of connections_allowed must not see
        return wanted, wanted
    if soft >= wanted:
        return soft, soft
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    except (ValueError, OSError):  # e.g. macOS refuses more than OPEN_MAX
        return soft, soft
    return soft, target


def waitress_options(app: Flask, *, threads: int, connection_limit: int = CONNECTION_LIMIT) -> dict:
    """Keyword arguments for ``waitress.create_server`` (besides host and port)."""
    return {
        "threads": threads,
        "max_request_body_size": body_limit(app),
        "channel_timeout": CHANNEL_TIMEOUT_S,
        "cleanup_interval": CLEANUP_INTERVAL_S,
        "connection_limit": connection_limit,
        "asyncore_use_poll": True,
        "ident": "spaceqa",
    }
