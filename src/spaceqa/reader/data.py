"""Training examples for the reader, from SQuAD-format question files.

Each paragraph of the files becomes a document of a SpaceQA index (built by the caller
with the ordinary ``build_index``), so sentences and windows are cut exactly as they are
when a user asks.  Every question gives:

* one **positive**: a window that holds its answer, centred on the answer's sentence or on
  a neighbour whose window still holds it (an answer is not always in the middle);
* sometimes a **negative** (no answer), of one of four kinds:
  ``paragraph`` (another window of the same paragraph), ``article`` (a window of another
  paragraph of the same article), ``retrieved`` (a window that SpaceQA's own retriever
  ranks high for the question: the hard case the reader meets at ask time), and
  ``swapped``: the positive's own window with a question that no longer fits it, because
  a name or number the question shares with the window is replaced by one of the same
  shape taken from elsewhere in the article.  The window still holds a plausible answer,
  so the reader must check that the question's particulars are the window's before it
  answers: the adversarial kind of unanswerable question SQuAD 2.0 is made of.
  A window counts as a negative only when no gold answer appears in it at all.
"""

from __future__ import annotations

import random
import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Sequence

import numpy as np

from ..tokens import Tokenizer
from .reading import InputSettings, cut_question
from .windows import window_range

if TYPE_CHECKING:  # the rows (Features) load where there is no index library, e.g. a GPU machine
    from ..index import LoadedIndex

NEGATIVE_KINDS = ("paragraph", "article", "retrieved", "swapped")
RETRIEVED_CANDIDATES = 12  # how deep in the retriever's ranking a hard negative may come from
# What a swapped question may change: a number, or a run of capitalised words (a name).
SWAPPABLE = re.compile(r"\b\d[\d,.]*\d\b|\b\d\b|\b[A-Z][\w'-]*(?:\s+(?:of\s+|the\s+)?[A-Z][\w'-]*)*")


@dataclass(frozen=True)
class SquadQuestion:
    question: str
    doc_id: str  # the paragraph's document in the training corpus
    article: str  # the paragraph's article: negatives of kind "article" come from its other paragraphs
    answers: tuple[tuple[str, int], ...]  # (text, character offset in the paragraph)


@dataclass(frozen=True)
class Example:
    """A question with a window of text, and where the answer lies in it (-1, -1: nowhere)."""

    question: str
    text: str
    answer_start: int
    answer_end: int
    kind: str  # "positive" or one of NEGATIVE_KINDS


def read_squad(path: Path, prefix: str = "") -> tuple[dict[str, str], list[SquadQuestion]]:
    """The paragraphs of a SQuAD file as ``{doc_id: text}``, and its answerable questions.

    Documents are named as ``spaceqa eval`` names them, under ``prefix/`` when given.
    """
    from ..errors import QuestionSetError
    from ..evaluate import squad_document_name, squad_paragraphs

    documents, questions = {}, []
    try:
        for article, number, paragraph in squad_paragraphs(path):
            doc_id = f"{prefix}/" * bool(prefix) + squad_document_name(article["title"], number)
            documents[doc_id] = str(paragraph["context"])
            for qa in paragraph["qas"]:
                answers = tuple((a["text"], int(a["answer_start"])) for a in qa.get("answers", []) if a["text"].strip())
                if answers and not qa.get("is_impossible"):
                    questions.append(SquadQuestion(str(qa["question"]), doc_id, f"{prefix}/{article['title']}", answers))
    except (ValueError, KeyError, TypeError, AttributeError) as error:  # JSON and UTF-8 errors are ValueErrors
        raise QuestionSetError(
            f"{path} is not SQuAD JSON as training reads it ({type(error).__name__}: {error}): it needs "
            "data[].title, data[].paragraphs[].context, and qas[] with question and answers[] of text and answer_start"
        ) from None
    return documents, questions


def locate(text: str, answer: str, near: int, scale: float = 1.0) -> tuple[int, int] | None:
    """Where ``answer`` occurs in ``text``, the occurrence nearest ``near * scale``.

    The index cleans each document (whitespace, invisible characters), so SQuAD's offsets
    can drift a little: the nearest occurrence of the answer's text is the one meant.
    """
    found, position = [], text.find(answer)
    while position >= 0:
        found.append(position)
        position = text.find(answer, position + 1)
    if not found:
        return None
    start = min(found, key=lambda p: abs(p - near * scale))
    return start, start + len(answer)


