"""The shipped calibration and the logistic fit that produces it."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

from spaceqa.answer import FEATURES, Calibration

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "fit_calibration.py"


def load_script():
    spec = importlib.util.spec_from_file_location("fit_calibration", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_shipped_calibration_matches_the_reader_features():
    calibration = Calibration.load()
    assert len(calibration.weights) == len(FEATURES)
    # More evidence never lowers the score: every feature has a positive weight.
    assert all(weight > 0 for weight in calibration.weights)


def test_scores_are_probabilities_and_grow_with_evidence():
    calibration = Calibration.load()
    weak = {name: 0.1 for name in FEATURES} | {"cosine_gap": -0.3, "coverage_gap": -0.5}
    strong = {name: 0.9 for name in FEATURES} | {"cosine_gap": 0.0, "coverage_gap": 0.0}
    weak_p, strong_p = calibration.probability(np.array([[weak[n] for n in FEATURES], [strong[n] for n in FEATURES]]))
    assert 0.0 < weak_p < 0.5 < strong_p < 1.0


def test_logistic_fit_recovers_known_weights():
    fit_logistic = load_script().fit_logistic
    rng = np.random.default_rng(0)
    x = rng.normal(size=(4000, 2))
    true_weights, true_bias = np.array([2.0, -1.0]), 0.5
    y = (rng.random(4000) < 1 / (1 + np.exp(-(x @ true_weights + true_bias)))).astype(float)
    weights, bias = fit_logistic(x, y, penalty=0.0)
    assert np.allclose(weights, true_weights, atol=0.2) and abs(bias - true_bias) < 0.2


def test_top_of_each_question_picks_the_best_candidate():
    top = load_script().top_of_each_question
    scores, labels = top(np.array([0.1, 0.9, 0.5, 0.7]), np.array([0.0, 1.0, 1.0, 0.0]), [0, 0, 1, 1])
    assert scores.tolist() == [0.9, 0.7] and labels.tolist() == [1.0, 0.0]
