"""The JSON API: ``POST /ask``, ``GET /documents``, ``GET /documents/<doc_id>``, ``GET /healthz``.

Every error, ours or Flask's, leaves as ``{"error": {"code", "message"}}`` with a 4xx/5xx
status; no stack trace ever reaches a client.
"""

from __future__ import annotations

import json
import logging
import unicodedata

from flask import Blueprint, Flask, current_app, jsonify, request
from werkzeug.exceptions import HTTPException

from .config import Settings
from .conversation import PastTurn
from .errors import InvalidRequestError
from .pipeline import Engine

bp = Blueprint("api", __name__)
log = logging.getLogger("spaceqa")

MAX_TOP_K = 10
DEFAULT_TOP_K = 3


def engine() -> Engine:
    return current_app.extensions["spaceqa"]


def settings() -> Settings:
    return current_app.config["SPACEQA_SETTINGS"]


@bp.post("/ask")
def ask():
    payload = _json_object()
    question = _question(payload.get("question"))
    history = _history(payload.get("history", []))
    top_k = _top_k(payload.get("top_k", DEFAULT_TOP_K))
    result = engine().ask(question, history, top_k=top_k)
    current_app.extensions["spaceqa.metrics"].observe_answer(result.answer is not None, result.answers[0].score if result.answers else 0.0)
    return jsonify(result.to_dict())


@bp.get("/documents")
def documents():
    """What the index holds, sorted by id: no document text, so the list stays small."""
    index = engine().index  # one index throughout, even if a hot swap happens meanwhile
    listed = []
    for doc_id in sorted(index.documents):
        doc = index.documents[doc_id]
        first_sentence, end_sentence, _, _ = index.document_ranges[doc_id]
        listed.append(
            {
                "doc_id": doc_id,
                "title": doc.title,
                # The last page with text left after cleaning; null for documents without pages.
                "pages": doc.pages[-1][0] if doc.pages else None,
                "characters": len(doc.text),
                "sentences": end_sentence - first_sentence,
            }
        )
    return jsonify({"documents": listed})


@bp.get("/documents/<path:doc_id>")
def document(doc_id: str):
    # Ids are looked up in the loaded index, never joined onto a file path: nothing outside the
    # corpus can be named, whatever "../" or "%2e%2e" the id holds.
    doc = engine().index.documents.get(doc_id)
    if doc is None:
        raise InvalidRequestError(f"no document with id {doc_id!r}", code="document_not_found", status=404)
    return jsonify(doc.to_dict())


@bp.get("/healthz")
def healthz():
    served = engine()
    manifest = served.index.manifest
    refused = served.refused
    return jsonify(
        {
            "status": "ok",
            "documents": manifest.counts["documents"],
            "chunks": manifest.counts["chunks"],
            "index_version": manifest.version,
            # A newer index that could not be served (the old one still answers), e.g. one
            # built with another embedding runtime: null when the newest index is served.
            "index_problem": {"version": refused[0], "reason": refused[1]} if refused else None,
        }
    )


# --- request validation ----------------------------------------------------------------


def _json_object() -> dict:
    if not request.is_json:
        raise InvalidRequestError(
            f"send JSON with Content-Type: application/json (got {request.content_type or 'none'!r})",
            code="unsupported_media_type",
            status=415,
        )
    raw = request.get_data(cache=False)
    try:
        payload = json.loads(raw)
    except (ValueError, RecursionError):
        raise InvalidRequestError("the request body is not valid JSON", code="malformed_json") from None
    if not isinstance(payload, dict):
        raise InvalidRequestError(f"the request body must be a JSON object, got {type(payload).__name__}", code="invalid_body")
    return payload


def _question(value) -> str:
    limit = settings().max_question_chars
    if value is None:
        raise InvalidRequestError('"question" is required: {"question": "Who was the first American aboard Mir?"}', code="missing_question")
    if not isinstance(value, str):
        raise InvalidRequestError(f'"question" must be a string, got {_json_type(value)}', code="invalid_question")
    question = value.strip()
    if not question:
        raise InvalidRequestError('"question" is empty', code="empty_question")
    if len(question) > limit:
        raise InvalidRequestError(f'"question" is {len(question)} characters; the limit is {limit}', code="question_too_long")
    refused = _refused_character(question)
    if refused:
        raise InvalidRequestError(f'"question" contains {refused}; remove it and ask again', code="invalid_question")
    return question


