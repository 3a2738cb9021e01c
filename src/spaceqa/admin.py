"""Changing the corpus over HTTP: upload, delete, reindex.  Every route needs the admin token.

``Authorization: Bearer <token>`` must equal ``SPACEQA_ADMIN_TOKEN`` (compared in constant
time); with no token configured the routes are refused (403).  Each change is followed by an
incremental rebuild and a switch to the new index.  Nothing is lost on the way:

* an upload is written to a hidden temporary file in the corpus folder, read back with the
  same reader the index uses, and only then renamed into place; a rejected upload leaves no file;
* if the rebuild after a change fails, the change to the corpus is undone and the served index
  was never touched (builds publish atomically).  Once a build has published, the change
  stands: should this server fail to load the new version, it goes on serving the old one and
  says so in ``/healthz`` (``index_problem``), and the published index is what the next start serves.
"""

from __future__ import annotations

import hmac
import logging
import os
import re
import threading
import uuid
from pathlib import Path

from flask import Blueprint, jsonify, request

from . import api
from .build import build_index
from .config import Settings
from .errors import EmptyCorpusError, InvalidRequestError
from .ingest import SUPPORTED_SUFFIXES, read_document
from .readers import UnreadableError

bp = Blueprint("admin", __name__)
log = logging.getLogger("spaceqa")

# A plain file name: letters, digits, dot, dash, underscore and space; no path, no leading dot.
_SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._ -]{0,150}")
_COPY_BLOCK = 1 << 16
_changes = threading.Lock()  # one corpus change at a time in this process (builds also lock across processes)


@bp.before_request
def _authorise() -> None:
    expected = api.settings().admin_token
    if not expected:
        raise InvalidRequestError("document management is disabled: set SPACEQA_ADMIN_TOKEN to enable it", code="admin_disabled", status=403)
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    # compare_digest takes the same time whether the tokens differ early or late.
    if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(), expected.encode()):
        raise InvalidRequestError("send the admin token as 'Authorization: Bearer <token>'", code="unauthorized", status=401)


@bp.after_request
def _challenge(response):
    if response.status_code == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="spaceqa-admin"'
    return response


@bp.post("/documents")
def upload():
    """Add a document (multipart field "file", or the raw body with ?filename=), then reindex."""
    settings = api.settings()
    request.max_content_length = settings.max_upload_bytes  # this route's own limit, above the API's
    overwrite = request.args.get("overwrite", "").lower() in ("1", "true", "yes")
    if request.mimetype == "multipart/form-data":
        upload_file = request.files.get("file")
        if upload_file is None:
            raise InvalidRequestError('send the document in a multipart field named "file"', code="missing_file")
        filename, stream = upload_file.filename or "", upload_file.stream
    else:
        filename, stream = request.args.get("filename"), request.stream
        if filename is None:
            raise InvalidRequestError('send the document as a multipart field named "file", or as the body with ?filename=NAME', code="missing_file")
    name = _safe_name(filename)
    corpus = Path(settings.corpus_dir)
    target = corpus / name
    with _changes:
        if target.exists() and not overwrite:
            raise InvalidRequestError(f"{name} already exists; add ?overwrite=true to replace it", code="document_exists", status=409)
        staged = corpus / f".upload-{uuid.uuid4().hex}{target.suffix}"
        backup = corpus / f".replaced-{uuid.uuid4().hex}{target.suffix}"
        try:
            _copy_limited(stream, staged, settings.max_upload_bytes)
            try:
                read_document(staged, corpus)  # the same reader the index will use: refuse what it cannot read
            except UnreadableError as error:
                raise InvalidRequestError(f"{name} cannot be read: {error}", code="unreadable_document", status=422) from None
            replaced = target.exists()
            if replaced:
                os.replace(target, backup)
            os.replace(staged, target)
            try:
                report = _reindex(settings)
            except BaseException:
                os.remove(target)  # undo: the corpus is as it was
                if backup.exists():
                    os.replace(backup, target)
                raise
        finally:
            for leftover in (staged, backup):
                if leftover.exists():
                    leftover.unlink()
    doc = api.engine().index.documents.get(name)
    body = {"doc_id": name, "title": doc.title if doc else None, "replaced": replaced, "index": report}
    return jsonify(body), 201


