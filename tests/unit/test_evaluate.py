"""Evaluation metrics and the question-set format."""

from __future__ import annotations

import json

import pytest

from spaceqa.conversation import PastTurn
from spaceqa.errors import QuestionSetError
from spaceqa.evaluate import answer_in_sentence, evaluate, exact_match, f1_score, load_items, normalise_answer, sample
from spaceqa.records import Answer, AskResult


def test_squad_normalisation():
    assert normalise_answer("The  Pacific, near Hawaii!") == "pacific near hawaii"
    assert normalise_answer("“Link Up”") == "link up"
    assert exact_match("the Salyut space stations", "Salyut space stations") == 1.0
    assert f1_score("Alexei Leonov", "Alexei Leonov and Valeri Kubasov") == pytest.approx(2 * 1.0 * 0.4 / 1.4)  # 2 of 5 gold words
    assert f1_score("", "anything") == 0.0


def make_answer(text: str, sentence: str, doc_id: str) -> Answer:
    return Answer(text, sentence, 0.9, doc_id, "T", 0, len(text), 0, len(sentence), sentence, 0, len(sentence))


class ScriptedAsker:
    """Answers from a table, and records the history it was given."""

    def __init__(self, table):
        self.table = table
        self.calls = []

    def ask(self, question, history=(), top_k=3):
        self.calls.append((question, list(history)))
        answer, sentence, doc = self.table[question]
        answers = [make_answer(answer or sentence, sentence, doc)]
        return AskResult(question, answer, answers, took_ms=5.0)


def test_metrics_over_answerable_unanswerable_and_conversations(tmp_path):
    questions = tmp_path / "set.jsonl"
    rows = [
        {"id": "a", "question": "Q1", "answers": ["Norman Thagard"], "docs": ["d1"]},
        {"id": "b", "question": "Q2", "answers": ["1957"], "docs": ["d2"]},
        {"id": "c", "question": "Q3", "answers": [], "docs": []},
        {"id": "d", "turns": [{"question": "T1", "answers": ["Soyuz"], "docs": ["d3"]}, {"question": "T2", "answers": ["115"], "docs": ["d3"]}]},
    ]
    questions.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    asker = ScriptedAsker(
        {
            "Q1": ("Norman Thagard", "Norman Thagard flew.", "d1"),  # right
            "Q2": (None, "It launched in 1957.", "d2"),  # abstained, but sentence and doc right
            "Q3": (None, "Nothing relevant.", "d9"),  # right abstain
            "T1": ("Soyuz", "Soyuz docked.", "d3"),
            "T2": ("113", "He spent 113 days.", "d4"),  # wrong answer, wrong doc
        }
    )
    report = evaluate(asker, load_items(questions), k=3)
    m = report.metrics
    assert (m["questions"], m["answerable"], m["unanswerable"]) == (5, 4, 1)
    assert m["em"] == 50.0 and m["sentence_hit@1"] == 75.0 and m["doc_recall@3"] == 75.0
    assert m["right_abstain"] == 100.0 and m["false_abstain"] == 25.0
    # a later turn carries the earlier questions with the answers given to them
    assert asker.calls[-1] == ("T2", [PastTurn("T1", "Soyuz", answer_known=True)])
    assert {miss.item_id for miss in report.misses()} == {"b", "d"}


def test_a_figure_with_nothing_to_count_is_null_and_the_report_is_strict_json(tmp_path):
    questions = tmp_path / "set.jsonl"
    questions.write_text(json.dumps({"id": "a", "question": "Q1", "answers": ["Soyuz"], "docs": ["d1"]}) + "\n")
    report = evaluate(ScriptedAsker({"Q1": ("Soyuz", "Soyuz docked.", "d1")}), load_items(questions), k=3)
    assert report.metrics["right_abstain"] is None  # no unanswerable question: no share to give
    assert report.metrics["em"] == 100.0
    json.dumps(report.to_dict(), allow_nan=False)  # NaN would make the --json output unreadable to JSON.parse


