"""Serves the chat page, the document view page and their static files from ``web/``."""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Response, current_app, send_from_directory

bp = Blueprint("web", __name__)

WEB_DIR = Path(__file__).resolve().parents[2] / "web"
# The question box's length limit as written in index.html; the page is served with the
# server's own (SPACEQA_MAX_QUESTION_CHARS), so the box and the API refuse at the same length.
_PAGE_LIMIT = 'maxlength="500"'


@bp.get("/")
def index():
    page = (Path(current_app.config["SPACEQA_WEB_DIR"]) / "index.html").read_text(encoding="utf-8")
    limit = current_app.config["SPACEQA_SETTINGS"].max_question_chars
    return Response(page.replace(_PAGE_LIMIT, f'maxlength="{limit}"', 1), mimetype="text/html")


@bp.get("/view/<path:doc_id>")
def view(doc_id: str):
    """One document, readable, with a cited sentence highlighted (``#sentence=START-END``).

    The page is static: view.js reads the id from the URL and fetches ``/documents/<doc_id>``,
    so an unknown id is reported on the page with the API's own message.
    """
    return send_from_directory(current_app.config["SPACEQA_WEB_DIR"], "view.html")


@bp.get("/static/<path:filename>")
def static(filename: str):
    # send_from_directory refuses paths that escape the folder.
    return send_from_directory(current_app.config["SPACEQA_WEB_DIR"], filename)
