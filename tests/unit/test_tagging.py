"""Tokens with offsets and part-of-speech tags."""

from spaceqa.tagging import tag, tag_sentences, tokenize


def words_and_tags(text):
    return [(text[t.start : t.end], t.tag) for t in tag(text)]


def test_offsets_point_at_the_tokens():
    text = "The U.S. launched Soyuz-19's twin, didn’t it?"
    assert [text[s:e] for s, e in tokenize(text)] == ["The", "U.S.", "launched", "Soyuz-19", "'s", "twin", ",", "didn’t", "it", "?"]


def test_common_tags():
    assert words_and_tags("A bit of wire kept the astronauts inside.") == [
        ("A", "DT"), ("bit", "NN"), ("of", "IN"), ("wire", "NN"), ("kept", "VBD"),
        ("the", "DT"), ("astronauts", "NNS"), ("inside", "IN"), (".", "."),
    ]


def test_codes_and_inner_capitals_are_proper_nouns():
    tags = dict(words_and_tags("Later, STS-71 docked and SpaceX followed."))
    assert tags["STS-71"] == "NNP" and tags["SpaceX"] == "NNP"


def test_a_verb_form_inside_a_noun_phrase_is_a_noun():
    assert dict(words_and_tags("They watched the last Space Shuttle launch."))["launch"] == "NN"


def test_curly_possessive_is_tagged_as_possessive():
    assert ("’s", "POS") in words_and_tags("America’s need grew.")


def test_empty_text():
    assert tag("") == [] and tag("   ") == []


def test_many_sentences_tag_as_one_by_one():
    sentences = [
        "Later that year, STS-71 became the first shuttle to dock with Mir.",
        "Algorithms that use random bits are called randomized algorithms.",
        "They watched the last Space Shuttle launch.",
        "",
        "What did the interpreter translate?",
    ]
    assert tag_sentences(sentences) == [tag(s) for s in sentences]
