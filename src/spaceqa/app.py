"""The Flask application factory."""

from __future__ import annotations

from typing import Any, Mapping

from flask import Flask

from . import admin, api, apidocs, cors, observability, openapi, security, web
from .config import Settings
from .embed import Embedder
from .pipeline import open_engine

MAX_REQUEST_BYTES = 64 * 1024  # an /ask body is a question and a short history; anything larger is refused


def create_app(config: Mapping[str, Any] | Settings | None = None, *, embedder: Embedder | None = None, reader=None) -> Flask:
    """Build the app: defaults, then ``SPACEQA_*`` variables, then ``config``.

    The model and index are loaded here, once, and shared by every request thread;
    the index is built first when missing or stale, and a new version written later (by
    `spaceqa index` or the admin endpoints) is switched to without a restart.
    ``embedder`` and ``reader`` (an ``(ExtractiveReader, Calibration)`` pair) let tests supply fakes.
    """
    settings = config if isinstance(config, Settings) else Settings.load(config)
    app = Flask(__name__, static_folder=None)
    app.config.update(
        SPACEQA_SETTINGS=settings,
        SPACEQA_WEB_DIR=str(web.WEB_DIR),
        MAX_CONTENT_LENGTH=MAX_REQUEST_BYTES,
    )
    app.url_map.merge_slashes = False  # "/documents//etc/x" is an unknown id (404), not a redirect
    app.json.sort_keys = False
    app.json.ensure_ascii = False
    engine = app.extensions["spaceqa"] = open_engine(settings, embedder, reader)
    if settings.reload_interval > 0:
        engine.watch(settings.index_dir, settings.reload_interval)  # hot swap to indexes built elsewhere
    app.register_blueprint(api.bp)
    app.register_blueprint(admin.bp)
    app.register_blueprint(web.bp)
    api.register_error_handlers(app)
    security.init_app(app)
    cors.init_app(app, settings.allowed_origins)
    observability.init_app(app)
    openapi.init_app(app)
    apidocs.init_app(app)
    return app
