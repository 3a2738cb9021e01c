"""Security headers on every response: the page, its static files, the API and every error."""

from __future__ import annotations

from flask import Flask, Response

# The page is plain files from our own origin, so the policy can refuse everything else:
# no inline script or style (document text can hold "<script>"; this is the second wall
# behind building the DOM from text), no other origin, no framing, no plugins.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)

SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",  # frame-ancestors says the same to browsers that read CSP
    "Referrer-Policy": "no-referrer",
}


def init_app(app: Flask) -> None:
    """Make every response of ``app`` carry ``SECURITY_HEADERS``, error responses included."""
    # after_request also runs on the responses of error handlers, so 404s and 500s get them too.
    app.after_request(_add_security_headers)


def _add_security_headers(response: Response) -> Response:
    response.headers.update(SECURITY_HEADERS)
    return response