@pytest.mark.parametrize(
    "answer, sentence, inside",
    [
        ("Norman Thagard", "Astronaut Norman Thagard became the first American aboard Mir.", True),
        ("the Pacific", "It plopped into the Pacific, near Hawaii.", True),
        ("28", "He received a short 28-yard punt.", True),  # normalisation alone would miss it
        ("28", "He ran for 128 yards.", False),
        ("Thagard", "Thagardson flew later.", False),
        ("", "Anything at all.", False),
    ],
)
def test_answer_in_sentence(answer, sentence, inside):
    assert answer_in_sentence(answer, sentence) is inside


def test_squad_files_become_a_corpus_and_questions(tmp_path):
    from spaceqa.evaluate import is_squad, squad_documents, write_squad_corpus

    squad = {
        "version": "v2.0",
        "data": [
            {
                "title": "Voyager (space probe)",
                "paragraphs": [
                    {"context": "Voyager 1 launched in 1977.", "qas": [
                        {"id": "q1", "question": "When did Voyager 1 launch?", "answers": [{"text": "1977", "answer_start": 22}, {"text": "1977", "answer_start": 22}]},
                        {"id": "q2", "question": "When did Voyager 3 launch?", "answers": [], "is_impossible": True},
                    ]},
                    {"context": "It left the heliosphere in 2012.", "qas": []},
                ],
            }
        ],
    }
    path = tmp_path / "squad.json"
    path.write_text(json.dumps(squad))
    assert is_squad(path)
    assert squad_documents(path) == {
        "Voyager__space_probe_-000.txt": "Voyager 1 launched in 1977.",
        "Voyager__space_probe_-001.txt": "It left the heliosphere in 2012.",
    }
    corpus = write_squad_corpus(path, tmp_path / "corpus")
    assert {f.name: f.read_text(encoding="utf-8") for f in corpus.iterdir()} == squad_documents(path)
    first, second = load_items(path)
    assert first.turns[0].answers == ["1977"] and first.turns[0].docs == ["Voyager__space_probe_-000.txt"]
    assert second.turns[0].answers == [] and second.turns[0].docs == []


def test_jsonl_is_not_mistaken_for_squad(tmp_path):
    from spaceqa.evaluate import is_squad

    path = tmp_path / "set.jsonl"
    path.write_text('{"id": "a", "question": "Q?", "answers": [], "data": 1}\n{"id": "b", "question": "R?", "answers": []}\n')
    assert not is_squad(path)


def test_a_sample_is_reproducible_in_file_order_and_all_when_no_limit():
    items = list(range(100))
    drawn = sample(items, 10)
    assert len(drawn) == 10 and drawn == sorted(drawn) and set(drawn) <= set(items)
    assert sample(items, 10) == drawn and sample(items, 10, seed=1) != drawn
    assert sample(items, 0) == items and sample(items, 500) == items


@pytest.mark.parametrize(
    "lines, message",
    [
        (['{"id": "a", "question": "Who?", "answers": ["x"]}', "not json"], "line 2: not JSON"),
        (['{"id": "a", "answers": ["x"]}'], 'line 1: each question needs a "question" string'),
        (['{"question": "Who?", "answers": "Norman Thagard"}'], 'line 1: "answers" must be a list of strings'),
        (['{"turns": []}'], 'line 1: "turns" must be a list of questions'),
        (["[1, 2]"], "line 1: a JSON object is expected"),
        ([], "no questions in it"),
    ],
)
def test_a_malformed_question_set_is_refused_with_its_line(tmp_path, lines, message):
    path = tmp_path / "set.jsonl"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(QuestionSetError, match=message):
        load_items(path)


def test_a_malformed_squad_file_is_refused(tmp_path):
    path = tmp_path / "squad.json"
    path.write_text(json.dumps({"version": "1.1", "data": [{"title": "No paragraphs"}]}))
    with pytest.raises(QuestionSetError, match="not a SQuAD file as expected"):
        load_items(path)
