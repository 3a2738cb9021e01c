"""tokens.Tokenizer gives exactly the tokens transformers' AutoTokenizer gives for the bundled model.

The reader was trained on transformers' tokens and the embedder's vectors were measured with
them, so every id, offset and row must match, long texts read in strides included.
"""

from pathlib import Path

import numpy as np
import pytest

from spaceqa.embed import bundled_model_path
from spaceqa.tokens import Tokenizer

CORPUS = Path(__file__).resolve().parents[2] / "corpus"


@pytest.fixture(scope="module")
def tokenizers(tokenizer):
    """Ours (the shared fixture) and transformers', for the bundled model."""
    from transformers import AutoTokenizer

    return tokenizer, AutoTokenizer.from_pretrained(str(bundled_model_path()))


@pytest.fixture(scope="module")
def texts():
    document = sorted(CORPUS.glob("*.txt"))[0].read_text(encoding="utf-8")
    cuts = [document[:60], document[200:1400], document[:3000], document[-900:]]
    return cuts + ["", "a", "Café naïve — “quoted” 中文 🚀 x\u00a0y\u200bz", "word " * 400, "\n\n  spaced \t out  \n"]


def test_pairs_match_transformers_rows_ids_offsets_and_the_text_s_tokens(tokenizers, texts):
    ours, theirs = tokenizers
    questions = ["Who built it?", "", "When did the long question with many words end, if it ever did?"] * 3
    questions = questions[: len(texts)]
    expected = theirs(
        questions, texts, truncation="only_second", max_length=128, stride=32,
        return_overflowing_tokens=True, return_offsets_mapping=True, padding="longest", return_tensors="np",
    )
    batch = ours.pairs(questions, texts, 128, 32)
    assert len(batch.source_of_row) > len(texts)  # long texts were read in several rows
    np.testing.assert_array_equal(batch.input_ids, expected["input_ids"])
    np.testing.assert_array_equal(batch.token_type_ids, expected["token_type_ids"])
    np.testing.assert_array_equal(batch.attention_mask, expected["attention_mask"])
    np.testing.assert_array_equal(batch.offsets, expected["offset_mapping"])
    np.testing.assert_array_equal(batch.source_of_row, expected["overflow_to_sample_mapping"])
    in_text = np.array([[sequence == 1 for sequence in expected.sequence_ids(row)] for row in range(len(batch.input_ids))])
    np.testing.assert_array_equal(batch.in_second, in_text)


def test_texts_match_transformers_cut_and_padded(tokenizers, texts):
    ours, theirs = tokenizers
    expected = theirs(texts, padding=True, truncation=True, max_length=256, return_tensors="np", return_offsets_mapping=True)
    batch = ours.texts(texts, 256)
    assert batch.input_ids.shape[1] == 256
    for name, value in [("input_ids", batch.input_ids), ("token_type_ids", batch.token_type_ids), ("attention_mask", batch.attention_mask), ("offset_mapping", batch.offsets)]:
        np.testing.assert_array_equal(value, expected[name], err_msg=name)


def test_offsets_are_the_tokens_without_special_tokens_or_a_limit(tokenizers, texts):
    ours, theirs = tokenizers
    expected = theirs(texts, add_special_tokens=False, return_offsets_mapping=True)["offset_mapping"]
    assert [[tuple(pair) for pair in row] for row in ours.offsets(texts)] == [[tuple(pair) for pair in row] for row in expected]
    assert ours.model_max_length == theirs.model_max_length and ours.vocab_size == theirs.vocab_size


def test_one_call_s_settings_do_not_leak_into_the_next(tokenizers):
    ours, _ = tokenizers
    long_text = "word " * 300
    ours.texts([long_text], 16)
    (offsets,) = ours.offsets([long_text])
    assert len(offsets) == 300  # no truncation left behind
    assert ours.pairs(["q"], [long_text], 64, 16).input_ids.shape[1] == 64
    assert ours.texts(["short"], 256).input_ids.shape[1] == 3  # padded to the longest text only: [CLS] short [SEP]


def test_another_model_s_tokenizer_is_built_by_transformers(tokenizers, texts, tmp_path):
    # a model folder other than the bundled one (SPACEQA_MODEL): its configuration may change
    # what its tokenizer.json says, so transformers builds it; here the files are the bundled ones
    for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt", "config.json"):
        (tmp_path / name).write_bytes((bundled_model_path() / name).read_bytes())
    other, ours = Tokenizer.of_model(tmp_path), tokenizers[0]
    np.testing.assert_array_equal(other.pairs(["Who?"] * len(texts), texts, 64, 16).input_ids, ours.pairs(["Who?"] * len(texts), texts, 64, 16).input_ids)
    assert (other.model_max_length, other.pad_id) == (ours.model_max_length, ours.pad_id)
