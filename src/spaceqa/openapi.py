"""The OpenAPI 3.1 description of the JSON API, served at ``GET /openapi.json``.

Written by hand as data, next to the code it describes; tests/unit/test_openapi.py holds the
two in step (every route of the app is here with its methods, every path here is a route, and
the documented fields are the ones the responses carry).  Limits are filled in from the app's
settings, so the description states the limits this server enforces.
"""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify

from . import api

bp = Blueprint("openapi", __name__)

# Routes of the web page, not of the API: the test that holds the spec to the app skips these.
PAGE_ROUTES = frozenset({"/", "/view/<path:doc_id>", "/static/<path:filename>", "/docs", "/docs/style.css"})

ERROR_CODES = [
    "malformed_json", "unsupported_media_type", "invalid_body", "missing_question", "invalid_question",
    "empty_question", "question_too_long", "invalid_history", "invalid_top_k", "document_not_found",
    "not_found", "method_not_allowed", "request_entity_too_large", "internal_error",
    # document management (admin token)
    "admin_disabled", "unauthorized", "missing_file", "invalid_filename", "unsupported_type", "empty_document",
    "unreadable_document", "document_exists", "last_document", "empty_corpus",
]


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict, description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _error(description: str) -> dict:
    return {"$ref": f"#/components/responses/{description}"}


_DOC_ID = {
    "name": "doc_id",
    "in": "path",
    "required": True,
    "description": (
        "The document's path relative to the corpus folder; it may contain `/` (e.g. `notes/mir.txt`). "
        "Hidden files, and symlinks to them or to files outside the corpus, are never documents."
    ),
    "schema": {"type": "string"},
}
_ADMIN_ERRORS = {"401": _error("Unauthorized"), "403": _error("AdminDisabled"), "500": _error("InternalError")}


