"""Cross-origin requests from the pages of the origins named in ``SPACEQA_CORS_ORIGINS``.

Off by default.  Only the public, read-only API answers another origin: ``/ask``, the document
routes' GET and ``/healthz`` and ``/openapi.json``.  The admin routes never do: they change the
corpus, and their clients are operators with curl or the CLI, not pages of another site, so a
browser keeps them same-origin whatever the setting says.  ``/metrics`` is for scrapers, not pages.
"""

from __future__ import annotations

from flask import Flask, Response, request

# Endpoints a page of an allowed origin may call; DELETE /documents/<id> shares its URL with the
# public GET, but a preflight there is matched to the GET rule and only ever allows GET.
PUBLIC_ENDPOINTS = frozenset({"api.ask", "api.documents", "api.document", "api.healthz", "openapi.openapi_json"})
ALLOWED_HEADERS = "Content-Type"
PREFLIGHT_MAX_AGE = "600"  # seconds a browser may reuse a preflight answer


def init_app(app: Flask, origins: frozenset[str]) -> None:
    """Answer the browsers of ``origins`` on the public routes; with no origins, do nothing."""
    if not origins:
        return

    @app.after_request
    def _cors(response: Response) -> Response:
        rule = request.url_rule
        if rule is None or rule.endpoint not in PUBLIC_ENDPOINTS:
            return response
        response.vary.add("Origin")  # the answer differs by Origin: a cache must not hand one origin's to another
        origin = request.headers.get("Origin")
        if origin not in origins:
            return response
        response.headers["Access-Control-Allow-Origin"] = origin  # the one origin asking, never "*"
        if request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers:
            response.headers["Access-Control-Allow-Methods"] = ", ".join(sorted(rule.methods - {"HEAD", "OPTIONS"}))
            response.headers["Access-Control-Allow-Headers"] = ALLOWED_HEADERS
            response.headers["Access-Control-Max-Age"] = PREFLIGHT_MAX_AGE
        return response
