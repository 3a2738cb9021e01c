"""Sentence splitting and passage building: offsets exact, sentences whole, sizes bounded."""

from __future__ import annotations

import random

import pysbd
import pytest

from spaceqa.chunk import SPLITTER_BLOCK_CHARS, ChunkParams, chunk_sentences, count_words, split_sentences


def sentences_of(text: str) -> list[str]:
    return [text[start:end] for start, end in split_sentences(text)]


def test_offsets_point_at_the_exact_sentence_text():
    text = "Dr. Sally Ride flew in 1983.  She was the first American woman in space!\n\nA new paragraph starts here. It ends?"
    spans = split_sentences(text)
    assert [text[s:e] for s, e in spans] == [
        "Dr. Sally Ride flew in 1983.",
        "She was the first American woman in space!",
        "A new paragraph starts here.",
        "It ends?",
    ]
    assert all(text[s:e] == text[s:e].strip() for s, e in spans)


def test_abbreviations_and_initials_do_not_end_sentences():
    text = "The U.S. and the U.S.S.R. signed it. President John F. Kennedy spoke to Mr. Smith at 3 p.m. on Monday. Then he left."
    assert sentences_of(text) == [
        "The U.S. and the U.S.S.R. signed it.",
        "President John F. Kennedy spoke to Mr. Smith at 3 p.m. on Monday.",
        "Then he left.",
    ]


def test_a_sentence_never_crosses_a_paragraph_break():
    text = "A heading without a full stop\n\nThe paragraph under it has a sentence."
    assert sentences_of(text) == ["A heading without a full stop", "The paragraph under it has a sentence."]


def test_a_heading_line_followed_by_a_line_break_is_a_sentence_of_its_own():
    text = "Harbour Lights\nThe first lamp was lit in 1851. It burned whale oil."
    assert sentences_of(text) == ["Harbour Lights", "The first lamp was lit in 1851.", "It burned whale oil."]


def test_repeated_sentences_get_their_own_offsets():
    text = "It happened twice. It happened twice. The end."
    assert split_sentences(text) == [(0, 18), (19, 37), (38, 46)]



def test_a_paragraph_too_long_for_the_splitter_is_cut_where_sentences_end(monkeypatch):
    # A one-line file of a few hundred KB: the splitter (quadratic in what it is given) sees
    # bounded blocks, cut after a word and a full stop, never inside "Dr." or "U.S.".
    seen = []
    original = pysbd.Segmenter.segment
    monkeypatch.setattr(pysbd.Segmenter, "segment", lambda self, text: seen.append(len(text)) or original(self, text))
    sentence = "Dr. Ride met the U.S. crew at the pad in Florida. The launch slipped to 1983 after tests. "
    text = sentence * 3000
    spans = split_sentences(text)
    assert max(seen) <= SPLITTER_BLOCK_CHARS and len(seen) > 1
    assert [text[s:e] for s, e in spans] == ["Dr. Ride met the U.S. crew at the pad in Florida.", "The launch slipped to 1983 after tests."] * 3000


def test_a_block_without_any_sentence_end_is_cut_at_a_space():
    text = "word " * 5000
    spans = split_sentences(text)
    assert all(text[s:e].split() == text[s:e].split(" ") for s, e in spans)  # no word cut in two
    assert sum(len(text[s:e].split()) for s, e in spans) == 5000

def test_passages_stay_within_the_word_limits():
    params = ChunkParams(target_words=50, max_words=70, overlap_words=15)
    counts = [12, 9, 15, 20, 8, 11, 14, 6, 19, 10, 13, 7, 16, 9, 12]
    ranges = chunk_sentences(counts, params)
    for first, last in ranges:
        assert sum(counts[first:last]) <= params.max_words
    for first, last in ranges[:-1]:
        assert sum(counts[first:last]) >= params.target_words


def test_every_sentence_is_in_some_passage_in_order():
    counts = [random.Random(seed).randint(3, 40) for seed in range(200)]
    ranges = chunk_sentences(counts, ChunkParams())
    covered = sorted({i for first, last in ranges for i in range(first, last)})
    assert covered == list(range(len(counts)))
    assert ranges[0][0] == 0 and ranges[-1][1] == len(counts)
    assert all(a[0] < b[0] and a[1] < b[1] for a, b in zip(ranges, ranges[1:]))


def test_passages_overlap_by_whole_sentences():
    params = ChunkParams(target_words=30, max_words=40, overlap_words=12)
    ranges = chunk_sentences([10] * 12, params)
    for (_, previous_last), (next_first, _) in zip(ranges, ranges[1:]):
        overlap = previous_last - next_first
        assert overlap >= 1 and overlap * 10 <= params.overlap_words


def test_a_sentence_longer_than_the_limit_is_a_passage_of_its_own():
    ranges = chunk_sentences([10, 500, 10], ChunkParams(target_words=100, max_words=150, overlap_words=20))
    assert (1, 2) in ranges


def test_a_short_document_is_one_passage():
    assert chunk_sentences([5, 6, 7], ChunkParams()) == [(0, 3)]
    assert chunk_sentences([], ChunkParams()) == []


def test_a_small_remainder_joins_the_last_passage_when_it_fits():
    # 150 + 30 words fit in 200: no tiny trailing passage made mostly of overlap.
    assert chunk_sentences([50, 50, 50, 30], ChunkParams()) == [(0, 4)]


@pytest.mark.parametrize("bad", [dict(target_words=0), dict(target_words=300, max_words=200), dict(overlap_words=150)])
def test_inconsistent_parameters_are_refused(bad):
    with pytest.raises(ValueError):
        ChunkParams(**bad)


def test_word_count():
    assert count_words("Soyuz-19 docked with Apollo, in 1975.") == 6
