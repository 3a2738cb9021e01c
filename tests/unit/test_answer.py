"""The answer stage with a scripted reader: which windows are read, and how spans become answers."""

from __future__ import annotations

import json

import pytest

from conftest import write_corpus
from fakes import HashEmbedder
from spaceqa.answer import FEATURES, Answerer, Calibration
from spaceqa.build import build_index
from spaceqa.chunk import ChunkParams
from spaceqa.index import load_index
from spaceqa.reader import InputSettings, ReaderCard, SpanReading
from spaceqa.reader.loading import ReaderMismatchError
from spaceqa.retrieve import Candidate

DOCUMENT = (
    "Mission Log\n\n"
    "The crew boarded at dawn. "
    "Commander Ada Brook flew the capsule. "
    "She landed it on May 3, 2031. "
    "The capsule is now in a museum."
)


class ScriptedReader:
    """Answers each window with a span given by a function of the window's text; records what it read."""

    def __init__(self, choose, tokens_per_word: int = 1) -> None:
        self.settings = InputSettings()
        self.choose = choose
        self.tokens_per_word = tokens_per_word  # large: every window is its centre sentence alone
        self.read_texts: list[list[str]] = []

    def question_tokens(self, question: str) -> int:
        return len(question.split())

    def token_counts(self, texts):
        return [len(text.split()) * self.tokens_per_word for text in texts]

    def read(self, question, texts, sentence_starts=None):
        self.read_texts.append(list(texts))
        return [self.choose(text) for text in texts]


def span_of(word: str, logit: float = 2.0):
    def choose(text: str) -> SpanReading:
        at = text.find(word)
        return SpanReading(at, at + len(word), -0.5, logit) if at >= 0 else SpanReading(0, 0, -9.0, -3.0)

    return choose


CALIBRATION = Calibration(windows_read=2, weights=tuple(1.0 if f == "answerable" else 0.0 for f in FEATURES), bias=0.0)


@pytest.fixture
def index(tmp_path):
    corpus = write_corpus(tmp_path / "corpus", {"log.txt": DOCUMENT})
    build_index(corpus, tmp_path / "index", HashEmbedder(), ChunkParams())
    return load_index(tmp_path / "index")


def candidates(index, *sentence_ids):
    return [Candidate(s, index.chunk_of_sentence(s), 1.0 / (i + 1), 0.5, 1.0) for i, s in enumerate(sentence_ids)]


def sentence_id(index, fragment):
    return next(i for i in range(len(index.sentences)) if fragment in index.sentence_text(i))


def test_an_answer_is_the_span_inside_its_sentence_with_exact_offsets(index):
    answerer = Answerer(index, ScriptedReader(span_of("May 3, 2031")), CALIBRATION)
    landed = sentence_id(index, "She landed")
    readings = answerer.readings("When did she land?", candidates(index, landed))
    answer = answerer.answers(readings)[0]
    text = index.documents["log.txt"].text
    assert answer.text == "May 3, 2031" == text[answer.start : answer.end]
    assert answer.sentence == "She landed it on May 3, 2031." == text[answer.sentence_start : answer.sentence_end]
    assert text[answer.passage_start : answer.passage_end] == answer.passage and answer.doc_id == "log.txt"


def test_windows_carry_neighbours_and_a_covered_candidate_is_not_read_again(index):
    reader = ScriptedReader(span_of("Ada Brook"))
    answerer = Answerer(index, reader, Calibration(windows_read=3, weights=CALIBRATION.weights, bias=0.0))
    flew, landed = sentence_id(index, "Ada Brook"), sentence_id(index, "She landed")
    answerer.readings("Who flew the capsule?", candidates(index, landed, flew))
    (texts,) = reader.read_texts
    assert len(texts) == 1  # the second candidate lies inside the first one's window
    assert "She landed" in texts[0] and "Ada Brook" in texts[0]


def test_no_more_windows_than_the_calibration_says(index):
    reader = ScriptedReader(span_of("capsule"))
    answerer = Answerer(index, reader, Calibration(windows_read=1, weights=CALIBRATION.weights, bias=0.0))
    answerer.readings("What is in the museum?", candidates(index, *range(len(index.sentences))))
    assert [len(texts) for texts in reader.read_texts] == [1]


def test_a_span_across_two_sentences_cites_both(index):
    answerer = Answerer(index, ScriptedReader(span_of("Ada Brook flew the capsule. She landed")), CALIBRATION)
    answer = answerer.answers(answerer.readings("Who?", candidates(index, sentence_id(index, "Ada Brook"))))[0]
    assert answer.sentence.startswith("Commander Ada Brook") and answer.sentence.endswith("May 3, 2031.")
    assert answer.sentence_start <= answer.start < answer.end <= answer.sentence_end


def test_when_the_reader_points_at_nothing_the_whole_sentence_is_cited(index):
    answerer = Answerer(index, ScriptedReader(lambda text: SpanReading(0, 0, -9.0, -2.0)), CALIBRATION)
    answer = answerer.answers(answerer.readings("Why?", candidates(index, sentence_id(index, "museum"))))[0]
    assert answer.text == answer.sentence and answer.score < 0.5


