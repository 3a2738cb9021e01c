"""Training examples for the reader: positives and negatives over a small index (real tokenizer, hashed vectors)."""

from __future__ import annotations

import random

import pytest

from spaceqa.build import build_index
from spaceqa.chunk import ChunkParams
from spaceqa.index import load_index
from spaceqa.reader.data import ExampleBuilder, SquadQuestion, names_and_numbers
from spaceqa.reader.reading import InputSettings

# One invented article of three paragraphs.
PARAGRAPHS = {
    "harbour/0.txt": "The lighthouse at Kessel Point was lit in 1874. Its keeper, Anna Brandt, kept a log of every ship.",
    "harbour/1.txt": "A second tower rose at Marrow Head in 1903. Engineers from Dunmore built it of granite.",
    "harbour/2.txt": "Fog signals were added in 1921. The foghorn could be heard from Tilby on calm nights.",
}


@pytest.fixture(scope="module")
def builder(tmp_path_factory, tokenizer):
    from tests.fakes import HashEmbedder

    root = tmp_path_factory.mktemp("squad")
    for name, text in PARAGRAPHS.items():
        (root / "corpus" / name).parent.mkdir(parents=True, exist_ok=True)
        (root / "corpus" / name).write_text(text, encoding="utf-8")
    build_index(root / "corpus", root / "index", HashEmbedder(), ChunkParams())
    built = ExampleBuilder(load_index(root / "index"), tokenizer, InputSettings(), dict(PARAGRAPHS))
    built.register([SquadQuestion("", doc_id, "harbour", ()) for doc_id in PARAGRAPHS])
    return built


def question(text: str, answer: str) -> SquadQuestion:
    return SquadQuestion(text, "harbour/0.txt", "harbour", ((answer, PARAGRAPHS["harbour/0.txt"].index(answer)),))


def test_names_and_numbers_skip_the_capital_that_starts_a_sentence():
    found = [m.group() for m in names_and_numbers("When was the tower at Marrow Head built? The year 1903 it was. Anna Brandt said so.")]
    assert found == ["Marrow Head", "1903"]


def test_a_swapped_question_names_something_of_the_article_that_its_window_lacks(builder):
    asked = question("In what year was the lighthouse at Kessel Point lit?", "1874")
    for seed in range(20):
        examples = builder.examples(asked, random.Random(seed), {"swapped": 1.0})
        positive, swapped = examples[0], [e for e in examples if e.kind == "swapped"]
        assert positive.kind == "positive" and positive.text[positive.answer_start : positive.answer_end] == "1874"
        assert len(swapped) == 1
        changed = swapped[0]
        assert (changed.text, changed.answer_start, changed.answer_end) == (positive.text, -1, -1)  # the same window, no answer
        assert changed.question.startswith("In what year was the lighthouse at ") and changed.question.endswith(" lit?")
        stand_in = changed.question.removeprefix("In what year was the lighthouse at ").removesuffix(" lit?")
        assert stand_in in {"Marrow Head", "Dunmore", "Tilby"}  # a name from the article, not a sentence's first word
        assert stand_in.lower() not in positive.text.lower()


def test_a_question_that_names_nothing_in_its_window_is_not_swapped(builder):
    asked = question("Who kept a log of every ship?", "Anna Brandt")
    examples = builder.examples(asked, random.Random(0), {"swapped": 1.0})
    assert [e.kind for e in examples] == ["positive"]


def test_a_swapped_question_keeps_the_positive_window_when_other_negatives_come_first(builder):
    asked = question("In what year was the lighthouse at Kessel Point lit?", "1874")
    for seed in range(20):
        examples = builder.examples(asked, random.Random(seed), {"paragraph": 1.0, "article": 1.0, "swapped": 1.0})
        for swapped in [e for e in examples if e.kind == "swapped"]:
            assert swapped.text == examples[0].text  # not a slice at another negative's offsets
