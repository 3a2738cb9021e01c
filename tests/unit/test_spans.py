"""Question typing and answer-span choice, on made-up sentences."""

from __future__ import annotations

import pytest

from spaceqa.spans import (
    DATE,
    ENTITY,
    EXPANSION,
    NUMBER,
    PERSON,
    PLACE,
    QUANTITY,
    analyse_sentence,
    best_span,
    candidate_spans,
    expect,
    question_focus,
)
from spaceqa.evaluate import normalise_answer
from spaceqa.tagging import tag
from spaceqa.text import terms


@pytest.mark.parametrize(
    "question, kind",
    [
        ("Who painted the ceiling of the chapel?", PERSON),
        ("Which engineer designed the bridge?", PERSON),
        ("When did the bridge open?", DATE),
        ("In what year was the treaty signed?", DATE),
        ("How many people attended?", NUMBER),
        ("How far is the lighthouse from the shore?", QUANTITY),
        ("Where was the treaty signed?", PLACE),
        ("In which city did the congress meet?", PLACE),
        ("Which ship reached the pole first?", ENTITY),
        ("What does NATO stand for?", EXPANSION),
    ],
)
def test_question_types(question, kind):
    assert expect(question).kind == kind


def test_head_noun_verb_and_plural():
    expectation = expect("Which explorers reached the pole in 1911?")
    assert "explorers" in expectation.head_words and expectation.plural
    assert (expectation.verb, expectation.role) == ("reached", "subject")
    assert expect("What stopped the engine from starting?").verb == "stopped"
    translated = expect("What did the interpreter translate?")
    assert (translated.verb, translated.role) == ("translate", "object")


@pytest.mark.parametrize(
    "question, head",
    [
        ("What is the name of the trophy that the winners receive?", {"trophy"}),
        ("Which company's ships carried the mail?", {"company"}),
        ("In what Super Bowl did he play?", {"super", "bowl"}),
        ("What was the final score?", {"score"}),
    ],
)
def test_head_nouns(question, head):
    assert set(expect(question).head_words) == head


def test_number_nouns_make_a_number_question():
    assert expect("What was the final score of the match?").kind == NUMBER


def test_candidates_have_the_right_shapes():
    sentence = 'On March 3, 1921, Amelia Earhart flew 2,400 kilometers in the "Canary" over Lake Ontario.'
    found = {(sentence[s.start : s.end], s.kind) for s in candidate_spans(sentence, tag(sentence))}
    assert ("March 3, 1921", "date") in found
    assert ("Amelia Earhart", "name") in found
    assert ("2,400 kilometers", "quantity") in found
    assert ("Canary", "quote") in found
    assert ("Lake Ontario", "name") in found


def answer(question: str, sentence: str) -> str | None:
    weights = {t: 1.0 for t in terms(question_focus(question))}
    span = best_span(analyse_sentence(sentence, tag(sentence)), expect(question), weights)
    return sentence[span.start : span.end] if span else None


@pytest.mark.parametrize(
    "question, sentence, expected",
    [
        ("Who was the first woman to fly solo across the Atlantic?", "In 1932 Amelia Earhart became the first woman to fly solo across the Atlantic.", "Amelia Earhart"),
        ("When did the bridge open?", "The bridge opened on May 27, 1937 after four years of work.", "May 27, 1937"),
        ("How many rivets hold the tower together?", "About 2,500,000 rivets hold the tower together.", "2,500,000"),
        ("How far did the probe travel?", "The probe travelled 6 billion kilometers before the signal faded.", "6 billion kilometers"),
        ("Which gallery holds the painting?", "Since 1797 the painting has hung in the Louvre gallery in Paris.", "Louvre"),
        ("What does NATO stand for?", "The North Atlantic Treaty Organization (NATO) was founded in 1949.", "North Atlantic Treaty Organization"),
        ("Which climbers reached the summit first?", "Two climbers (Tenzing Norgay and Edmund Hillary) reached the summit on May 29, 1953.", "Tenzing Norgay and Edmund Hillary"),
        ("What stopped the engine from starting?", "The pilots waited while a frozen valve stopped the engine from starting.", "a frozen valve"),
        ("Who painted the portrait?", "The portrait was painted by the court artist, Diego Velazquez, in 1656.", "Diego Velazquez"),
        ("What did the interpreter translate?", "At the ceremony the interpreter translated the national anthem into sign language.", "the national anthem"),
        ("Who was the commissioner of the league in 2012?", "In 2012 League Commissioner Roger Goodell announced the plan.", "Roger Goodell"),
        ("Which college did the students found?", "In 1844 the students founded Saint Mary's College near the lake.", "Saint Mary's College"),
        ("Who offered the land to the priest?", "The land was offered by Célestine Guynemer de la Hailandière in 1842.", "Célestine Guynemer de la Hailandière"),
        ("What do worker bees collect from flowers?", "Worker bees collect nectar from flowers and turn it into honey.", "nectar"),
    ],
)
def test_best_span(question, sentence, expected):
    # Compared as SQuAD does: "a frozen valve" and "frozen valve" are the same answer.
    assert normalise_answer(answer(question, sentence) or "") == normalise_answer(expected)


def test_an_answer_does_not_repeat_the_question():
    # "Lindbergh" is in the question, so it cannot be the answer to it.
    assert answer("Who flew with Lindbergh?", "Lindbergh flew alone; later Anne Morrow flew with him.") == "Anne Morrow"


def test_an_institution_is_not_a_person():
    sentence = "The models were presented by the head of the National Space Agency, Anatoly Perminov, at the reception."
    assert answer("Who presented the models?", sentence) == "Anatoly Perminov"


def test_a_plural_question_prefers_the_list():
    sentence = "Two climbers, Tenzing Norgay and Edmund Hillary, reached the summit."
    assert answer("Which climbers reached the summit?", sentence) == "Tenzing Norgay and Edmund Hillary"


def test_accents_do_not_make_a_repeat_look_new():
    assert answer("Who sang with Beyonce?", "Beyoncé sang with Bruno Mars at the show.") == "Bruno Mars"


def test_no_span_of_the_asked_type_means_no_span():
    assert answer("When did the bridge open?", "The bridge is painted orange and spans the strait.") is None


def test_naming_frame_is_not_part_of_the_focus():
    assert "call" not in terms(question_focus("What was the final flight called?"))
