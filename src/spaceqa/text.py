"""Word-level text helpers shared by lexical retrieval and answer extraction.

One tokeniser for both sides matters: a question term only "matches" a sentence
if the index and the reader agree on what a term is.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import Stemmer

# A word is letters/digits, optionally joined by hyphens, apostrophes or inner dots:
# "Soyuz-19", "U.S", "Khrushchev's" stay one word, so offsets map back to the text.
WORD_RE = re.compile(r"[^\W_]+(?:[-'’.][^\W_]+)*")

# Function words carry no topic; matching them says nothing about relevance.
# Question words are here too: "who" in a question must not match "who" in a sentence.
STOPWORDS = frozenset(
    """
    a about above after again against all also am an and any are as at be because been
    before being below between both but by can could did do does doing done down during
    each either else ever every few for from further had has have having he her here hers
    herself him himself his how however i if in into is it its itself just least less let
    like many may me might more most much must my myself neither no nor not now of off
    often on once one only or other ought our ours ourselves out over own per rather
    same shall she should since so some such than that the their theirs them themselves
    then there these they this those though through thus to too under until up upon us
    very was we were what whatever when whenever where whereas whether which while who
    whoever whom whose why will with within without would yet you your yours yourself
    yourselves
    """.split()
)

_stemmer = Stemmer.Stemmer("english")


@lru_cache(maxsize=65536)
def _stem(word: str) -> str:
    return _stemmer.stemWord(word)


def normalise_word(word: str) -> str:
    """Lower-case a word, fold accents, drop a possessive ("Beyoncé's" -> "beyonce")."""
    word = _fold_accents(word.lower().replace("’", "'"))
    if word.endswith("'s"):
        word = word[:-2]
    return word.strip("'.")


@lru_cache(maxsize=65536)
def _fold_accents(word: str) -> str:
    """"Beyoncé" and "Beyonce" are the same word to a reader: match them."""
    if word.isascii():
        return word
    return "".join(ch for ch in unicodedata.normalize("NFKD", word) if not unicodedata.combining(ch))


def terms(text: str) -> list[str]:
    """Content terms of ``text`` for matching: lower-cased, stemmed, no stopwords.

    A hyphenated word also yields its parts, so "Shuttle-Mir" matches a question about "Mir".
    """
    found: list[str] = []
    for match in WORD_RE.finditer(text):
        word = normalise_word(match.group())
        parts = [word] + (word.split("-") if "-" in word else [])
        for part in parts:
            if part and part not in STOPWORDS:
                found.append(_stem(part))
    return found

