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


# fp32 ONNX computes what PyTorch does, so every span agrees.  int8 rounds the weights: the
# window that answers keeps its span, but in a window without an answer the "best span" is a
# near-tie among poor ones, and rounding may pick another (the answerability logit says to
# ignore it either way).
@pytest.mark.parametrize("runtime, tolerance, windows_compared", [("onnx", 1e-3, 3), ("onnx-int8", 0.5, 1)])
def test_onnx_runtimes_read_as_pytorch_does(torch_reader, runtime, tolerance, windows_compared):
    reader = load_reader(runtime=runtime)[0]
    expected, found = torch_reader.read(QUESTION, WINDOWS), reader.read(QUESTION, WINDOWS)
    assert [(r.start, r.end) for r in found][:windows_compared] == [(r.start, r.end) for r in expected][:windows_compared]
    assert np.allclose([r.answerable_logit for r in found], [r.answerable_logit for r in expected], atol=tolerance)
    assert WINDOWS[0][found[0].start : found[0].end] == "William Shepherd"
