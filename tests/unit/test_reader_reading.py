"""The reader's pure parts: span decoding, input encoding and training labels (real tokenizer, no network)."""

import numpy as np
import pytest

from spaceqa.reader.data import Example, featurise, locate
from spaceqa.reader.reading import Encoded, InputSettings, best_spans, cut_question, decode, encode


def words(token_ids) -> str:
    from tokenizers import Tokenizer as Backend

    from spaceqa.embed import bundled_model_path

    return Backend.from_file(str(bundled_model_path() / "tokenizer.json")).decode([int(i) for i in token_ids])


def test_best_span_starts_before_it_ends_and_respects_the_length_limit():
    start = np.array([[0.0, 0.0, 9.0, 0.0, 0.0, 0.0]])
    end = np.array([[0.0, 9.0, 0.0, 0.0, 0.0, 8.0]])  # the best end lies before the best start
    starts, ends, logprob = best_spans(start, end, max_answer_tokens=10)
    assert (starts[0], ends[0]) == (2, 5)
    starts, ends, _ = best_spans(start, end, max_answer_tokens=2)
    assert starts[0] <= ends[0] < starts[0] + 2
    assert logprob[0] < 0


def test_a_span_never_runs_from_one_sentence_into_the_next():
    start = np.array([[0.0, 9.0, 0.0, 0.0, 0.0]])
    end = np.array([[0.0, 0.0, 0.0, 9.0, 0.0]])  # best span: tokens 1..3
    assert best_spans(start, end, max_answer_tokens=10)[:2] == (np.array([1]), np.array([3]))
    sentence_of_token = np.array([[0, 0, 1, 1, 1]])  # a sentence starts at token 2
    starts, ends, _ = best_spans(start, end, max_answer_tokens=10, sentence_of_token=sentence_of_token)
    assert sentence_of_token[0, starts[0]] == sentence_of_token[0, ends[0]]


def test_the_length_penalty_prefers_the_shorter_of_two_close_spans_and_reports_its_own_probability():
    start = np.array([[0.0, 5.0, 0.0, 0.0, 0.0, 0.0]])
    end = np.array([[0.0, 0.0, 4.9, 0.0, 0.0, 5.0]])  # ends at 2 and at 5 almost equally likely
    assert best_spans(start, end, max_answer_tokens=10)[1][0] == 5
    starts, ends, logprob = best_spans(start, end, max_answer_tokens=10, length_penalty=0.1)
    assert (starts[0], ends[0]) == (1, 2)
    unpenalised = best_spans(start, end, max_answer_tokens=10)[2][0]
    assert logprob[0] == pytest.approx(unpenalised - 0.1)  # 0.1 less likely, not 0.1 + 0.1 * length


def test_decode_reads_sentence_starts_as_offsets_into_each_window():
    offsets = np.zeros((1, 4, 2), dtype=np.int64)
    offsets[0, :, 0] = [0, 5, 10, 15]
    offsets[0, :, 1] = [4, 9, 14, 19]
    encoded = Encoded(*(np.zeros((1, 4)),) * 4, offsets=offsets, window_of_row=np.array([0]))
    start, end = np.array([[0.0, 5.0, 0.0, 0.0]]), np.array([[0.0, 0.0, 0.0, 5.0]])
    assert [(r.start, r.end) for r in decode(encoded, start, end, np.array([1.0]), windows=1, max_answer_tokens=5)] == [(5, 19)]
    # a sentence starting at character 10 keeps the span inside the first or the second sentence
    (reading,) = decode(encoded, start, end, np.array([1.0]), windows=1, max_answer_tokens=5, sentence_starts=[[10]])
    assert (reading.end <= 10) or (reading.start >= 10)


def test_decode_keeps_the_most_confident_row_of_each_window():
    offsets = np.zeros((3, 4, 2), dtype=np.int64)
    offsets[:, :, 0] = [0, 5, 10, 15]
    offsets[:, :, 1] = [4, 9, 14, 19]
    encoded = Encoded(*(np.zeros((3, 4)),) * 4, offsets=offsets, window_of_row=np.array([0, 0, 1]))
    start = np.array([[0.0, 5.0, 0.0, 0.0], [0.0, 0.0, 5.0, 0.0], [5.0, 0.0, 0.0, 0.0]])
    end = start.copy()
    readings = decode(encoded, start, end, np.array([-3.0, 2.0, 0.0]), windows=2, max_answer_tokens=5)
    assert [(r.start, r.end) for r in readings] == [(10, 14), (0, 4)]
    assert readings[0].answerable_logit == 2.0


def test_a_long_question_is_cut_at_a_token_boundary(tokenizer):
    question = "Which " + "very " * 60 + "long question is this?"
    cut, length = cut_question(tokenizer, question, 32)
    assert length == 32 and question.startswith(cut) and len(cut) < len(question)
    assert cut_question(tokenizer, "Who was first?", 32) == ("Who was first?", 4)


def test_encoding_marks_the_window_tokens_and_maps_them_to_characters(tokenizer):
    text = "Mir was launched in 1986. It orbited for fifteen years."
    encoded = encode(tokenizer, "When was Mir launched?", [text], InputSettings())
    row = encoded.context_mask[0].astype(bool)
    words = [text[s:e] for s, e in encoded.offsets[0][row]]
    assert words[:5] == ["Mir", "was", "launched", "in", "1986"]  # offsets point into the text, case and all
    assert not encoded.context_mask[0][:6].any()  # [CLS] and the question are not the window
    assert encoded.window_of_row.tolist() == [0]


def test_a_window_too_long_for_one_input_is_read_in_overlapping_rows(tokenizer):
    text = " ".join(f"word{i}" for i in range(300))
    encoded = encode(tokenizer, "Which word?", [text, "Short."], InputSettings(max_length=64, stride=16))
    assert encoded.window_of_row.tolist().count(0) > 1 and encoded.window_of_row.tolist()[-1] == 1


def test_training_labels_point_at_the_answer_tokens(tokenizer):
    text = "The core module was launched on February 20, 1986 from Baikonur."
    start = text.index("February")
    example = Example("When was the core module launched?", text, start, start + len("February 20, 1986"), "positive")
    negative = Example("When was the core module launched?", text, -1, -1, "paragraph")
    features = featurise([example, negative], tokenizer, InputSettings())
    ids = features.input_ids[0]
    assert words(ids[features.start[0] : features.end[0] + 1]) == "february 20, 1986"
    assert features.answerable.tolist() == [1.0, 0.0] and features.start[1] == features.end[1] == 0


def test_an_answer_cut_by_a_stride_makes_that_row_a_negative(tokenizer):
    text = " ".join(f"filler{i}" for i in range(200)) + " The answer is Voskhod."
    start = text.index("Voskhod")
    features = featurise([Example("What is the answer?", text, start, start + 7, "positive")], tokenizer, InputSettings(max_length=64, stride=16))
    assert len(features.input_ids) > 1
    assert features.answerable[-1] == 1.0 and not features.answerable[:-2].any()


def test_locate_finds_the_occurrence_nearest_the_given_offset():
    text = "Apollo flew. Later Apollo landed."
    assert locate(text, "Apollo", 18) == (19, 25)
    assert locate(text, "Apollo", 0) == (0, 6)
    assert locate(text, "Soyuz", 0) is None
