"""Serves the chat page and its static files from the ``web/`` folder of the project."""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, current_app, send_from_directory

bp = Blueprint("web", __name__)

WEB_DIR = Path(__file__).resolve().parents[2] / "web"


@bp.get("/")
def index():
    return send_from_directory(current_app.config["SPACEQA_WEB_DIR"], "index.html")


@bp.get("/static/<path:filename>")
def static(filename: str):
    # send_from_directory refuses paths that escape the folder.
    return send_from_directory(current_app.config["SPACEQA_WEB_DIR"], filename)
