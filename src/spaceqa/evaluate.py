"""Evaluate: score the system on a question set with gold answers.

Two formats are read:

* JSONL, one object a line: ``{"id", "question", "answers": [...], "docs": [...]}``
  (``answers: []`` means the documents do not answer it), or ``{"id", "turns": [...]}`` for
  a conversation whose later questions are asked with the earlier turns as ``history``:
  each earlier question with the answer SpaceQA gave it, as the web chat sends them.  A
  turn may name its ``kind`` (``pronoun``, ``fragment``…); the metrics are then also
  given per kind;
* SQuAD JSON (v1.1 and v2.0).  Each paragraph is a document named ``<Title>-<NNN>.txt``
  (NNN its index within its article; characters outside ``A-Za-z0-9_.-`` in the title
  become ``_``), and every question is asked over all of them; ``is_impossible``
  questions have no answer.  ``write_squad_corpus`` writes the paragraphs as a corpus.

Metrics (answers compared after SQuAD normalisation):

* ``em``, ``f1``: of ``answer`` against the gold answers, over answerable questions;
* ``overall_em``, ``overall_f1``: over all questions, SQuAD 2.0's official figures: an
  unanswerable question scores 1 when ``answer`` is null, else 0;
* ``sentence_hit@1``: a gold answer lies inside the top answer's sentence (see
  ``answer_in_sentence``);
* ``doc_recall@k``: a gold document is among the documents of the top ``k`` answers;
* ``right_abstain``: share of unanswerable questions answered with null;
* ``false_abstain``: share of answerable questions answered with null;
* ``latency_p50_ms``, ``latency_p95_ms``: time per question inside the engine.
"""

from __future__ import annotations

import json
import random
import re
import string
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Protocol, Sequence

import numpy as np

from .conversation import PastTurn
from .errors import QuestionSetError
from .records import AskResult


class Asker(Protocol):
    def ask(self, question: str, history: Sequence[PastTurn | str] = (), top_k: int = 3) -> AskResult: ...


@dataclass(frozen=True)
class Turn:
    question: str
    answers: list[str]
    docs: list[str]
    kind: str = ""  # for conversations: how the turn leans on the earlier ones


@dataclass(frozen=True)
class Item:
    """One question, or one conversation of several turns."""

    item_id: str
    turns: list[Turn]


@dataclass
class Outcome:
    """How one question went."""

    item_id: str
    question: str
    history: list[str]
    kind: str
    understood_as: str | None
    gold: list[str]
    answer: str | None
    candidate: str | None  # the top answer's text, also when ``answer`` is null (abstained)
    sentence: str | None
    docs: list[str]
    score: float
    took_ms: float
    em: float = 0.0
    f1: float = 0.0
    sentence_hit: bool = False
    doc_hit: bool = False

    @property
    def answerable(self) -> bool:
        return bool(self.gold)

    @property
    def correct(self) -> bool:
        return self.em == 1.0 if self.answerable else self.answer is None


@dataclass
class Report:
    k: int
    metrics: dict[str, float | None]  # None where a figure has no questions to count (see percent)
    outcomes: list[Outcome] = field(default_factory=list)
    by_kind: dict[str, dict[str, float | None]] = field(default_factory=dict)  # metrics per turn kind, when turns name one

    def misses(self) -> list[Outcome]:
        return [o for o in self.outcomes if not o.correct or (o.answerable and not o.sentence_hit)]

    def to_dict(self) -> dict:
        return {
            "k": self.k,
            "metrics": self.metrics,
            **({"by_kind": self.by_kind} if self.by_kind else {}),
            "misses": [
                {
                    "id": o.item_id,
                    "question": o.question,
                    "history": o.history,
                    "kind": o.kind,
                    "understood_as": o.understood_as,
                    "gold": o.gold,
                    "answer": o.answer,
                    "candidate": o.candidate,
                    "sentence": o.sentence,
                    "score": round(o.score, 3),
                    "sentence_hit": o.sentence_hit,
                    "doc_hit": o.doc_hit,
                }
                for o in self.misses()
            ],
        }


