"""scripts/where_answers_are_lost.py: it must tell a lost window choice from a lost retrieval.

Two small documents, one question whose answer only the first holds, and a scripted reader
that proposes a name in each; which window the calibration prefers is set by the reader's
answerability, so the right window is read both times and chosen only once.
"""

from __future__ import annotations

import pytest

from conftest import script_module, write_corpus
from fakes import HashEmbedder
from spaceqa.answer import FEATURES, Answerer, Calibration
from spaceqa.build import build_index
from spaceqa.chunk import ChunkParams
from spaceqa.evaluate import Item, Turn
from spaceqa.index import load_index
from spaceqa.reader import InputSettings, SpanReading
from spaceqa.retrieve import Retriever

QUESTION = Item("q1", [Turn("Who flew the capsule?", ["Ada Brook"], ["capsule.txt"])])


@pytest.fixture(scope="module")
def script():
    with script_module("where_answers_are_lost") as module:
        yield module


@pytest.fixture(scope="module")
def index(tmp_path_factory):
    folder = tmp_path_factory.mktemp("breakdown")
    corpus = write_corpus(folder / "corpus", {
        "capsule.txt": "Commander Ada Brook flew the capsule. She landed it in the sea.",
        "glider.txt": "Pilot Sam Reed flew the glider. It landed in a field.",
    })
    build_index(corpus, folder / "index", HashEmbedder(), ChunkParams())
    return load_index(folder / "index")


class NameReader:
    """Proposes the first name it knows in each window, with the answerability given for that name."""

    def __init__(self, answerability: dict[str, float]) -> None:
        self.settings = InputSettings()
        self.answerability = answerability

    def question_tokens(self, question):
        return len(question.split())

    def token_counts(self, texts):
        return [1000 for _ in texts]  # every window is its own sentence alone

    def read(self, question, texts, sentence_starts=None):
        readings = []
        for text in texts:
            name = next((name for name in self.answerability if name in text), None)
            at = text.find(name) if name else 0
            readings.append(SpanReading(at, at + len(name), -0.5, self.answerability[name]) if name else SpanReading(0, 0, -9.0, -5.0))
        return readings


def breakdown(script, index, answerability):
    calibration = Calibration(windows_read=4, weights=tuple(1.0 if f == "answerable" else 0.0 for f in FEATURES), bias=0.0)
    answerer = Answerer(index, NameReader(answerability), calibration)
    return script.breakdown(answerer, Retriever(index), HashEmbedder(), [QUESTION])


def test_a_right_window_read_but_outscored_counts_as_a_lost_choice(script, index):
    figures = breakdown(script, index, {"Ada Brook": 0.5, "Sam Reed": 3.0})
    assert figures[4] == {"gold read": 100.0, "gold chosen": 0.0, "best span": 100.0, "EM": 0.0, "F1": 0.0}


def test_a_right_window_chosen_counts_everywhere(script, index):
    figures = breakdown(script, index, {"Ada Brook": 3.0, "Sam Reed": 0.5})
    assert all(shares == {"gold read": 100.0, "gold chosen": 100.0, "best span": 100.0, "EM": 100.0, "F1": 100.0} for shares in figures.values())