def _refused_character(text: str) -> str | None:
    """Describe the first character a question may not hold, or None.

    Control characters (NUL and the like; tab and line breaks are fine) are never part of a
    question, and a lone surrogate ("\\ud800" in JSON) is not text at all: it cannot be
    tokenised or even encoded as UTF-8 in the response.  Format characters stay allowed:
    right-to-left marks and zero-width joiners belong to real text and emoji.
    """
    for position, char in enumerate(text):
        if char not in "\t\n\r" and unicodedata.category(char) in ("Cc", "Cs"):
            kind = "a lone surrogate" if unicodedata.category(char) == "Cs" else "the control character"
            return f"{kind} U+{ord(char):04X} at position {position}"
    return None


HISTORY_FIELDS = ("question", "answer", "understood_as")


def _history(value) -> list[PastTurn]:
    """Earlier turns: a question string, or ``{"question", "answer", "understood_as"}`` as the chat saw it."""
    limits = settings()
    if not isinstance(value, list):
        raise InvalidRequestError(f'"history" must be a list of earlier turns, got {_json_type(value)}', code="invalid_history")
    if len(value) > limits.max_history:
        raise InvalidRequestError(f'"history" has {len(value)} entries; the limit is {limits.max_history}', code="invalid_history")
    history = []
    for position, entry in enumerate(value):
        where = f'"history"[{position}]'
        if isinstance(entry, str):
            entry = {"question": entry}
        elif not isinstance(entry, dict):
            raise InvalidRequestError(f'{where} must be a question or an object with "question" and "answer", got {_json_type(entry)}', code="invalid_history")
        unknown = sorted(set(entry) - set(HISTORY_FIELDS))
        if unknown:
            raise InvalidRequestError(f'{where} has unknown field {unknown[0]!r}; the fields are {", ".join(HISTORY_FIELDS)}', code="invalid_history")
        question = _history_text(entry.get("question"), f"{where}.question", required=True)
        if not question:
            continue  # an empty earlier question says nothing about this one
        history.append(
            PastTurn(
                question,
                answer=_history_text(entry.get("answer"), f"{where}.answer"),
                answer_known="answer" in entry,  # null is an answer too: the documents did not answer
                understood_as=_history_text(entry.get("understood_as"), f"{where}.understood_as"),
            )
        )
    return history


def _history_text(value, where: str, *, required: bool = False) -> str | None:
    """A text field of a history entry, stripped; None when null (and allowed)."""
    limit = settings().max_question_chars
    if value is None and not required:
        return None
    if not isinstance(value, str):
        raise InvalidRequestError(f"{where} must be a string{'' if required else ' or null'}, got {_json_type(value)}", code="invalid_history")
    if len(value) > limit:
        raise InvalidRequestError(f"{where} is {len(value)} characters; the limit is {limit}", code="invalid_history")
    refused = _refused_character(value.strip())
    if refused:
        raise InvalidRequestError(f"{where} contains {refused}; remove it", code="invalid_history")
    return value.strip() or (None if not required else "")


def _top_k(value) -> int:
    # bool is an int in Python; true is not a count.
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= MAX_TOP_K:
        raise InvalidRequestError(f'"top_k" must be a whole number from 1 to {MAX_TOP_K}, got {json.dumps(value)}', code="invalid_top_k")
    return value


def _json_type(value) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean", type(None): "null"}.get(type(value), "a number")


# --- errors ------------------------------------------------------------------------------


def error_response(code: str, message: str, status: int):
    response = jsonify({"error": {"code": code, "message": message}})
    response.status_code = status
    return response


def register_error_handlers(app: Flask) -> None:
    """One JSON error shape for the whole app, including Flask's own 404/405/413."""

    @app.errorhandler(InvalidRequestError)
    def _invalid(error: InvalidRequestError):
        return error_response(error.code, str(error), error.status)

    @app.errorhandler(HTTPException)
    def _http(error: HTTPException):
        code = (error.name or "error").lower().replace(" ", "_")
        return error_response(code, error.description or error.name, error.code or 500)

    @app.errorhandler(Exception)
    def _unexpected(error: Exception):
        log.exception("unhandled error on %s %s", request.method, request.path)
        return error_response("internal_error", "the server failed to handle this request; it has been logged", 500)