def is_squad(path: Path) -> bool:
    """Is this file SQuAD JSON (one object with "data"), rather than JSONL?"""
    with open(path, encoding="utf-8") as handle:
        head = handle.read(4096).lstrip()
    return head.startswith("{") and '"data"' in head and "\n{" not in head


def squad_documents(path: Path) -> dict[str, str]:
    """``{file name: paragraph text}`` of a SQuAD file, named as the module docstring says."""
    documents = {}
    for article, number, paragraph in squad_paragraphs(path):
        documents[squad_document_name(article["title"], number)] = paragraph["context"]
    return documents


def write_squad_corpus(path: Path, folder: Path) -> Path:
    """Write the paragraphs of a SQuAD file into ``folder``, one document each; returns ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in squad_documents(path).items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def load_items(path: Path) -> list[Item]:
    """Read a question set, JSONL or SQuAD JSON (see the module docstring).

    ``QuestionSetError`` names the first line (or, for SQuAD, the field) that does not fit the
    format, before anything is asked: an evaluation is not left to fail halfway through.
    """
    try:
        if is_squad(path):
            try:
                return _squad_items(path)
            except (KeyError, TypeError, AttributeError, json.JSONDecodeError) as error:
                raise QuestionSetError(f"{path}: not a SQuAD file as expected ({type(error).__name__}: {error})") from None
        items = []
        with open(path, encoding="utf-8") as handle:
            for number, line in enumerate(handle, start=1):
                if line.strip():
                    try:
                        items.append(_item(json.loads(line), number))
                    except json.JSONDecodeError as error:
                        raise QuestionSetError(f"{path}, line {number}: not JSON ({error.msg}, column {error.colno})") from None
                    except QuestionSetError as error:
                        raise QuestionSetError(f"{path}, line {number}: {error}") from None
    except UnicodeDecodeError:
        raise QuestionSetError(f"{path}: not UTF-8 text") from None
    if not items:
        raise QuestionSetError(f"{path}: no questions in it")
    return items


def _item(row, number: int) -> Item:
    if not isinstance(row, dict):
        raise QuestionSetError("a JSON object is expected on every line")
    rows = row["turns"] if "turns" in row else [row]
    if not isinstance(rows, list) or not rows:
        raise QuestionSetError('"turns" must be a list of questions')
    return Item(str(row.get("id", number)), [_turn(turn) for turn in rows])


def _turn(turn) -> Turn:
    if not isinstance(turn, dict) or not isinstance(turn.get("question"), str) or not turn["question"].strip():
        raise QuestionSetError('each question needs a "question" string')
    for field_name in ("answers", "docs"):
        values = turn.get(field_name, [])
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise QuestionSetError(f'"{field_name}" must be a list of strings (an empty list when the documents do not answer)')
    return Turn(turn["question"], list(turn.get("answers", [])), list(turn.get("docs", [])), str(turn.get("kind", "")))


def squad_paragraphs(path: Path):
    """``(article, number, paragraph)`` of every paragraph of a SQuAD file, as its JSON holds them."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    for article in data["data"]:
        for number, paragraph in enumerate(article["paragraphs"]):
            yield article, number, paragraph


def squad_document_name(title: str, number: int) -> str:
    """The document name of paragraph ``number`` of article ``title``, as the module docstring says."""
    return f"{re.sub(r'[^A-Za-z0-9_.-]', '_', title)}-{number:03d}.txt"


def _squad_items(path: Path) -> list[Item]:
    items = []
    for article, number, paragraph in squad_paragraphs(path):
        name = squad_document_name(article["title"], number)
        for qa in paragraph["qas"]:
            # Several annotators often give the same span; keep each distinct answer once, in order.
            answers = [] if qa.get("is_impossible") else list(dict.fromkeys(a["text"] for a in qa["answers"]))
            items.append(Item(str(qa["id"]), [Turn(qa["question"], answers, [name] if answers else [])]))
    return items