@bp.delete("/documents/<path:doc_id>")
def delete(doc_id: str):
    """Remove a document of the index from the corpus, then reindex."""
    settings = api.settings()
    with _changes:
        path = _indexed_file(settings, doc_id)
        removed = path.with_name(f".removed-{uuid.uuid4().hex}{path.suffix}")
        os.replace(path, removed)
        try:
            report = _reindex(settings)
        except EmptyCorpusError:
            os.replace(removed, path)
            raise InvalidRequestError("that is the last readable document; the index cannot be empty", code="last_document", status=409) from None
        except BaseException:
            os.replace(removed, path)
            raise
        removed.unlink()
    return jsonify({"doc_id": doc_id, "deleted": True, "index": report})


@bp.post("/admin/reindex")
def reindex():
    """Rebuild the index from the corpus as it is on disk (?full=true re-embeds everything)."""
    full = request.args.get("full", "").lower() in ("1", "true", "yes")
    with _changes:
        try:
            report = _reindex(api.settings(), full=full)
        except EmptyCorpusError as error:
            raise InvalidRequestError(f"{error}; the index served is unchanged", code="empty_corpus", status=409) from None
    return jsonify(report)


def _reindex(settings: Settings, full: bool = False) -> dict:
    engine = api.engine()
    report = build_index(settings.corpus_dir, settings.index_dir, engine.embedder, settings.chunk_params, full=full)
    try:
        engine.refresh(settings.index_dir)  # switch now rather than at the watcher's next look
    except Exception:  # published, so the change stands (see the module's docstring); /healthz names the problem
        log.exception("built index version %s but could not switch to it; still serving %s", report.version, engine.index.version)
    return report.to_dict()


def _safe_name(filename: str) -> str:
    """The file name, if it is a plain name of a supported type; never a path."""
    name = filename.strip()
    if name.startswith("."):
        raise InvalidRequestError(f"file name {filename!r} is not allowed: a name starting with '.' is a hidden file, never indexed", code="invalid_filename")
    if not _SAFE_NAME.fullmatch(name) or ".." in name:
        raise InvalidRequestError(
            f"file name {filename!r} is not allowed: use letters, digits, '.', '-', '_' and spaces, with no folders",
            code="invalid_filename",
        )
    suffix = Path(name).suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise InvalidRequestError(f"{suffix or 'no extension'} is not a supported type; send one of {', '.join(SUPPORTED_SUFFIXES)}", code="unsupported_type", status=415)
    return name


def _indexed_file(settings: Settings, doc_id: str) -> Path:
    """The corpus file of a document in the served index; 404 for any other id.

    The id is looked up before it goes near the file system: ids in the index come from the
    corpus scan (relative, inside the corpus, no hidden parts), so NUL bytes, "..", symlink
    loops and files the index does not hold (unsupported, unreadable, hidden) are all unknown ids.
    A document that is a symlink inside the corpus loses its link, never the file it points to.
    """
    unknown = InvalidRequestError(f"no document with id {doc_id!r}", code="document_not_found", status=404)
    if doc_id not in api.engine().index.documents:
        raise unknown
    path = Path(settings.corpus_dir) / doc_id
    if not os.path.lexists(path):  # gone from the folder already; the next rebuild drops it
        raise unknown
    return path


def _copy_limited(stream, target: Path, limit: int) -> None:
    written = 0
    with open(target, "xb") as handle:
        while block := stream.read(_COPY_BLOCK):
            written += len(block)
            if written > limit:
                raise InvalidRequestError(f"the document is larger than the {limit} byte limit", code="request_entity_too_large", status=413)
            handle.write(block)
    if written == 0:
        raise InvalidRequestError("the document is empty", code="empty_document")

