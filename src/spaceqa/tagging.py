"""Part-of-speech tags for sentences and questions, with character offsets.

Tags are Penn Treebank tags (NN, NNP, VBD, CD, ...) from TextBlob's ``PatternTagger``: a
lexicon plus Brill contextual rules that ship inside the ``textblob`` wheel, so tagging
needs no download and no model, and takes about a millisecond a sentence.  Sentences are
tagged once, when the index is built; a question is tagged when it is asked.
"""

from __future__ import annotations

import gc
import re
import threading
import warnings
from dataclasses import dataclass

# An abbreviation with its dots ("U.S.", "p.m."), a word with inner hyphens, dots and
# apostrophes ("Soyuz-19", "don't"), or one punctuation mark; a possessive "'s" is split
# off below, as the tagger expects.
_TOKEN = re.compile(r"(?:[A-Za-z]\.){2,}|[^\W_]+(?:[-'’.][^\W_]+)*|[^\w\s]")
_POSSESSIVE = re.compile(r"['’]s$", re.IGNORECASE)

# Tags are stored in the index: change this whenever tokenising or tag corrections change,
# and indexes built before are rebuilt instead of serving stale tags.
TAGGING_VERSION = "textblob-pattern/3"

_AUXILIARIES = frozenset("do does did will would can could shall should may might must".split())

_tagger = None
_tagger_lock = threading.Lock()


@dataclass(frozen=True)
class Token:
    start: int
    end: int
    tag: str


def tokenize(text: str) -> list[tuple[int, int]]:
    """Character spans of the tokens of ``text``."""
    spans = []
    for match in _TOKEN.finditer(text):
        start, end = match.span()
        possessive = _POSSESSIVE.search(match.group())
        if possessive and end - start > 2:
            spans += [(start, end - 2), (end - 2, end)]
        else:
            spans.append((start, end))
    return spans


def tag(text: str) -> list[Token]:
    """Tokens of ``text`` with their part-of-speech tags."""
    return tag_sentences([text])[0]


def tag_sentences(texts: list[str]) -> list[list[Token]]:
    """``tag`` for many sentences in one call of the tagger.

    The tagger's fixed cost per call is about ten times its cost per sentence; with the
    sentences on lines of their own (its sentence boundary) the tags are the same as
    sentence by sentence (tested), at a tenth of the time.
    """
    spans = [tokenize(text) for text in texts]
    words = [[text[start:end].replace(" ", "_").replace("’", "'") for start, end in row] for text, row in zip(texts, spans)]
    lines = [" ".join(row) for row in words if row]
    tagged = _pattern_tagger().tag("\n".join(lines), tokenize=False) if lines else []
    result, position = [], 0
    for row, row_words in zip(spans, words):
        pos = [tag for _, tag in tagged[position : position + len(row)]]
        position += len(row)
        if len(pos) != len(row):  # never seen; fall back to "unknown noun" rather than misalign
            pos = ["NN"] * len(row)
        result.append([Token(start, end, t) for (start, end), t in zip(row, _corrected(row_words, pos))])
    return result


def _corrected(words: list[str], tags: list[str]) -> list[str]:
    """Fix two systematic errors of the lexicon tagger, by shape and context.

    * Capitalised codes and acronyms ("STS-71", "ISS", "A-6A") are proper nouns; the tagger
      calls unknown hyphenated words adjectives.  So is a capitalised word it calls a common
      noun anywhere but at the start of a sentence ("When SpaceX stepped in").
    * A capitalised first word that the lexicon knows in lower case ("Algorithms that...",
      "Following the war...") takes its lower-case tag; unknown ones ("Gagarin") stay names.
    * A base-form verb inside a noun phrase ("the last Space Shuttle launch", "a crew return")
      is a noun: walking back over modifiers reaches a determiner, not a subject or "to" --
      unless an auxiliary stands before that determiner ("did the crew return?").
    """
    tags = list(tags)
    if tags and tags[0] in ("NNP", "NNPS"):
        tags[0] = _common_tag(words[0]) or tags[0]
    for i, (word, pos) in enumerate(zip(words, tags)):
        capitalised = word[:1].isupper()
        code_like = any(c.isdigit() for c in word) or "-" in word or any(c.isupper() for c in word[1:])
        sentence_start = i == 0 or words[i - 1] in (".", "!", "?", ":", '"', "“", "‘")
        if capitalised and (pos in ("JJ", "NN", "VB", "VBN", "VBD") and code_like or pos in ("NN", "NNS") and not sentence_start):
            tags[i] = "NNP" if pos != "NNS" else "NNPS"
        elif pos in ("VB", "VBP") and i > 0:
            j = i - 1
            while j >= 0 and tags[j] in ("NNP", "NNPS", "NN", "JJ", "JJR", "JJS", "CD"):
                j -= 1
            after_auxiliary = j > 0 and words[j - 1].lower() in _AUXILIARIES
            inside_noun_phrase = j >= 0 and j < i - 1 and tags[j] in ("DT", "PRP$", "POS") or j == i - 1 and tags[j] in ("DT", "PRP$", "POS", "JJ")
            if inside_noun_phrase and not after_auxiliary:
                tags[i] = "NN"
    return tags


def _common_tag(word: str) -> str | None:
    """The lexicon's tag for a word in lower case, or for its singular as a plural noun."""
    from textblob.en import lexicon

    lower = word.lower()
    if lexicon.get(lower):
        return lexicon[lower]
    if lower.endswith("s") and (lexicon.get(lower[:-1]) or "").startswith("NN"):
        return "NNS"
    return None


def warm_up() -> None:
    """Load the tagger's lexicon now (about half a second, once per process)."""
    _pattern_tagger()


def _pattern_tagger():
    """The tagger, with its lexicon loaded once (loading is not thread-safe)."""
    global _tagger
    with _tagger_lock:
        if _tagger is None:
            from textblob.en.taggers import PatternTagger

            tagger = PatternTagger()
            # TextBlob leaves its lexicon file open while loading it; the warning that follows
            # is about the library's housekeeping, not ours, so it is silenced for that load only.
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ResourceWarning)
                tagger.tag("warm up", tokenize=False)
                gc.collect()
            _tagger = tagger
    return _tagger