class ExampleBuilder:
    """Turns questions into examples over one index of their paragraphs."""

    def __init__(self, index: LoadedIndex, tokenizer: Tokenizer, settings: InputSettings, originals: dict[str, str]) -> None:
        self.index = index
        self.tokenizer = tokenizer
        self.settings = settings
        self.originals = originals  # doc_id -> SQuAD's own paragraph text, which its offsets point into
        texts = [index.sentence_text(i) for i in range(len(index.sentences))]
        self.token_counts = [len(offsets) for offsets in tokenizer.offsets(texts)]
        self.by_article: dict[str, list[str]] = defaultdict(list)

    def register(self, questions: Iterable[SquadQuestion]) -> None:
        """Note each question's paragraph under its article (paragraphs the index left out are skipped)."""
        for article, doc_id in sorted({(q.article, q.doc_id) for q in questions}):
            if doc_id in self.index.documents:
                self.by_article[article].append(doc_id)

    def window(self, doc_id: str, center: int, budget: int) -> tuple[int, int]:
        """Character range of the window around local sentence ``center`` of ``doc_id``."""
        first_id, last_id = self.index.document_ranges[doc_id][:2]
        first, last = window_range(center, self.token_counts[first_id:last_id], budget)
        return self.index.sentences[first_id + first].start, self.index.sentences[first_id + last - 1].end

    def examples(self, question: SquadQuestion, rng: random.Random, negatives: dict[str, float], retrieved: Sequence[int] = ()) -> list[Example]:
        """The positive of ``question`` and, each with its probability, negatives of each kind."""
        if question.doc_id not in self.index.documents:
            return []
        text = self.index.documents[question.doc_id].text
        original = self.originals.get(question.doc_id, text)
        answer_text, answer_at = question.answers[0]
        span = locate(text, answer_text, answer_at, len(text) / max(1, len(original)))
        if span is None:
            return []
        _, question_tokens = cut_question(self.tokenizer, question.question, self.settings.max_question_tokens)
        budget = self.settings.window_budget(question_tokens)
        first_id, last_id = self.index.document_ranges[question.doc_id][:2]
        holding = [c for c in range(last_id - first_id) if _covers(self.window(question.doc_id, c, budget), span)]
        if not holding:
            return []
        start, end = self.window(question.doc_id, rng.choice(holding), budget)
        found = [Example(question.question, text[start:end], span[0] - start, span[1] - start, "positive")]
        golds = [a.lower() for a, _ in question.answers]
        positive_window = text[start:end]
        for kind in NEGATIVE_KINDS:
            if rng.random() >= negatives.get(kind, 0.0):
                continue
            if kind == "swapped":  # the same window, a question it no longer answers
                swapped = self._swapped_question(question, positive_window, rng)
                if swapped is not None:
                    found.append(Example(swapped, positive_window, -1, -1, kind))
                continue
            window = self._negative(kind, question, budget, golds, rng, retrieved)
            if window is not None:
                doc_id, (start, end) = window
                found.append(Example(question.question, self.index.documents[doc_id].text[start:end], -1, -1, kind))
        return found

    def _negative(self, kind, question, budget, golds, rng, retrieved) -> tuple[str, tuple[int, int]] | None:
        if kind == "paragraph":
            places = [(question.doc_id, c) for c in range(self._sentence_count(question.doc_id))]
        elif kind == "article":
            others = [d for d in self.by_article[question.article] if d != question.doc_id]
            doc_id = rng.choice(others) if others else None
            places = [(doc_id, c) for c in range(self._sentence_count(doc_id))] if doc_id else []
        else:
            places = [(self.index.sentences[s].doc_id, s - self.index.document_ranges[self.index.sentences[s].doc_id][0]) for s in retrieved]
        usable = []
        for doc_id, center in places:
            window = self.window(doc_id, center, budget)
            content = self.index.documents[doc_id].text[window[0] : window[1]].lower()
            if not any(g in content for g in golds):
                usable.append((doc_id, window))
                if kind == "retrieved" and len(usable) == 3:
                    break  # the hard ones are near the top of the ranking
        return rng.choice(usable) if usable else None

    def _swapped_question(self, question: SquadQuestion, window: str, rng: random.Random) -> str | None:
        """``question`` with one name or number it shares with ``window`` replaced by another of the article's.

        The replacement has the same shape (a number for a number, a name for a name) and
        appears nowhere in the window, so the window cannot answer the changed question.
        None when the question names nothing the window holds, or the article offers no stand-in.
        """
        lowered = window.lower()
        shared = [m for m in names_and_numbers(question.question) if m.group().lower() in lowered]
        if not shared:
            return None
        chosen = rng.choice(shared)
        numeric = chosen.group()[0].isdigit()
        others = [d for d in self.by_article[question.article] if d != question.doc_id]
        stand_ins = sorted({
            m.group() for doc_id in rng.sample(others, min(len(others), 4)) for m in names_and_numbers(self.index.documents[doc_id].text)
            if m.group()[0].isdigit() == numeric and m.group().lower() not in lowered
        })
        if not stand_ins:
            return None
        return question.question[: chosen.start()] + rng.choice(stand_ins) + question.question[chosen.end() :]

    def _sentence_count(self, doc_id: str) -> int:
        first_id, last_id = self.index.document_ranges[doc_id][:2]
        return last_id - first_id