def sample(items: list, limit: int, seed: int = 0) -> list:
    """``limit`` of ``items`` drawn with ``seed`` (all of them when ``limit`` is 0 or covers them), in their order."""
    if not limit or limit >= len(items):
        return items
    chosen = set(random.Random(seed).sample(range(len(items)), limit))
    return [item for i, item in enumerate(items) if i in chosen]


def evaluate(asker: Asker, items: list[Item], k: int = 3) -> Report:
    """Ask every question (conversations turn by turn, with the answers given so far) and score the answers."""
    outcomes = []
    for item in items:
        history: list[PastTurn] = []
        for turn in item.turns:
            result = asker.ask(turn.question, history, top_k=k)
            outcomes.append(_score(item.item_id, turn, history, result))
            history = history + [PastTurn(turn.question, result.answer, answer_known=True, understood_as=result.understood_as)]
    kinds = sorted({o.kind for o in outcomes if o.kind})
    by_kind = {kind: summarise([o for o in outcomes if o.kind == kind], k) for kind in kinds}
    return Report(k=k, metrics=summarise(outcomes, k), outcomes=outcomes, by_kind=by_kind)


def _score(item_id: str, turn: Turn, history: list[PastTurn], result: AskResult) -> Outcome:
    top = result.answers[0] if result.answers else None
    outcome = Outcome(
        item_id=item_id,
        question=turn.question,
        history=[past.question for past in history],
        kind=turn.kind,
        understood_as=result.understood_as,
        gold=turn.answers,
        answer=result.answer,
        candidate=top.text if top else None,
        sentence=top.sentence if top else None,
        docs=[a.doc_id for a in result.answers],
        score=top.score if top else 0.0,
        took_ms=result.took_ms,
    )
    if turn.answers:
        predicted = result.answer or ""
        outcome.em = max(exact_match(predicted, gold) for gold in turn.answers)
        outcome.f1 = max(f1_score(predicted, gold) for gold in turn.answers)
        outcome.sentence_hit = bool(top) and any(answer_in_sentence(g, top.sentence) for g in turn.answers)
        outcome.doc_hit = bool(set(turn.docs) & set(outcome.docs)) if turn.docs else outcome.sentence_hit
    return outcome


def percent(values: Iterable[float]) -> float | None:
    """The mean of ``values`` as a percentage to one decimal; None when there are none (not NaN,
    which is not JSON: a set with no unanswerable question has no right-abstain)."""
    values = list(values)
    return round(100.0 * sum(values) / len(values), 1) if values else None


def summarise(outcomes: list[Outcome], k: int) -> dict[str, float | None]:
    answerable = [o for o in outcomes if o.answerable]
    unanswerable = [o for o in outcomes if not o.answerable]
    latencies = [o.took_ms for o in outcomes]
    return {
        "questions": len(outcomes),
        "answerable": len(answerable),
        "unanswerable": len(unanswerable),
        "em": percent(o.em for o in answerable),
        "f1": percent(o.f1 for o in answerable),
        "overall_em": percent(o.em if o.answerable else o.answer is None for o in outcomes),
        "overall_f1": percent(o.f1 if o.answerable else o.answer is None for o in outcomes),
        "sentence_hit@1": percent(o.sentence_hit for o in answerable),
        f"doc_recall@{k}": percent(o.doc_hit for o in answerable),
        "right_abstain": percent(o.answer is None for o in unanswerable),
        "false_abstain": percent(o.answer is None for o in answerable),
        "latency_p50_ms": round(float(np.percentile(latencies, 50)), 1) if latencies else None,
        "latency_p95_ms": round(float(np.percentile(latencies, 95)), 1) if latencies else None,
    }


