"""How ``spaceqa serve`` runs the app under waitress: threads, body size limit, timeouts.

One function, so the CLI and the tests that serve the app over real HTTP use the same options.
"""

from __future__ import annotations

from flask import Flask

MULTIPART_SLACK = 64 * 1024  # an upload's multipart envelope (boundary, part headers) around the file itself
CHANNEL_TIMEOUT_S = 30  # an idle or stalled connection (a slow-drip client) is closed; a request being answered is not
CONNECTION_LIMIT = 100  # open connections at once; more wait in the listen backlog


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


def waitress_options(app: Flask, *, threads: int) -> dict:
    """Keyword arguments for ``waitress.create_server`` (besides host and port)."""
    return {
        "threads": threads,
        "max_request_body_size": body_limit(app),
        "channel_timeout": CHANNEL_TIMEOUT_S,
        "connection_limit": CONNECTION_LIMIT,
        "ident": "spaceqa",
    }