def retrieved_sentences(index: LoadedIndex, embedder, questions: Sequence[str], depth: int = RETRIEVED_CANDIDATES, progress: bool = False) -> list[list[int]]:
    """The sentences SpaceQA's retriever ranks highest for each question, best first."""
    from tqdm import tqdm

    from ..retrieve import Query, Retriever
    from ..text import terms

    retriever = Retriever(index)
    vectors = embedder.embed(list(questions), show_progress=progress)
    ranked = []
    for question, vector in tqdm(list(zip(questions, vectors)), desc="retrieving hard negatives", unit="question", disable=not progress):
        ranked.append([c.sentence_id for c in retriever.candidates(Query(vector=vector, terms=terms(question)))[:depth]])
    return ranked


@dataclass
class Features:
    """Examples tokenised for training: a row per input, with its labels."""

    input_ids: list[np.ndarray]
    token_type_ids: list[np.ndarray]
    context_mask: list[np.ndarray]
    start: np.ndarray  # token position of the answer's start; 0 ([CLS]) when the row has no answer
    end: np.ndarray
    answerable: np.ndarray  # 1.0 when the row holds the whole answer


def featurise(examples: Sequence[Example], tokenizer: Tokenizer, settings: InputSettings, batch: int = 2048) -> Features:
    """Tokenise examples as ``reading.encode`` does; label each row with the answer's tokens.

    A window read in several strides gives several rows; a row that holds only part of
    the answer, or none of it, is a negative.
    """
    ids, types, contexts, starts, ends, labels = [], [], [], [], [], []
    for first in range(0, len(examples), batch):
        part = examples[first : first + batch]
        questions = [cut_question(tokenizer, e.question, settings.max_question_tokens)[0] for e in part]
        encoded = tokenizer.pairs(questions, [e.text for e in part], settings.max_length, settings.stride)
        for row, example_number in enumerate(encoded.source_of_row):
            example = part[example_number]
            length = int(encoded.attention_mask[row].sum())
            offsets = encoded.offsets[row]
            context = encoded.in_second[row, :length].astype(np.int8)
            start = end = 0
            if example.answer_start >= 0:
                inside = np.flatnonzero(context)
                if offsets[inside[0]][0] <= example.answer_start and offsets[inside[-1]][1] >= example.answer_end:
                    start = next(int(i) for i in inside if offsets[i][1] > example.answer_start)
                    end = next(int(i) for i in reversed(inside) if offsets[i][0] < example.answer_end)
            ids.append(encoded.input_ids[row, :length].astype(np.int32))
            types.append(encoded.token_type_ids[row, :length].astype(np.int8))
            contexts.append(context)
            starts.append(start)
            ends.append(end)
            labels.append(1.0 if end > 0 else 0.0)
    return Features(ids, types, contexts, np.array(starts), np.array(ends), np.array(labels, dtype=np.float32))


def names_and_numbers(text: str) -> list[re.Match]:
    """Numbers and capitalised runs of ``text``, except at a sentence's start (capitalised anyway)."""
    return [m for m in SWAPPABLE.finditer(text) if m.group()[0].isdigit() or text[: m.start()].rstrip()[-1:] not in ("", ".", "!", "?", '"', "“")]


def _covers(window: tuple[int, int], span: tuple[int, int]) -> bool:
    return window[0] <= span[0] and span[1] <= window[1]
