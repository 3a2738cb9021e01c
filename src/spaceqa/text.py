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


# --- line shape: headings ------------------------------------------------------------
#
# A heading is recognised by its shape alone, never by its words: short, starting like a title
# (a capital letter or a digit), with no sentence inside it and no punctuation at its end that
# would carry a sentence on.  Used for titles and to keep a heading line out of the sentence
# below it (the lines of a PDF page, a Markdown paragraph's line breaks).
HEADING_MAX_CHARS = 80
HEADING_MAX_WORDS = 12
_CLOSERS = "\"'”’)\\]"  # closing quotes and brackets, escaped for a character class
_CARRIES_ON = re.compile(rf"[.,;:…\-–—/&(][{_CLOSERS}]*$")
_INNER_SENTENCE_END = re.compile(rf"[a-z0-9][.!?][{_CLOSERS}]*\s+[A-Z“\"]")
_ENDS_SENTENCE = re.compile(rf"[.!?:][{_CLOSERS}]*$")
_OPENERS = "\"“‘'(["


def heading_shaped(line: str) -> bool:
    """Whether one line is shaped like a heading: short, title-like start, no final period."""
    line = line.strip()
    words = WORD_RE.findall(line)
    if not words or len(line) > HEADING_MAX_CHARS or len(words) > HEADING_MAX_WORDS:
        return False
    if words[0] == words[0].lower() and not words[0][0].isdigit():
        return False  # "in the station, ..." is a sentence's start; "iPhone" or "3 Moons" may head a page
    if _CARRIES_ON.search(line) or _INNER_SENTENCE_END.search(line):
        return False
    return words[-1].lower() not in STOPWORDS  # "... signed by" is a fragment cut by a line break


def heading_break(previous: str | None, line: str, following: str) -> bool:
    """Whether ``line`` is a heading line that ends where its line breaks.

    ``previous`` is the line above it in the same block, ``None`` when ``line`` starts one.
    Besides its own shape: it starts a block or follows a finished sentence, and the next line
    starts as a new sentence does.  A wrapped line of prose ("... the crew included Alexei" over
    "Leonov and ...") seldom starts right after a sentence end, which keeps prose together.
    """
    following = following.lstrip()
    if previous is not None and previous.strip() and not _ENDS_SENTENCE.search(previous.rstrip()):
        return False
    if not following or not (following[0].isupper() or following[0].isdigit() or following[0] in _OPENERS):
        return False
    return heading_shaped(line)


def group_lines(lines: list[str]) -> list[list[str]]:
    """Consecutive lines grouped into paragraphs, a heading line (see ``heading_break``) a group of its own."""
    groups: list[list[str]] = []
    current: list[str] = []
    for index, line in enumerate(lines):
        previous = current[-1] if current else None  # a heading just above starts a new block too
        if index + 1 < len(lines) and heading_break(previous, line, lines[index + 1]):
            groups.extend([current, [line]] if current else [[line]])  # the heading alone: not after a sentence either
            current = []
        else:
            current.append(line)
    if current:
        groups.append(current)
    return groups