def evaluate_reader_only(reader, path: Path, *, limit: int = 0, seed: int = 0) -> dict[str, float | None]:
    """Score the reader alone, given each question's own paragraph (no retrieval).

    The paragraph is split into sentences and read as windows around each of them, as the
    pipeline reads retrieved sentences (spans kept inside one sentence); the most
    confident span is the answer, and the reader abstains when that window's
    answerability logit is below zero.  ``limit``
    questions are sampled (with ``seed``) when the file has more.  Separates how well the
    reader reads from how well retrieval finds.
    """
    from .chunk import split_sentences
    from .reader.windows import window_range

    questions = []
    for _, _, paragraph in squad_paragraphs(path):
        for qa in paragraph["qas"]:
            answers = [] if qa.get("is_impossible") else list(dict.fromkeys(a["text"] for a in qa["answers"]))
            questions.append((paragraph["context"], qa["question"], answers))
    questions = sample(questions, limit, seed)
    sentences: dict[str, tuple[list[tuple[int, int]], list[int]]] = {}
    outcomes = []
    for context, question, answers in questions:
        if context not in sentences:
            spans = split_sentences(context)
            sentences[context] = (spans, reader.token_counts([context[s:e] for s, e in spans]))
        spans, counts = sentences[context]
        budget = reader.settings.window_budget(reader.question_tokens(question))
        ranges = sorted({window_range(c, counts, budget) for c in range(len(spans))})
        windows = [(spans[first][0], spans[last - 1][1]) for first, last in ranges]
        starts = [[spans[i][0] - spans[first][0] for i in range(first + 1, last)] for first, last in ranges]
        readings = reader.read(question, [context[s:e] for s, e in windows], starts)
        best_window, best = max(zip(windows, readings), key=lambda pair: pair[1].confidence)
        span = context[best_window[0] + best.start : best_window[0] + best.end]
        outcomes.append((answers, span, best.answerable_logit >= 0))
    answerable = [(a, span, answers_it) for a, span, answers_it in outcomes if a]
    unanswerable = [answers_it for a, _, answers_it in outcomes if not a]
    return {
        "questions": len(outcomes),
        "em": percent(max(exact_match(span, g) for g in a) for a, span, _ in answerable),
        "f1": percent(max(f1_score(span, g) for g in a) for a, span, _ in answerable),
        "right_abstain": percent(not answers_it for answers_it in unanswerable),
        "false_abstain": percent(not answers_it for _, _, answers_it in answerable),
    }


# --- SQuAD answer normalisation and scores (as in the official evaluation script) ----------

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCTUATION = set(string.punctuation) | set("“”‘’–—…")


def normalise_answer(text: str) -> str:
    """Lower case, no punctuation, no articles, single spaces."""
    text = "".join(ch for ch in text.lower() if ch not in _PUNCTUATION)
    return " ".join(_ARTICLES.sub(" ", text).split())


def exact_match(prediction: str, gold: str) -> float:
    return float(normalise_answer(prediction) == normalise_answer(gold))


def f1_score(prediction: str, gold: str) -> float:
    predicted, expected = normalise_answer(prediction).split(), normalise_answer(gold).split()
    common = Counter(predicted) & Counter(expected)
    overlap = sum(common.values())
    if overlap == 0:
        return 0.0
    precision, recall = overlap / len(predicted), overlap / len(expected)
    return 2 * precision * recall / (precision + recall)


def answer_in_sentence(answer: str, sentence: str) -> bool:
    """Is the gold answer inside the sentence?

    Either after SQuAD normalisation, as whole words, or literally (ignoring case) between
    non-word characters: normalisation turns "28-yard" into "28yard", which would hide the
    answer "28" that the sentence plainly holds, while "28" must not match inside "128".
    """
    needle = normalise_answer(answer)
    if needle and f" {needle} " in f" {normalise_answer(sentence)} ":
        return True
    literal = answer.strip()
    return bool(literal) and re.search(rf"(?<!\w){re.escape(literal)}(?!\w)", sentence, re.IGNORECASE) is not None
