"""Conversations with the real models: follow-ups resolved, standalone questions left alone.

The project's own conversation sets (questions/) always run; seed-dev's checks read
../shared/eval/seed-dev.jsonl and skip cleanly without it.
"""

from __future__ import annotations

import pytest

from conftest import PROJECT, SHARED, make_app
from spaceqa.evaluate import evaluate, exact_match, load_items

pytestmark = pytest.mark.integration

SEED_DEV = SHARED / "eval" / "seed-dev.jsonl"
QUESTIONS = PROJECT / "questions"

# Three questions about nothing the bundled documents cover, sent as plain strings, so the
# engine asks them again to learn their answers, as it does for a client that sends no answers.
UNRELATED_HISTORY = ["Who painted the ceiling of the Sistine Chapel?", "How deep is the Mariana Trench?", "What does a sommelier do at dinner?"]

# The conversation issue's goal on the bundled corpus, and on the other a floor below which a
# change has made the shipped system worse than measured (bundled EM 85.1, other 83.0, one
# answerable turn 1.9 points; false-abstain 4.6 and 0.0, the calibration fitted with the
# service's embedder).  The reader's fourth pass took the other from 86.8 to 83.0: two turns
# whose span it now picks wrongly (one runs on past the name, one is another name of the
# sentence); the choice between readings measured the same (scripts/measure_conversation_rule.py).
CONVERSATION_SETS = [
    pytest.param("bundled", 80.0, id="bundled-goal"),
    pytest.param("general", 81.0, id="general-floor"),  # above the goal of 70
]
FALSE_ABSTAIN_LIMIT = 10.0


def seed_items():
    if not SEED_DEV.exists():
        pytest.skip(f"{SEED_DEV} is not here (it lives in ../shared beside the project)")
    return load_items(SEED_DEV)


@pytest.fixture(scope="module")
def general_app(tmp_path_factory, real_embedder):
    return make_app({"corpus_dir": QUESTIONS / "general" / "corpus", "index_dir": tmp_path_factory.mktemp("general-index")}, real_embedder)


@pytest.fixture(scope="module")
def conversation_reports(real_app, general_app):
    return {
        "bundled": evaluate(real_app.extensions["spaceqa"], load_items(QUESTIONS / "conversations.jsonl")),
        "general": evaluate(general_app.extensions["spaceqa"], load_items(QUESTIONS / "general" / "conversations.jsonl")),
    }


def test_each_standalone_seed_question_gets_the_same_answer_after_an_unrelated_history(real_app):
    engine = real_app.extensions["spaceqa"]
    changed = []
    for item in seed_items():
        if len(item.turns) != 1:
            continue
        question = item.turns[0].question
        alone, after_history = engine.ask(question), engine.ask(question, UNRELATED_HISTORY)
        if (alone.answer, alone.answers[0].doc_id if alone.answers else None) != (
            after_history.answer, after_history.answers[0].doc_id if after_history.answers else None
        ):
            changed.append((question, alone.answer, after_history.answer, after_history.understood_as))
    assert not changed


@pytest.fixture(scope="module")
def seed_conversations(real_app):
    conversations = [item for item in seed_items() if len(item.turns) > 1]
    assert conversations
    return evaluate(real_app.extensions["spaceqa"], conversations).outcomes


def test_each_seed_conversation_is_answered_right_turn_by_turn(seed_conversations):
    assert [(o.question, o.gold, o.answer) for o in seed_conversations if not o.correct] == []


def test_each_seed_follow_up_is_answered_right_after_the_answers_given_before_it(seed_conversations):
    follow_ups = [o for o in seed_conversations if o.history]
    assert follow_ups
    assert [(o.question, o.history, o.gold, o.answer, o.understood_as) for o in follow_ups if not o.correct] == []


def test_a_follow_up_says_how_it_was_understood(real_app):
    engine = real_app.extensions["spaceqa"]
    first = engine.ask("Which American astronaut spent 115 days aboard Mir?")
    assert first.understood_as is None and first.answer and exact_match(first.answer, "Norman Thagard")
    follow_up = engine.ask("In which months was he there?", [first_turn(first)])
    assert follow_up.understood_as == "In which months was Norman Thagard there?"
    assert follow_up.answer == "March-July 1995"


def test_a_question_answered_surely_as_asked_is_read_no_other_way(real_app, monkeypatch):
    """``choose`` keeps the question as asked when it is answered surely, so no other reading is read (a fifth of the work)."""
    from spaceqa.conversation import interpretations, settled_as_asked

    engine = real_app.extensions["spaceqa"]
    earlier = first_turn(engine.ask("Which American astronaut spent 115 days aboard Mir?"))
    read_as, read = engine._read_as, []
    monkeypatch.setattr(engine, "_read_as", lambda state, option: read.append(option.how) or read_as(state, option))
    question = "From which year does Russia plan to run a station of its own?"  # "its" makes it a possible follow-up
    alone = engine.ask(question)
    read.clear()
    after = engine.ask(question, [earlier])
    assert len(interpretations(question, earlier)) > 1
    if settled_as_asked(alone.answers[0].score):
        assert read == ["as asked"]
    else:  # on a CPU that scores it under the line, every reading is read, as for any follow-up
        assert len(read) == len(interpretations(question, earlier))
    assert (after.answer, after.understood_as) == (alone.answer, None)
    read.clear()
    follow_up = engine.ask("In which months was he there?", [earlier])
    assert read[0] == "as asked" and len(read) > 1 and follow_up.understood_as == "In which months was Norman Thagard there?"


@pytest.mark.parametrize("name, em_at_least", CONVERSATION_SETS)
def test_the_projects_conversations_are_answered_turn_by_turn(conversation_reports, name, em_at_least):
    metrics = conversation_reports[name].metrics
    assert metrics["em"] >= em_at_least, metrics
    assert metrics["false_abstain"] <= FALSE_ABSTAIN_LIMIT, metrics


def test_every_kind_of_turn_is_reported(conversation_reports):
    for report in conversation_reports.values():
        assert set(report.by_kind) == {"standalone", "pronoun", "subject", "fragment", "switch", "unanswerable"}


def first_turn(result):
    from spaceqa.conversation import PastTurn

    return PastTurn(result.question, result.answer, answer_known=True, understood_as=result.understood_as)