def spec(*, max_question_chars: int, max_history: int, max_body_bytes: int, max_upload_bytes: int = 0) -> dict:
    """The OpenAPI document for a server with these limits."""
    from . import __version__  # here, not at import: spaceqa/__init__ imports the app, which imports us
    offset = {"type": "integer", "minimum": 0}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "SpaceQA",
            "version": __version__,
            "summary": "Offline extractive question answering over a folder of documents.",
            "description": (
                "Answers are spans copied verbatim from a document, with character offsets into the "
                "document text served by `GET /documents/{doc_id}`. Every error has the shape "
                "`{\"error\": {\"code\", \"message\"}}`. Pages of the origins named in `SPACEQA_CORS_ORIGINS` "
                "(none by default) may call the public routes from a browser; the admin routes answer only their own origin."
            ),
        },
        "paths": {
            "/ask": {
                "post": {
                    "operationId": "ask",
                    "summary": "Answer a question from the documents",
                    "requestBody": {
                        "required": True,
                        "description": f"A JSON object; bodies over {max_body_bytes} bytes are refused (413).",
                        "content": {"application/json": {"schema": _ref("AskRequest")}},
                    },
                    "responses": {
                        "200": _json(_ref("AskResponse"), "The answers, best first; `answer` is null when the documents do not answer."),
                        "400": _error("BadRequest"),
                        "413": _error("TooLarge"),
                        "415": _error("UnsupportedMediaType"),
                        "500": _error("InternalError"),
                    },
                }
            },
            "/documents/{doc_id}": {
                "get": {
                    "operationId": "getDocument",
                    "summary": "One document's cleaned text, which all answer offsets point into",
                    "parameters": [_DOC_ID],
                    "responses": {
                        "200": _json(_ref("Document"), "The document."),
                        "404": _error("NotFound"),
                    },
                },
                "delete": {
                    "operationId": "deleteDocument",
                    "summary": "Remove an indexed document from the corpus and reindex (admin token); ids the index does not hold are 404",
                    "security": [{"adminToken": []}],
                    "parameters": [_DOC_ID],
                    "responses": {
                        "200": _json(_ref("Deleted"), "Removed, and the index rebuilt without it."),
                        "404": _error("NotFound"),
                        "409": _error("Conflict"),
                        **_ADMIN_ERRORS,
                    },
                },
            },
            "/documents": {
                "get": {
                    "operationId": "listDocuments",
                    "summary": "The documents of the index, sorted by id, without their text",
                    "responses": {"200": _json(_ref("DocumentList"), "Every document the index holds.")},
                },
                "post": {
                    "operationId": "addDocument",
                    "summary": "Add a document to the corpus and reindex (admin token)",
                    "description": (
                        "Send the file as the multipart field `file`, or as the raw body with `?filename=`. "
                        "Names are plain file names (letters, digits, `.`, `-`, `_`, spaces) of a supported type: "
                        ".txt, .md, .markdown, .html, .htm, .pdf. The upload is read back before it is kept; "
                        "a rejected upload leaves no file."
                    ),
                    "security": [{"adminToken": []}],
                    "parameters": [
                        {"name": "filename", "in": "query", "required": False, "schema": {"type": "string"}, "description": "The file name, for a raw-body upload."},
                        {"name": "overwrite", "in": "query", "required": False, "schema": {"type": "boolean", "default": False}, "description": "Replace a document of the same name."},
                    ],
                    "requestBody": {
                        "required": True,
                        "description": f"The document; at most {max_upload_bytes} bytes (413 above).",
                        "content": {
                            "multipart/form-data": {"schema": {"type": "object", "required": ["file"], "properties": {"file": {"type": "string", "contentMediaType": "application/octet-stream"}}}},
                            "application/octet-stream": {"schema": {"type": "string", "contentMediaType": "application/octet-stream"}},
                        },
                    },
                    "responses": {
                        "201": _json(_ref("Added"), "Added, and the index rebuilt with it."),
                        "400": _error("BadRequest"),
                        "409": _error("Conflict"),
                        "413": _error("TooLarge"),
                        "415": _error("UnsupportedMediaType"),
                        "422": _error("Unreadable"),
                        **_ADMIN_ERRORS,
                    },
                }
            },
            "/admin/reindex": {
                "post": {
                    "operationId": "reindex",
                    "summary": "Rebuild the index from the corpus on disk (admin token)",
                    "security": [{"adminToken": []}],
                    "parameters": [
                        {"name": "full", "in": "query", "required": False, "schema": {"type": "boolean", "default": False}, "description": "Re-embed every document instead of only the new and changed ones."}
                    ],
                    "responses": {"200": _json(_ref("BuildReport"), "The build report; the server now serves the new index."), "409": _error("Conflict"), **_ADMIN_ERRORS},
                }
            },
            "/healthz": {
                "get": {
                    "operationId": "health",
                    "summary": "Liveness, and the index being served",
                    "responses": {"200": _json(_ref("Health"), "The server is up and serving this index.")},
                }
            },
            "/metrics": {
                "get": {
                    "operationId": "metrics",
                    "summary": "Prometheus metrics in the text exposition format 0.0.4",
                    "description": (
                        "`spaceqa_http_requests_total{method,route,status}`, "
                        "`spaceqa_http_request_duration_seconds{method,route}` (histogram), "
                        "`spaceqa_index_info{version}`, `spaceqa_index_documents`, `spaceqa_index_chunks`, "
                        "`spaceqa_answers_total{outcome}` (`answered` or `abstained`), "
                        "`spaceqa_answer_top_score` (histogram of each question's top score), "
                        "and the process's `process_*` metrics."
                    ),
                    "responses": {
                        "200": {
                            "description": "The metrics.",
                            "content": {"text/plain; version=0.0.4": {"schema": {"type": "string"}}},
                        }
                    },
                }
            },
            "/openapi.json": {
                "get": {
                    "operationId": "openapi",
                    "summary": "This description of the API",
                    "responses": {"200": _json({"type": "object"}, "An OpenAPI 3.1 document.")},
                }
            },
        },
        "components": {
            "schemas": {
                "AskRequest": {
                    "type": "object",
                    "required": ["question"],
                    "properties": {
                        "question": {
                            "type": "string", "minLength": 1, "maxLength": max_question_chars,
                            "description": "The question; surrounding white space is ignored. Control characters other than tab and line breaks are refused.",
                        },
                        "history": {
                            "type": "array", "maxItems": max_history, "default": [],
                            "items": {"oneOf": [{"type": "string", "maxLength": max_question_chars}, _ref("PastTurn")]},
                            "description": (
                                "Earlier turns of this chat, oldest first; makes follow-ups work. Each is the earlier question, "
                                "or better the question with the answer the user saw, which spares asking it again."
                            ),
                        },
                        "top_k": {"type": "integer", "minimum": 1, "maximum": api.MAX_TOP_K, "default": api.DEFAULT_TOP_K, "description": "How many answers to return."},
                    },
                },
                "PastTurn": {
                    "type": "object",
                    "required": ["question"],
                    "additionalProperties": False,
                    "properties": {
                        "question": {"type": "string", "maxLength": max_question_chars},
                        "answer": {
                            "type": ["string", "null"], "maxLength": max_question_chars,
                            "description": "The answer the user saw; null when there was none. Left out: the question is asked again to learn it.",
                        },
                        "understood_as": {
                            "type": ["string", "null"], "maxLength": max_question_chars,
                            "description": "The `understood_as` SpaceQA returned for that question, so that a pronoun two turns on is still resolved.",
                        },
                    },
                },
                "AskResponse": {
                    "type": "object",
                    "required": ["question", "understood_as", "answer", "answers", "took_ms"],
                    "properties": {
                        "question": {"type": "string"},
                        "understood_as": {
                            "type": ["string", "null"],
                            "description": "How a follow-up was understood, e.g. with the earlier answer in place of a pronoun; null when the question was taken as asked.",
                        },
                        "answer": {"type": ["string", "null"], "description": "The top answer's text, or null when its score is below the minimum: the documents do not answer."},
                        "answers": {"type": "array", "items": _ref("Answer"), "description": "Best first, at most top_k, one per distinct sentence."},
                        "took_ms": {"type": "number", "minimum": 0},
                    },
                },
                "Answer": {
                    "type": "object",
                    "description": "A span copied verbatim: `text == document.text[start:end]`, likewise for sentence and passage.",
                    "required": [
                        "text", "sentence", "score", "doc_id", "title", "start", "end",
                        "sentence_start", "sentence_end", "passage", "passage_start", "passage_end", "page",
                    ],
                    "properties": {
                        "text": {"type": "string", "description": "The short answer; the whole sentence when no short span was identified."},
                        "sentence": {"type": "string", "description": "The sentence the answer was copied from."},
                        "score": {"type": "number", "minimum": 0, "maximum": 1, "description": "Calibrated confidence."},
                        "doc_id": {"type": "string"},
                        "title": {"type": "string"},
                        "start": offset,
                        "end": offset,
                        "sentence_start": offset,
                        "sentence_end": offset,
                        "passage": {"type": "string", "description": "The retrieved passage around the sentence."},
                        "passage_start": offset,
                        "passage_end": offset,
                        "page": {"type": ["integer", "null"], "minimum": 1, "description": "The page of the sentence in documents with pages (PDF); null otherwise."},
                    },
                },
                "Document": {
                    "type": "object",
                    "required": ["doc_id", "title", "text"],
                    "properties": {"doc_id": {"type": "string"}, "title": {"type": "string"}, "text": {"type": "string"}},
                },
                "DocumentList": {
                    "type": "object",
                    "required": ["documents"],
                    "properties": {"documents": {"type": "array", "items": _ref("DocumentSummary"), "description": "Sorted by `doc_id`."}},
                },
                "DocumentSummary": {
                    "type": "object",
                    "required": ["doc_id", "title", "pages", "characters", "sentences"],
                    "properties": {
                        "doc_id": {"type": "string"},
                        "title": {"type": "string"},
                        "pages": {"type": ["integer", "null"], "minimum": 1, "description": "The last page with text (PDF); null for documents without pages."},
                        "characters": {"type": "integer", "minimum": 1, "description": "Length of the document's text, as served by `GET /documents/{doc_id}`."},
                        "sentences": {"type": "integer", "minimum": 0},
                    },
                },
                "Health": {
                    "type": "object",
                    "required": ["status", "documents", "chunks", "index_version", "index_problem"],
                    "properties": {
                        "status": {"type": "string", "const": "ok"},
                        "documents": {"type": "integer", "minimum": 0},
                        "chunks": {"type": "integer", "minimum": 0},
                        "index_version": {"type": "string"},
                        "index_problem": {
                            "description": "A newer index version that could not be served, and why (the version above still answers); null when the newest is served.",
                            "oneOf": [
                                {"type": "null"},
                                {"type": "object", "required": ["version", "reason"], "properties": {"version": {"type": "string"}, "reason": {"type": "string"}}},
                            ],
                        },
                    },
                },
                "BuildReport": {
                    "type": "object",
                    "required": ["version", "documents", "indexed", "unchanged", "removed", "chunks", "embedded_chunks", "sentences", "seconds", "skipped", "failed", "published"],
                    "properties": {
                        "version": {"type": "string", "description": "The index version now live."},
                        "documents": {"type": "integer", "minimum": 0},
                        "indexed": {"type": "integer", "minimum": 0, "description": "Documents read and embedded: new or changed."},
                        "unchanged": {"type": "integer", "minimum": 0, "description": "Documents whose stored vectors were reused."},
                        "removed": {"type": "integer", "minimum": 0},
                        "chunks": {"type": "integer", "minimum": 0},
                        "embedded_chunks": {"type": "integer", "minimum": 0},
                        "sentences": {"type": "integer", "minimum": 0},
                        "seconds": {"type": "number", "minimum": 0},
                        "skipped": {"type": "array", "items": {"type": "array", "prefixItems": [{"type": "string"}, {"type": "string"}]}, "description": "[file, reason]: not a supported type."},
                        "failed": {"type": "array", "items": {"type": "array", "prefixItems": [{"type": "string"}, {"type": "string"}]}, "description": "[file, reason]: supported but unreadable; one that has not changed since it failed is not read again."},
                        "published": {"type": "boolean", "description": "False when nothing had changed and the live version stays."},
                    },
                },
                "Added": {
                    "type": "object",
                    "required": ["doc_id", "title", "replaced", "index"],
                    "properties": {
                        "doc_id": {"type": "string"},
                        "title": {"type": ["string", "null"]},
                        "replaced": {"type": "boolean"},
                        "index": _ref("BuildReport"),
                    },
                },
                "Deleted": {
                    "type": "object",
                    "required": ["doc_id", "deleted", "index"],
                    "properties": {"doc_id": {"type": "string"}, "deleted": {"type": "boolean", "const": True}, "index": _ref("BuildReport")},
                },
                "Error": {
                    "type": "object",
                    "required": ["error"],
                    "properties": {
                        "error": {
                            "type": "object",
                            "required": ["code", "message"],
                            "properties": {
                                "code": {"type": "string", "examples": ERROR_CODES, "description": "Stable, machine-readable."},
                                "message": {"type": "string", "description": "For people: what was wrong and how to fix it."},
                            },
                        }
                    },
                },
            },
            "responses": {
                name: _json(_ref("Error"), description)
                for name, description in {
                    "BadRequest": "The request is invalid; `code` says how.",
                    "NotFound": "No such document (ids are looked up in the index, never on disk).",
                    "TooLarge": "The body is over the size limit.",
                    "UnsupportedMediaType": "Send `Content-Type: application/json`.",
                    "InternalError": "The server failed; the details are in its log, not in the response.",
                    "Unauthorized": "Send the admin token as `Authorization: Bearer <token>`.",
                    "AdminDisabled": "Document management is off: the server has no SPACEQA_ADMIN_TOKEN.",
                    "Conflict": "The change would clash: the name exists (use `?overwrite=true`), or it is the last document.",
                    "Unreadable": "The file is of a supported type but cannot be read; the message says why.",
                }.items()
            },
            "securitySchemes": {"adminToken": {"type": "http", "scheme": "bearer", "description": "SPACEQA_ADMIN_TOKEN"}},
        },
    }


def init_app(app) -> None:
    """Serve the description at ``GET /openapi.json``."""
    app.register_blueprint(bp)


def current_spec() -> dict:
    """The description of the app serving this request, with its limits."""
    settings = api.settings()
    return spec(
        max_question_chars=settings.max_question_chars,
        max_history=settings.max_history,
        max_body_bytes=current_app.config["MAX_CONTENT_LENGTH"],
        max_upload_bytes=settings.max_upload_bytes,
    )


@bp.get("/openapi.json")
def openapi_json():
    return jsonify(current_spec())