def test_answers_are_ranked_by_calibrated_score_one_per_sentence(index):
    def choose(text: str) -> SpanReading:
        word = "museum" if "museum" in text and "Ada" not in text else "dawn"
        at = text.find(word)
        return SpanReading(at, at + len(word), -0.2, 3.0 if word == "museum" else -1.0)

    answerer = Answerer(index, ScriptedReader(choose, tokens_per_word=20), Calibration(windows_read=4, weights=CALIBRATION.weights, bias=0.0))
    readings = answerer.readings("Where is it?", candidates(index, sentence_id(index, "crew"), sentence_id(index, "museum")))
    scores = [r.score for r in readings]
    assert len(readings) == 2 and scores == sorted(scores, reverse=True)
    assert answerer.answers(readings)[0].text == "museum" and readings[0].rank == 1  # the reader outranks retrieval
    sentences = [answerer.answers([r])[0].sentence for r in readings]
    assert len(sentences) == len(set(sentences))


def test_calibration_comes_from_the_card_and_must_match_the_features():
    card = ReaderCard(inputs=InputSettings(), asking={"windows_read": 6, "features": list(FEATURES), "weights": [0.5] * len(FEATURES), "bias": -1.0}, runtime="torch", raw={})
    assert Calibration.from_card(card).windows_read == 6
    with pytest.raises(ReaderMismatchError, match="not calibrated"):
        Calibration.from_card(ReaderCard(inputs=InputSettings(), asking={}, runtime="torch", raw={}))
    stale = dict(card.asking, features=["answerable", "something_else"])
    with pytest.raises(ReaderMismatchError, match="calibrated on features"):
        Calibration.from_card(ReaderCard(inputs=InputSettings(), asking=stale, runtime="torch", raw={}))


def test_a_reader_folder_is_checked_before_anything_loads(tmp_path):
    from spaceqa.reader import load_reader

    with pytest.raises(ReaderMismatchError, match="no card.json"):
        load_reader(tmp_path)
    (tmp_path / "card.json").write_text(json.dumps({"format": 99, "inputs": {}}))
    with pytest.raises(ReaderMismatchError, match="format 99"):
        load_reader(tmp_path)
    (tmp_path / "card.json").write_text(json.dumps({"format": 1, "inputs": InputSettings().to_dict(), "base_sha256": "0" * 64}))
    with pytest.raises(ReaderMismatchError, match="another base model"):
        load_reader(tmp_path)


def own(*answerable, span_logprob=-1.0, masses=(0.0, 0.0)):
    """Windows' own features, as ``Answerer.read`` gives them (only what comparing needs)."""
    return [{"answerable": a, "span_logprob": span_logprob, "start_mass": masses[0], "end_mass": masses[1]} for a in answerable]


def test_features_that_compare_windows():
    from spaceqa.answer import relative_features, span_key

    features = relative_features(own(2.0, -1.0, 0.5), ["Ada Brook", "ada  brook.", ""])
    assert features["answerable_gap"] == [0.0, -3.0, -1.5]
    # Each window is backed by the other one's confidence: the unsure window by the sure one.
    assert features["span_agreement"][1] > features["span_agreement"][0] > 0 and features["span_agreement"][2] == 0.0
    assert span_key("“The Pacific,”") == span_key("the pacific") == "the pacific"


def test_agreement_comes_only_from_windows_that_say_they_answer():
    from spaceqa.answer import relative_features

    # Three windows propose the same name; two of them are sure they do not hold the answer.
    echoed = relative_features(own(1.0, -6.0, -6.0, 3.0), ["Kiln", "kiln", "Kiln", "Ada Brook"])["span_agreement"]
    assert echoed[0] < 0.01  # two unsure echoes are next to no support
    agreed = relative_features(own(1.0, 4.0, 3.0), ["Kiln", "kiln", "Ada Brook"])["span_agreement"]
    assert agreed[0] > 0.6  # one sure window agreeing is about as much as a second vote (log 2)
    assert agreed[2] == 0.0


def test_shared_span_probability_compares_windows_on_one_scale():
    import math

    from spaceqa.answer import relative_features

    # Window A's logits are all higher (larger masses) than B's: the same within-window span
    # probability counts for more in A, and the shares over both windows sum to at most 1.
    windows = [
        {"answerable": 1.0, "span_logprob": math.log(0.5) * 2, "start_mass": 3.0, "end_mass": 3.0},
        {"answerable": 1.0, "span_logprob": math.log(0.5) * 2, "start_mass": 0.0, "end_mass": 0.0},
    ]
    shared = relative_features(windows, ["Ada Brook", "Kiln"])["span_shared"]
    assert shared[0] > shared[1]
    assert math.isclose(shared[0], math.log(0.5 * 1 / (1 + math.exp(-3))) * 2)
    assert sum(math.exp(s) for s in shared) <= 1.0
    alone = relative_features(windows[1:], ["Kiln"])["span_shared"]
    assert math.isclose(alone[0], windows[1]["span_logprob"])  # one window: its own probability
