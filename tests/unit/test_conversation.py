"""The readings of a follow-up, and the choice between them (pure logic, no model)."""

import pytest

from spaceqa.conversation import (
    Interpretation,
    PastTurn,
    choose,
    complete_fragment,
    interpretations,
    is_fragment,
    leans_on_history,
    names,
)

EARLIER = PastTurn("Which engineer designed the Brooklyn Bridge?", "John Roebling", answer_known=True)


def readings_of(question: str, previous: PastTurn | None = EARLIER) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for reading in interpretations(question, previous):
        found.setdefault(reading.how, []).append(reading.question)
    return found


def test_a_question_that_does_not_lean_on_the_chat_is_read_only_as_asked():
    assert not leans_on_history("Which river does the Brooklyn Bridge cross?")
    assert readings_of("Which river does the Brooklyn Bridge cross?") == {"as asked": ["Which river does the Brooklyn Bridge cross?"]}
    assert readings_of("When was he born?", previous=None) == {"as asked": ["When was he born?"]}


def test_a_pronoun_becomes_the_earlier_answer_or_a_name_of_the_earlier_question():
    found = readings_of("When was he born?")
    assert found["as asked"] == ["When was he born?"]
    assert found["in context"] == ["When was he born?"]
    assert found["earlier answer"] == ["When was John Roebling born?"]
    resolved = [r for r in interpretations("When was he born?", EARLIER) if r.how == "earlier answer"][0]
    assert resolved.understood_as == "When was John Roebling born?"
    assert readings_of("When did it open?")["earlier name"] == ["When did the Brooklyn Bridge open?"]


def test_a_pronoun_for_one_person_never_stands_for_a_name_with_an_article():
    # "he" after a question about the Brooklyn Bridge is its engineer, never the bridge
    assert "earlier name" not in readings_of("When was he born?")
    assert "earlier name" not in readings_of("What was her profession?", PastTurn("Who finished the Brooklyn Bridge?", "Emily Roebling", answer_known=True))
    # a person's name has none; a group may ("they" for "the Roeblings")
    assert readings_of("When was he born?", PastTurn("Whom did John Roebling hire?", "Wilhelm Hildenbrand", answer_known=True))["earlier name"] == ["When was John Roebling born?"]
    assert readings_of("Where did they live?", PastTurn("Which firm did the Roeblings run?", "John A. Roebling's Sons", answer_known=True))["earlier name"] == ["Where did the Roeblings live?"]


def test_a_possessive_takes_the_name_with_an_apostrophe_s():
    assert readings_of("What was his profession?")["earlier answer"] == ["What was John Roebling's profession?"]
    assert readings_of("How long is its main span?")["earlier name"] == ["How long is the Brooklyn Bridge's main span?"]
    # "her" before a preposition is an object, not a possessive
    after_a_woman = PastTurn("Who finished the bridge?", "Emily Roebling", answer_known=True)
    assert readings_of("Who worked with her on it?", after_a_woman)["earlier answer"] == ["Who worked with Emily Roebling on it?"]


def test_a_pronoun_at_the_start_is_capitalised_and_a_pointer_at_the_end_is_replaced():
    assert readings_of("He was born where?")["earlier answer"] == ["John Roebling was born where?"]
    assert readings_of("In which year was that?")["earlier answer"] == ["In which year was John Roebling?"]
    # "that" before more words is a determiner or a relative pronoun, not a pointer
    assert "earlier answer" not in readings_of("In which year did that company open?")


def test_a_pronoun_for_a_person_never_stands_for_a_bare_number():
    earlier = PastTurn("Which engineer worked 14 years on the Brooklyn Bridge?", "John Roebling", answer_known=True)
    assert names(earlier.question) == ["14", "the Brooklyn Bridge"]
    assert "earlier name" not in readings_of("In which city was he born?", earlier)  # nor "the Brooklyn Bridge" (below)
    assert readings_of("When did they finish?", PastTurn("How many workers died?", "27", answer_known=True)).get("earlier answer") is None
    # "it" may: a number can be what the earlier turn was about
    assert readings_of("Was it a record?", PastTurn("How many days did the flight last?", "115", answer_known=True))["earlier answer"] == ["Was 115 a record?"]


def test_a_long_earlier_answer_is_not_put_in_place_of_a_pronoun():
    wordy = PastTurn("What did the engineer do?", "he surveyed the river and drew the plans for both towers and the deck", answer_known=True)
    assert "earlier answer" not in readings_of("When did he do it?", wordy)


def test_the_context_is_the_resolved_earlier_question_and_its_answer():
    earlier = PastTurn("When was he born?", "1806", answer_known=True, understood_as="When was John Roebling born?")
    reading = [r for r in interpretations("Where was he born?", earlier) if r.how == "in context"][0]
    assert reading.context == "When was John Roebling born? 1806"
    assert reading.search_text == "When was John Roebling born? 1806 Where was he born?"
    # a question read as it stands, beside the earlier one, says so
    assert reading.understood_as == "Where was he born? (following: When was John Roebling born?)"
    assert "John Roebling" in names(earlier.resolved)
    # that reading, handed back as the earlier turn of the next question, resolves to the question alone
    assert PastTurn("Where was he born?", "Saxony", answer_known=True, understood_as=reading.understood_as).resolved == "Where was he born?"


