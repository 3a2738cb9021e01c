"""Chunk: split a document into sentences, then into overlapping passages of whole sentences.

Passages are what the dense and lexical retrievers index; sentences are what an
answer is cut from.  Both are kept as character offsets into the document text.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass

import pysbd

from .text import WORD_RE

_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")
# pysbd's time grows with the square of the text it is given (a 280 KB paragraph takes over a
# minute), so a longer paragraph is split into blocks of at most this many characters first.
# Real paragraphs are shorter (a long encyclopaedia paragraph is about 4,000): only an
# unbroken page, a one-line file, meets the limit, and is then split in linear time.
SPLITTER_BLOCK_CHARS = 6000
# Where a block may end: a line break, else a full stop after a lower-case word of three
# letters or more (or a number) and before a capital ("...in orbit. The"), which no abbreviation such as
# "Dr." or "U.S." matches; else any space.
_LINE_BREAK = re.compile(r"\n")
_SAFE_SENTENCE_END = re.compile(r"[a-z0-9]{3}[.!?][\"'”’)]*\s+(?=[A-Z“\"])")
_SPACE = re.compile(r"\s")


@dataclass(frozen=True)
class ChunkParams:
    """Passage size in words.  Recorded in the index manifest: changing them means a rebuild."""

    target_words: int = 150  # close a passage once it reaches this many words...
    max_words: int = 200  # ...and never grow one past this, unless a single sentence is longer
    overlap_words: int = 40  # whole sentences repeated at the start of the next passage

    def __post_init__(self) -> None:
        if not 0 < self.target_words <= self.max_words:
            raise ValueError(f"need 0 < target_words <= max_words, got {self.target_words} and {self.max_words}")
        if not 0 <= self.overlap_words < self.target_words:
            raise ValueError(f"need 0 <= overlap_words < target_words, got {self.overlap_words}")

    def to_dict(self) -> dict:
        return asdict(self)


def split_sentences(text: str) -> list[tuple[int, int]]:
    """``(start, end)`` of each sentence; a sentence never crosses a paragraph break."""
    spans: list[tuple[int, int]] = []
    segmenter = pysbd.Segmenter(language="en", clean=False, char_span=True)
    for para_start, para_end in (block for paragraph in _paragraph_spans(text) for block in _blocks(text, *paragraph)):
        paragraph = text[para_start:para_end]
        cursor = 0
        for piece in segmenter.segment(paragraph):
            # pysbd reports spans that include trailing spaces; locate the text itself so the
            # offsets are exact even where its span arithmetic drifts.
            found = paragraph.find(piece.sent.strip(), cursor)
            if found < 0 or not piece.sent.strip():
                continue
            start, end = found, found + len(piece.sent.strip())
            spans.append((para_start + start, para_start + end))
            cursor = end
        if cursor == 0 and paragraph.strip():  # the segmenter found nothing usable
            spans.append((para_start, para_end))
    return spans


def _blocks(text: str, start: int, end: int, limit: int = SPLITTER_BLOCK_CHARS) -> list[tuple[int, int]]:
    """``text[start:end]`` as spans of at most ``limit`` characters, cut where a sentence surely ends."""
    blocks = []
    while end - start > limit:
        window = text[start : start + limit]
        cut = next((m.end() for pattern in (_LINE_BREAK, _SAFE_SENTENCE_END, _SPACE) for m in _last(pattern, window) if m.end() > limit // 2), limit)
        blocks.append((start, start + cut))
        start += cut
    blocks.append((start, end))
    return [(s, e) for s, e in blocks if text[s:e].strip()]


def _last(pattern: re.Pattern, text: str) -> list[re.Match]:
    """The last match of ``pattern`` in ``text``, as a list of zero or one."""
    match = None
    for match in pattern.finditer(text):
        pass
    return [match] if match else []


# pysbd builds a regular expression for each abbreviation it finds in a text, on every call;
# there are more of them than Python's regex cache keeps (512), so without a larger cache they
# are compiled again for every paragraph: a third of the time sentence splitting takes.
REGEX_CACHE_SIZE = 4096


def warm_up() -> None:
    """Make room in the regex cache and compile the splitter's rules now (once per process)."""
    re._MAXCACHE = max(re._MAXCACHE, REGEX_CACHE_SIZE)
    split_sentences("Warm up. It works.")


def chunk_sentences(word_counts: list[int], params: ChunkParams) -> list[tuple[int, int]]:
    """Group consecutive sentences into passages; returns ``[first, last)`` sentence ranges.

    Greedy: grow a passage to ``target_words`` (or to the end of the document when the rest
    fits in ``max_words``), then start the next one with the trailing sentences that fit in
    ``overlap_words``, so a fact near a boundary is seen whole by at least one passage.
    """
    ranges: list[tuple[int, int]] = []
    first, total = 0, len(word_counts)
    words_after = [0] * (total + 1)  # words_after[i]: words in sentences i and later (linear, not a sum per step)
    for i in range(total - 1, -1, -1):
        words_after[i] = words_after[i + 1] + word_counts[i]
    while first < total:
        last, words = first, 0
        while last < total:
            if words and words + word_counts[last] > params.max_words:
                break
            words += word_counts[last]
            last += 1
            if words >= params.target_words and words + words_after[last] > params.max_words:
                break
        ranges.append((first, last))
        if last >= total:
            break
        next_first, overlap = last, 0
        while next_first - 1 > first and overlap + word_counts[next_first - 1] <= params.overlap_words:
            next_first -= 1
            overlap += word_counts[next_first]
        first = next_first
    return ranges


def count_words(text: str) -> int:
    return len(WORD_RE.findall(text))


def _paragraph_spans(text: str) -> list[tuple[int, int]]:
    spans, start = [], 0
    for match in _PARAGRAPH_BREAK.finditer(text):
        spans.append((start, match.start()))
        start = match.end()
    spans.append((start, len(text)))
    return [(s, e) for s, e in spans if text[s:e].strip()]
