"""Typed records passed between pipeline stages.

Every offset in SpaceQA is a character offset into ``Document.text``: the cleaned
text that ``GET /documents/<doc_id>`` serves.  Keeping one coordinate system is
what lets an answer be checked with ``doc.text[start:end] == answer.text``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Document:
    """A cleaned document: what the index holds and the API serves."""

    doc_id: str  # path relative to the corpus folder, with "/" separators
    title: str
    text: str
    sha256: str  # of the source file's bytes; decides whether a rebuild is needed
    pages: tuple[tuple[int, int], ...] = ()  # (page number, offset where its text starts): PDFs only

    def page_at(self, offset: int) -> int | None:
        """The page holding character ``offset``, or None for a document without pages."""
        page = None
        for number, start in self.pages:
            if start > offset:
                break
            page = number
        return page

    def to_dict(self) -> dict:
        return {"doc_id": self.doc_id, "title": self.title, "text": self.text}


@dataclass(frozen=True)
class Sentence:
    """One sentence of a document, by offsets; ``sentence_id`` is its row in the index."""

    sentence_id: int
    doc_id: str
    start: int
    end: int


@dataclass(frozen=True)
class Chunk:
    """A passage of whole sentences; ``chunk_id`` is its row in the FAISS index."""

    chunk_id: int
    doc_id: str
    start: int
    end: int
    first_sentence: int  # sentence ids [first_sentence, last_sentence) lie inside the chunk
    last_sentence: int


@dataclass(frozen=True)
class Answer:
    """An extractive answer: a span copied from a document, inside the sentence that holds it."""

    text: str
    sentence: str
    score: float  # calibrated confidence in [0, 1] that the sentence answers the question
    doc_id: str
    title: str
    start: int
    end: int
    sentence_start: int
    sentence_end: int
    passage: str
    passage_start: int
    passage_end: int
    page: int | None = None  # page of the sentence, for documents with pages (PDF)

    def to_dict(self) -> dict:
        data = asdict(self)
        data["score"] = round(self.score, 4)
        return data


@dataclass(frozen=True)
class AskResult:
    """What one question gets back: the answer, or None when the documents do not answer it."""

    question: str
    answer: str | None
    answers: list[Answer]
    took_ms: float
    understood_as: str | None = None  # the question as SpaceQA understood it, when not as asked (a follow-up)

    def to_dict(self) -> dict:
        return {
            "question": self.question,
            "understood_as": self.understood_as,
            "answer": self.answer,
            "answers": [answer.to_dict() for answer in self.answers],
            "took_ms": round(self.took_ms, 1),
        }
