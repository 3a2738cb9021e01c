"""The shipped reader gives the same readings whatever runs it: PyTorch, or its ONNX exports."""

from __future__ import annotations

import numpy as np
import pytest

from spaceqa.reader import load_reader

pytestmark = pytest.mark.integration

QUESTION = "Who commanded the first crew of the station?"
WINDOWS = [
    "The first crew arrived in November 2000. It was commanded by William Shepherd, with two cosmonauts aboard.",
    "The station's solar arrays were installed later, during several shuttle flights.",
    "Gardening needs patience: tomatoes want six hours of sun a day.",
]


@pytest.fixture(scope="module")
def torch_reader():
    return load_reader(runtime="torch")[0]


def test_onnx_float32_reads_as_pytorch_does(torch_reader):
    reader = load_reader(runtime="onnx")[0]
    expected, found = torch_reader.read(QUESTION, WINDOWS), reader.read(QUESTION, WINDOWS)
    assert [(r.start, r.end) for r in found] == [(r.start, r.end) for r in expected]
    assert np.allclose([r.answerable_logit for r in found], [r.answerable_logit for r in expected], atol=1e-3)
    assert WINDOWS[0][found[0].start : found[0].end] == "William Shepherd"


def test_onnx_int8_makes_the_same_decisions_as_pytorch(torch_reader):
    # int8 rounds the weights, so its logits move (by most of a unit on this reader): what must
    # hold is what they decide.  The window that answers keeps its span; every window keeps
    # the side of zero its answerability is on.  In a window without an answer the "best span"
    # is a near-tie among poor ones, and rounding may pick another.
    reader = load_reader(runtime="onnx-int8")[0]
    expected, found = torch_reader.read(QUESTION, WINDOWS), reader.read(QUESTION, WINDOWS)
    assert (found[0].start, found[0].end) == (expected[0].start, expected[0].end)
    assert [r.answerable_logit > 0 for r in found] == [r.answerable_logit > 0 for r in expected] == [True, False, False]
