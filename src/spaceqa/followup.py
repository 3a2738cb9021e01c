"""Follow-up questions: rewrite a question that leans on the conversation into one that stands alone.

"How many days did he spend there?" after "Who was the first American aboard Mir?"
(answered "Norman Thagard") becomes "How many days did Norman Thagard spend there?",
searched with the earlier question as low-weight context.  The API receives only
the earlier questions, so the pipeline re-answers the last one to learn its answer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .text import terms

_PERSONAL = re.compile(r"\b(?:he|she|they|him|them)\b", re.IGNORECASE)
_POSSESSIVE = re.compile(r"\b(?:his|her|its|their)\b", re.IGNORECASE)
_OTHER_REFERENCES = re.compile(r"\b(?:it|there|then|that|this|these|those)\b", re.IGNORECASE)
STANDALONE_MIN_TERMS = 3  # fewer content terms than this ("And in 1980?") cannot stand alone


@dataclass(frozen=True)
class Rewrite:
    search_text: str  # what to embed and search for
    context: str  # earlier turn(s), matched with a lower weight than the question itself


def is_follow_up(question: str) -> bool:
    """Does the question point back into the conversation, or is it too short to stand alone?"""
    refers_back = _PERSONAL.search(question) or _POSSESSIVE.search(question) or _OTHER_REFERENCES.search(question)
    return bool(refers_back) or len(set(terms(question))) < STANDALONE_MIN_TERMS


def rewrite(question: str, previous_question: str, previous_answer: str | None) -> Rewrite:
    """Put the previous answer in place of the first pronoun that stands for a person or thing."""
    context = f"{previous_question} {previous_answer or ''}".strip()
    if previous_answer:
        replaced, count = _PERSONAL.subn(previous_answer, question, count=1)
        if not count:
            replaced, count = _POSSESSIVE.subn(f"{previous_answer}'s", question, count=1)
        if count:
            return Rewrite(search_text=replaced, context=context)
    # Nothing to substitute: search with the earlier question alongside.
    return Rewrite(search_text=f"{previous_question} {question}", context=context)