def test_names_are_runs_of_capitalised_words_without_the_question_word():
    assert names("In which year did the Golden Gate Bridge open to traffic?") == ["the Golden Gate Bridge"]
    assert names("Under what name did Apollo 11 land at Tranquility Base?") == ["Apollo 11", "Tranquility Base"]
    assert names("Who led the Royal Society of London in 1703?") == ["the Royal Society of London", "1703"]
    assert names("what is the tallest tower?") == []


@pytest.mark.parametrize(
    "question, fragment",
    [
        ("And the Golden Gate?", True),
        ("What about the second one?", True),
        ("In which year?", True),
        ("On how many ships?", True),
        ("Which county?", True),
        ("Who built it?", False),  # a question word for the subject starts a clause of its own
        ("Who designed the tower?", False),
        ("What caused the collapse?", False),
        ("What goes into it?", False),
        ("And when did it open?", False),  # a lead-in, but a clause of its own
        ("Which river does the bridge cross?", False),
    ],
)
def test_fragments_are_told_from_whole_questions(question, fragment):
    assert is_fragment(question) is fragment


def test_a_fragment_with_a_question_word_takes_the_place_of_the_earlier_wh_phrase():
    assert complete_fragment("On how many ships?", "How many sailors did the navy lose in the storm?") == [
        "On how many ships did the navy lose in the storm?"
    ]
    # no auxiliary in the earlier question: the clause starts after its question word
    assert complete_fragment("And in which year?", "Who designed the Brooklyn Bridge?") == ["In which year designed the Brooklyn Bridge?"]


def test_a_fragment_without_a_question_word_takes_the_place_of_a_phrase_of_the_earlier_question():
    completed = complete_fragment("And the Golden Gate Bridge?", "When did the Brooklyn Bridge open?")
    assert "When did the Golden Gate Bridge open?" in completed
    # the phrase that ends in the fragment's last word, when the earlier question has one
    assert complete_fragment("And the northern tower?", "How tall is the southern stone tower?")[0] == "How tall is the northern tower?"


def test_readings_are_listed_once_and_the_question_as_asked_comes_first():
    found = interpretations("And the Golden Gate Bridge?", PastTurn("When did the Brooklyn Bridge open?", "1883", answer_known=True))
    assert found[0] == Interpretation("And the Golden Gate Bridge?", "", "as asked")
    assert found[0].understood_as is None
    assert len({(r.question, r.how) for r in found}) == len(found)
    assert "When did the Golden Gate Bridge open?" in [r.question for r in found if r.how == "completed"]


AS_ASKED = Interpretation("When was he born?", "", "as asked")
RESOLVED = Interpretation("When was John Roebling born?", "Which engineer designed the Brooklyn Bridge? John Roebling", "earlier answer")


def test_the_question_as_asked_keeps_its_reading_when_it_is_answered_well():
    assert choose([0.9, 0.95], [AS_ASKED, RESOLVED], [True, True]) == 0


def test_another_reading_wins_when_the_reader_is_surer_of_it():
    assert choose([0.3, 0.7], [AS_ASKED, RESOLVED], [True, True]) == 1
    assert choose([0.7, 0.7], [AS_ASKED, RESOLVED], [True, True]) == 0  # a tie: the question stays as asked


def test_a_reading_answered_from_a_passage_unrelated_to_the_earlier_turn_never_wins():
    assert choose([0.3, 0.7], [AS_ASKED, RESOLVED], [True, False]) == 0
    assert choose([0.3, 0.7], [AS_ASKED, RESOLVED], [False, False]) == 0


def test_a_related_reading_is_preferred_to_an_as_asked_one_that_left_the_conversation():
    assert choose([0.62, 0.6], [AS_ASKED, RESOLVED], [False, True]) == 1
    assert choose([0.62, 0.6], [AS_ASKED, RESOLVED], [True, True]) == 0
    assert choose([0.7, 0.5], [AS_ASKED, RESOLVED], [False, True]) == 0  # not within the margin
    assert choose([0.85, 0.84], [AS_ASKED, RESOLVED], [False, True]) == 0  # answered well as asked


IN_CONTEXT = Interpretation("What is the capital?", "Which engineer designed the Brooklyn Bridge? John Roebling", "in context", "Which engineer designed the Brooklyn Bridge?")


def test_a_question_read_in_context_for_no_answer_stays_as_asked():
    # Neither reading answered: "(following: …)" would tell the user of a context that bought nothing.
    assert choose([0.2, 0.19], [AS_ASKED, IN_CONTEXT], [False, True], min_score=0.5) == 0
    assert choose([0.2, 0.3], [AS_ASKED, IN_CONTEXT], [True, True], min_score=0.5) == 0
    assert choose([0.2, 0.6], [AS_ASKED, IN_CONTEXT], [True, True], min_score=0.5) == 1  # answered in context
    assert choose([0.2, 0.3], [AS_ASKED, RESOLVED], [True, True], min_score=0.5) == 1  # a rewritten question still shows how it was read
