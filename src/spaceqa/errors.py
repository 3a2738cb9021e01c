"""SpaceQA's own exceptions.  The CLI and the API each translate them once, at their edge."""

from __future__ import annotations


class SpaceQAError(Exception):
    """Base class: a problem the user can act on; the message says what to do."""

    code = "spaceqa_error"


class IndexMissingError(SpaceQAError):
    code = "index_missing"


class IndexMismatchError(SpaceQAError):
    """The index on disk was built from other documents, another model or other settings."""

    code = "index_stale"


class EmptyCorpusError(SpaceQAError):
    code = "empty_corpus"


class QuestionSetError(SpaceQAError):
    """A question set for ``spaceqa eval`` that cannot be read; the message names the line."""

    code = "invalid_question_set"


class InvalidRequestError(SpaceQAError):
    """A request the API refuses; ``status`` is the HTTP status it maps to."""

    code = "invalid_request"

    def __init__(self, message: str, *, code: str = "invalid_request", status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.status = status
