"""The spaceqa command's own behaviour, with the fake embedder and reader: no model is loaded."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from conftest import make_app, write_corpus
from fakes import HashEmbedder, fake_reader
from pdfs import make_pdf, unknown_filter_pdf
from servers import serve_in_thread
from spaceqa import pipeline
from spaceqa.cli import main


@pytest.fixture
def fake_models(monkeypatch):
    """Every engine the command opens uses the fakes; loading a real model would fail the test."""
    monkeypatch.setattr(pipeline, "load_embedder", lambda settings, **_: HashEmbedder())
    monkeypatch.setattr(pipeline, "load_reader", lambda settings: fake_reader())


def run(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_version():
    result = run("--version")
    assert result.exit_code == 0 and result.output.startswith("spaceqa, version ")


@pytest.mark.parametrize("question", ["", "   ", "\n"])
def test_an_empty_question_is_a_usage_error(question, monkeypatch):
    monkeypatch.setattr(pipeline, "open_engine", lambda *a, **k: pytest.fail("nothing may load for an empty question"))
    result = run("ask", question)
    assert result.exit_code == 2 and "the question is empty" in result.output


def test_chunk_settings_that_do_not_fit_are_a_usage_error_before_anything_loads(tmp_path, tiny_corpus, monkeypatch):
    monkeypatch.setattr(pipeline, "load_embedder", lambda *a, **k: pytest.fail("nothing may load for bad settings"))
    monkeypatch.setenv("SPACEQA_CHUNK_TARGET_WORDS", "300")
    result = run("index", "--corpus", str(tiny_corpus), "--index", str(tmp_path / "index"))
    assert result.exit_code == 2 and "do not fit together" in result.output and "Traceback" not in result.output


def test_a_malformed_question_set_is_a_usage_error_before_anything_loads(tmp_path, monkeypatch):
    monkeypatch.setattr(pipeline, "open_engine", lambda *a, **k: pytest.fail("nothing may load for a malformed file"))
    questions = tmp_path / "q.jsonl"
    questions.write_text('{"question": "Who?", "answers": ["Gagarin"]}\n{"question": "When?", "answers": "1961"}\n')
    result = run("eval", str(questions))
    assert result.exit_code == 2 and "line 2" in result.output and '"answers" must be a list of strings' in result.output


def test_a_missing_corpus_is_an_error_and_the_index_is_left_alone(tmp_path, tiny_corpus, fake_models):
    index = tmp_path / "index"
    assert run("index", "--corpus", str(tiny_corpus), "--index", str(index)).exit_code == 0
    before = (index / "CURRENT").read_text()
    result = run("index", "--corpus", str(tmp_path / "no-such-folder"), "--index", str(index))
    assert result.exit_code == 2 and "does not exist" in result.output and "removed" not in result.output
    assert (index / "CURRENT").read_text() == before
    for command in (["ask", "Who?"], ["serve"]):
        result = run(*command, "--corpus", str(tmp_path / "no-such-folder"), "--index", str(index))
        assert result.exit_code == 2 and "does not exist" in result.output


def test_ask_url_asks_a_running_server_without_loading_a_model(tmp_path, tiny_corpus, monkeypatch):
    app = make_app({"corpus_dir": tiny_corpus, "index_dir": tmp_path / "index", "reload_interval": 0}, HashEmbedder(), fake_reader())
    monkeypatch.setattr(pipeline, "open_engine", lambda *a, **k: pytest.fail("--url must not open an engine here"))
    with serve_in_thread(app) as port:
        url = f"http://127.0.0.1:{port}"
        local = app.extensions["spaceqa"].ask("When was the Mir core module launched?", top_k=2).to_dict()
        result = run("ask", "When was the Mir core module launched?", "--url", url, "--json", "--top-k", "2")
        assert result.exit_code == 0
        remote = json.loads(result.output)
        assert remote["answer"] == local["answer"] and [a["start"] for a in remote["answers"]] == [a["start"] for a in local["answers"]]
        text = run("ask", "When was the Mir core module launched?", "--url", url)
        assert text.exit_code == 0 and "mir.txt" in text.output
        refused = run("ask", "x" * 600, "--url", url)  # longer than the server accepts: its message, one line
        assert refused.exit_code == 1 and "answered 400" in refused.output and "Traceback" not in refused.output


def test_ask_url_that_cannot_be_reached_is_one_line(tmp_path):
    import socket

    with socket.socket() as sock:  # a port that was free a moment ago: nothing listens there
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = run("ask", "Who?", "--url", f"http://127.0.0.1:{port}")
    assert result.exit_code == 1 and result.output.startswith("Error: cannot ask") and "Traceback" not in result.output


def test_eval_and_ask_name_the_number_of_answers_alike(tmp_path, tiny_corpus, fake_models):
    questions = tmp_path / "q.jsonl"
    questions.write_text(json.dumps({"id": "1", "question": "When was the Mir core module launched?", "answers": ["February 20, 1986"], "docs": ["mir.txt"]}) + "\n")
    settings = ["--corpus", str(tiny_corpus), "--index", str(tmp_path / "index")]
    result = run("eval", str(questions), *settings, "--top-k", "2", "--json")
    assert result.exit_code == 0 and json.loads(result.output)["k"] == 2
    assert run("ask", "Who?", *settings, "--top-k", "2").exit_code == 0
    assert run("eval", str(questions), *settings, "--k", "2").exit_code == 2  # the old name is gone


def test_an_answer_from_a_pdf_names_its_page(tmp_path, fake_models):
    corpus = write_corpus(tmp_path / "corpus", {"notes.txt": "Field Notes\n\nThe garden needs water twice a week in the summer months."})
    (corpus / "report.pdf").write_bytes(make_pdf(["this page was left blank on purpose.", "In March 1986 the probe Vega reached the comet."]))
    result = run("ask", "Which probe reached the comet?", "--corpus", str(corpus), "--index", str(tmp_path / "index"), "--top-k", "1")
    assert result.exit_code == 0
    assert "[report.pdf, page 2, characters" in result.output


def test_index_exit_status_says_whether_every_file_was_indexed(tmp_path, tiny_corpus, fake_models):
    command = ["index", "--corpus", str(tiny_corpus), "--index", str(tmp_path / "index")]
    assert run(*command).exit_code == 0
    (tiny_corpus / "scan.pdf").write_bytes(unknown_filter_pdf())
    for outcome in ("indexed 0, unchanged 3", "up to date"):  # published, then not read again: still named, still 3
        result = run(*command)
        assert result.exit_code == 3 and outcome in result.output
        assert "failed scan.pdf: " in result.output and "/NoSuchDecode" in result.output and "Traceback" not in result.output
    help_text = run("index", "--help").output
    assert "Exit status:" in help_text and all(f"  {status}  " in help_text for status in "0123")


def test_train_reader_passes_its_negatives_and_shared_normalisation_on(tmp_path, monkeypatch):
    from spaceqa.reader import training

    seen = {}
    monkeypatch.setattr(training, "prepare_rows", lambda files, work, settings: seen.setdefault("settings", settings) and tmp_path / "rows.npz")
    data = tmp_path / "squad.json"
    data.write_text('{"data": []}')
    result = run("train-reader", "--data", str(data), "--prepare-only", "--negatives", "retrieved=1,swapped=0.6", "--shared-normalisation", "1")
    assert result.exit_code == 0, result.output
    settings = seen["settings"]
    assert settings.negatives == {"paragraph": 0.12, "article": 0.08, "retrieved": 1.0, "swapped": 0.6}
    assert settings.shared_normalisation == 1.0


@pytest.mark.parametrize("negatives", ["retrieved", "retrieved=2", "sideways=0.5", "swapped=lots"])
def test_train_reader_refuses_a_malformed_negatives_option(tmp_path, negatives):
    data = tmp_path / "squad.json"
    data.write_text('{"data": []}')
    result = run("train-reader", "--data", str(data), "--prepare-only", "--negatives", negatives)
    assert result.exit_code == 2 and "--negatives" in result.output


def test_train_reader_refuses_a_dev_file_it_could_not_score_before_training(tmp_path, monkeypatch):
    from spaceqa.reader import training

    monkeypatch.setattr(training, "train", lambda *a, **k: pytest.fail("no training with an unreadable --dev"))
    data, dev = tmp_path / "squad.json", tmp_path / "dev.json"
    data.write_text('{"data": []}')
    dev.write_text('{"data": [{"title": "No paragraphs"}]}')
    result = run("train-reader", "--data", str(data), "--dev", str(dev), "--out", str(tmp_path / "out"), "--work", str(tmp_path / "work"))
    assert result.exit_code == 2 and "--dev" in result.output and "not a SQuAD file" in result.output


def test_train_reader_names_what_its_data_lacks(tmp_path):
    data = tmp_path / "mine.json"
    data.write_text('{"data": [{"title": "Tides", "paragraphs": [{"context": "High tide is at noon."}]}]}')  # no "qas"
    result = run("train-reader", "--data", str(data), "--prepare-only", "--work", str(tmp_path / "work"))
    assert result.exit_code == 1 and "is not SQuAD JSON as training reads it (KeyError: 'qas')" in result.output
