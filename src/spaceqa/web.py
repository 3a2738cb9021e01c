"""Serves the chat page, the document view page and their static files from ``web/``."""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, current_app, send_from_directory

bp = Blueprint("web", __name__)

WEB_DIR = Path(__file__).resolve().parents[2] / "web"


@bp.get("/")
def index():
    return send_from_directory(current_app.config["SPACEQA_WEB_DIR"], "index.html")


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
