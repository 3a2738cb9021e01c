"""The spaceqa command, run in-process with the real model: index, ask, eval, and a rebuild."""

from __future__ import annotations

import json
import shutil

import pytest
from click.testing import CliRunner

from spaceqa import pipeline
from spaceqa.cli import main

pytestmark = pytest.mark.integration

NEW_DOCUMENT = (
    "The Selene Accord\n\n"
    "In 2031 the Selene Accord on shared lunar navigation beacons was signed in Reykjavik by the space "
    "agencies of Iceland and Chile. Its first coordinator was the engineer Ingrid Valdottir, who had "
    "led the beacon trials for six years."
)


@pytest.fixture
def cli(monkeypatch, real_embedder, tmp_path, bundled_copy):
    """Run `spaceqa` on a private copy of the corpus, sharing the session's loaded model."""
    monkeypatch.setattr(pipeline, "load_embedder", lambda settings, **_: real_embedder)
    corpus = tmp_path / "corpus"
    shutil.copytree(bundled_copy, corpus)
    monkeypatch.setenv("SPACEQA_CORPUS", str(corpus))
    monkeypatch.setenv("SPACEQA_INDEX", str(tmp_path / "index"))
    runner = CliRunner()

    def run(*args):
        result = runner.invoke(main, list(args), catch_exceptions=False)
        return result

    run.corpus = corpus
    return run


def test_index_then_ask_with_citation(cli):
    result = cli("index")
    assert result.exit_code == 0 and "5 documents" in result.output
    result = cli("ask", "How many days did Norman Thagard spend on Mir?")
    assert result.exit_code == 0
    assert result.output.splitlines()[0] == "115"
    assert "001_ed1ccbfae5182841.txt" in result.output


def test_an_up_to_date_index_is_checked_without_loading_the_model(cli, monkeypatch):
    from spaceqa.embed import OnnxEmbedder

    cli("index")
    lazy = OnnxEmbedder(quantise=True, lazy=True)  # the runtime of the session's embedder, not loaded yet
    monkeypatch.setattr(pipeline, "load_embedder", lambda settings, **_: lazy)
    result = cli("index")
    assert result.exit_code == 0 and "up to date" in result.output
    assert lazy._session is None  # nothing to embed, so the model's seconds of loading were never paid
    (cli.corpus / "new.txt").write_text(NEW_DOCUMENT, encoding="utf-8")
    assert "indexed 1" in cli("index").output and lazy._session is not None


def test_ask_json_is_the_api_response(cli):
    result = cli("ask", "On what date did Soyuz-19 lift off?", "--json", "--top-k", "2")
    body = json.loads(result.output)
    assert body["answer"] == "July 15, 1975" and len(body["answers"]) == 2


def test_a_document_added_and_indexed_is_answered_and_cited(cli):
    cli("index")
    question = "In which city was the Selene Accord signed?"
    before = json.loads(cli("ask", question, "--json").output)
    assert before["answer"] != "Reykjavik"

    (cli.corpus / "selene_accord.txt").write_text(NEW_DOCUMENT, encoding="utf-8")
    result = cli("index")
    assert "indexed 1, unchanged 5" in result.output and "6 documents" in result.output

    after = json.loads(cli("ask", question, "--json").output)
    assert after["answer"] == "Reykjavik"
    top = after["answers"][0]
    assert top["doc_id"] == "selene_accord.txt" and top["title"] == "The Selene Accord"
    text = (cli.corpus / "selene_accord.txt").read_text()
    assert text[top["start"] : top["end"]] == "Reykjavik"  # the cleaned text equals this simple file


def test_ask_says_so_when_the_documents_do_not_answer(cli):
    result = cli("ask", "How many moons does Jupiter have?")
    assert result.exit_code == 0 and result.output.startswith("The documents do not answer this question.")


def test_eval_scores_a_question_file(cli, tmp_path):
    questions = tmp_path / "questions.jsonl"
    rows = [
        {"id": "q1", "question": "Which cosmonaut made the first orbit of the Earth?", "answers": ["Yuri Gagarin", "Gagarin"], "docs": ["003_6c3f5f3a73d38cee.txt"]},
        {"id": "q2", "question": "Who won the 2018 FIFA World Cup?", "answers": [], "docs": []},
    ]
    questions.write_text("\n".join(json.dumps(r) for r in rows))
    metrics = json.loads(cli("eval", str(questions), "--json").output)["metrics"]
    assert metrics["questions"] == 2 and metrics["em"] == 100.0 and metrics["right_abstain"] == 100.0


def test_errors_are_one_line_messages(cli, tmp_path):
    (tmp_path / "empty").mkdir()
    result = CliRunner().invoke(main, ["index", "--corpus", str(tmp_path / "empty"), "--index", str(tmp_path / "index")])
    assert result.exit_code == 1 and "no readable documents" in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_train_reader_prepare_only_writes_the_rows_and_trains_nothing(cli, tmp_path):
    """The first half of training on another machine: rows from a user's own SQuAD-format file."""
    from spaceqa.reader.training import load_features

    paragraphs = [
        ("The Selene Accord was signed in Reykjavik in 2031. Its first coordinator was Ingrid Valdottir.",
         [("Where was the Selene Accord signed?", "Reykjavik"), ("Who was the first coordinator of the accord?", "Ingrid Valdottir")]),
        ("Beacon trials ran for six years on the lunar south pole. They were led from a station in Chile.",
         [("How long did the beacon trials run?", "six years")]),
    ]
    data = {"version": "1.1", "data": [{"title": "Selene", "paragraphs": [
        {"context": context, "qas": [{"id": f"q{n}-{m}", "question": q, "answers": [{"text": a, "answer_start": context.index(a)}]}
                                     for m, (q, a) in enumerate(qas)]}
        for n, (context, qas) in enumerate(paragraphs)]}]}
    squad = tmp_path / "mine.json"
    squad.write_text(json.dumps(data))
    work = tmp_path / "work"
    result = cli("train-reader", "--data", str(squad), "--from", "base", "--work", str(work), "--seed", "3", "--prepare-only")
    assert result.exit_code == 0, result.output
    rows = next(work.glob("features-*.npz"))
    assert f"training rows written to {rows}" in result.output
    features, summary = load_features(rows)
    assert summary["questions"] == 3 and summary["prepared_with"]["seed"] == 3
    assert int(features.answerable.sum()) == 3
    assert not (work / "checkpoint.pt").exists() and not (tmp_path / "reader").exists()
