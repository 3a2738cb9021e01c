"""scripts/calibrate_reader.py's fitting: what decides the reader's scores and when it abstains.

The readings here are synthetic (feature rows with the F1 their span would score), so each
property is checked on data whose right answer is known: the ranking puts the right span
first, the prior keeps the promised share of answerable questions answered, and a fixed
number of windows fits only what those windows read.
"""

from __future__ import annotations

import numpy as np
import pytest

from conftest import script_module
from spaceqa.answer import FEATURES


@pytest.fixture(scope="module")
def calibration():
    with script_module("calibrate_reader") as module:
        yield module


def reading(f1: float, *, evidence: float, span: str) -> dict:
    """One window's row as the script caches it: every feature 0 but the reader's answerability."""
    return {"features": {**dict.fromkeys(FEATURES, 0.0), "start_mass": 0.0, "end_mass": 0.0, "answerable": evidence}, "span": span, "f1": f1, "em": float(f1 == 1.0)}


def synthetic_readings(calibration, questions: int, seed: int):
    """Answerable questions whose right span is in one of four windows, with stronger evidence than the
    wrong ones (noisy); unanswerable ones whose windows all carry weak evidence."""
    rng = np.random.default_rng(seed)
    read, asked = [], []
    for number in range(questions):
        if number % 2 == 0:
            right = int(rng.integers(4))
            rows = [reading(1.0 if w == right else 0.0, evidence=(2.0 if w == right else -1.0) + rng.normal(0, 0.8), span=f"span {number} {w}") for w in range(4)]
            asked.append(calibration.Question(f"q{number}", [f"span {number} {right}"]))
        else:
            rows = [reading(0.0, evidence=-1.0 + rng.normal(0, 0.8), span=f"span {number} {w}") for w in range(4)]
            asked.append(calibration.Question(f"q{number}", []))
        read.append(rows)
    return read, asked


def test_logistic_regression_recovers_a_known_slope(calibration):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(4000, 2))
    y = (rng.random(4000) < 1 / (1 + np.exp(-(2.0 * x[:, 0] - 1.0 * x[:, 1] + 0.5)))).astype(float)
    weights, bias = calibration.fit_logistic(x, y, penalty=0.0)
    assert weights == pytest.approx([2.0, -1.0], abs=0.2) and bias == pytest.approx(0.5, abs=0.15)


def test_the_prior_shift_leaves_at_most_the_target_share_of_answerable_questions_declined(calibration):
    logits = np.array([-3.0, -2.0, -1.0, -0.5, 0.5, 1.0, 2.0, 3.0, -4.0, -5.0])
    answerable = np.array([1, 1, 1, 1, 1, 1, 1, 1, 0, 0], dtype=float)
    shift = calibration.prior_shift(logits, answerable, target=0.25)
    declined = np.mean(logits[answerable > 0] + shift < 0)
    assert declined <= 0.25 and shift > 0
    assert calibration.prior_shift(logits + 10, answerable, target=0.25) == 0.0  # already answered: no shift


def test_the_fitted_calibration_ranks_the_right_span_first_and_abstains_on_weak_evidence(calibration):
    read, asked = synthetic_readings(calibration, 400, seed=1)
    weights, bias, figures = calibration.fit(read, asked, windows=4)
    assert weights[FEATURES.index("answerable")] > 0
    assert figures["answerable_em"] > 90 and figures["false_abstain"] <= 100 * calibration.FALSE_ABSTAIN_TARGET
    assert figures["right_abstain"] > 80

    held_out, held_out_asked = synthetic_readings(calibration, 400, seed=2)
    checked = calibration.outcomes(held_out, held_out_asked, 4, weights, bias)
    assert checked["answerable_em"] > 85 and checked["right_abstain"] > 75


def test_a_fixed_number_of_windows_fits_only_what_those_windows_read(calibration):
    read, asked = synthetic_readings(calibration, 200, seed=3)
    for rows, question in zip(read, asked):  # the right span always in the third window
        if question.answers:
            right = next(w for w, row in enumerate(rows) if row["f1"] == 1.0)
            rows[2], rows[right] = rows[right], rows[2]
    assert calibration.design(read[0], 2).shape == (2, len(FEATURES))
    assert calibration.fit(read, asked, windows=2)[2]["answerable_em"] == 0.0
    assert calibration.fit(read, asked, windows=4)[2]["answerable_em"] > 90


def test_the_trade_offs_measure_separation_and_decline_the_share_they_name(calibration):
    read, asked = synthetic_readings(calibration, 400, seed=4)
    weights, bias, _ = calibration.fit(read, asked, windows=4)
    area, rows = calibration.trade_offs(read, asked, 4, weights, bias)
    assert 0.9 < area <= 1.0  # the synthetic evidence separates the two kinds well
    for row in rows:
        assert row["false_abstain"] == pytest.approx(100 * row["declined_share"], abs=1.0)
    assert [row["right_abstain"] for row in rows] == sorted(row["right_abstain"] for row in rows)  # declining more never declines fewer

    # Evidence that says nothing: the area is a coin's, whatever the threshold.
    for rows_of_question in read:
        for row in rows_of_question:
            row["features"]["answerable"] = 0.0
    assert calibration.trade_offs(read, asked, 4, weights, bias)[0] == pytest.approx(0.5)
