"""Rewriting follow-up questions with the previous answer."""

from spaceqa.followup import is_follow_up, rewrite


def test_pronouns_and_short_questions_are_follow_ups():
    assert is_follow_up("How many days did he spend there?")
    assert is_follow_up("Who were its cosmonauts?")
    assert is_follow_up("And in 1980?")
    assert not is_follow_up("Which cosmonaut commanded the first crew of the station?")


def test_the_previous_answer_replaces_the_first_pronoun():
    rewritten = rewrite("How many days did he spend there?", "Who was the first American aboard Mir?", "Norman Thagard")
    assert rewritten.search_text == "How many days did Norman Thagard spend there?"
    assert "first American aboard Mir" in rewritten.context


def test_a_possessive_becomes_the_answer_with_s():
    assert rewrite("Who were its cosmonauts?", "Which craft docked?", "Soyuz").search_text == "Who were Soyuz's cosmonauts?"


def test_without_an_answer_the_previous_question_joins_the_search():
    rewritten = rewrite("When was that?", "Which craft docked with Apollo?", None)
    assert rewritten.search_text == "Which craft docked with Apollo? When was that?"
