"""scripts/answerability_by_swap.py: the two kinds of changed question, and the ROC area it prints."""

from __future__ import annotations

import random

import pytest

from conftest import script_module

# An invented paragraph: the text around the answer names Kessel Point, 1874 and Anna Brandt;
# Marrow Head lies further on, outside it.
PARAGRAPH = "The lighthouse at Kessel Point was lit in 1874. Its keeper, Anna Brandt, kept a log." + " and of every ship" * 30 + ". Later a tower rose at Marrow Head."
ANSWER = {"text": "1874", "answer_start": PARAGRAPH.index("1874")}


@pytest.fixture(scope="module")
def script():
    with script_module("answerability_by_swap") as module:
        yield module


def test_a_question_is_changed_with_a_name_the_text_lacks_and_with_one_of_its_own(script):
    for seed in range(10):
        text, foreign, own = script.changed_questions(PARAGRAPH, "In what year was the lighthouse at Kessel Point lit?", ANSWER, random.Random(seed))
        assert "Marrow Head" not in text
        assert foreign == "In what year was the lighthouse at Marrow Head lit?"
        assert own == "In what year was the lighthouse at Anna Brandt lit?"  # never the answer, 1874


def test_a_question_whose_text_offers_no_other_name_is_not_changed(script):
    asked = "When did Anna Brandt light the lighthouse at Kessel Point?"
    assert script.changed_questions(PARAGRAPH, asked, ANSWER, random.Random(0)) is None


def test_roc_area_is_the_chance_that_a_positive_outscores_a_negative(script):
    assert script.roc_area([2.0, 3.0], [0.0, 1.0]) == 1.0
    assert script.roc_area([0.0], [1.0]) == 0.0
    assert script.roc_area([1.0, 0.0], [1.0, 0.5]) == pytest.approx((0.5 + 1 + 0 + 0) / 4)


def test_the_answer_is_never_the_stand_in(script):
    paragraph = "The light was lit in 1874, and by 1880 it had 12 keepers."
    answer = {"text": "12", "answer_start": paragraph.index("12 keepers")}
    for seed in range(10):
        _, foreign, own = script.changed_questions(paragraph, "How many keepers did it have by 1880?", answer, random.Random(seed))
        assert (foreign, own) == (None, "How many keepers did it have by 1874?")
