"""Guard: the seed-dev figures must not fall below the project's targets.

Reads ../shared/eval/seed-dev.jsonl (beside the project in CI); skips cleanly without it.
"""

from __future__ import annotations

import pytest

from conftest import SHARED
from spaceqa.evaluate import evaluate, load_items

pytestmark = pytest.mark.integration

SEED_DEV = SHARED / "eval" / "seed-dev.jsonl"

# The goals of the reader issue.
TARGETS = [("sentence_hit@1", 95.0), ("em", 90.0), ("doc_recall@3", 97.0), ("right_abstain", 100.0)]
FALSE_ABSTAIN_LIMIT = 5.0
# Below these, the shipped reader has got worse than it was measured (on an AVX2 CPU: EM 94.7,
# hit@1 97.4, false-abstain 2.6; one question is 2.6 points): a change that falls under one
# fails CI.
FLOORS = {"em": 92.0}


@pytest.fixture(scope="module")
def seed_report(real_app):
    if not SEED_DEV.exists():
        pytest.skip(f"{SEED_DEV} is not here (it lives in ../shared beside the project)")
    return evaluate(real_app.extensions["spaceqa"], load_items(SEED_DEV), k=3)


@pytest.mark.parametrize("metric, target", TARGETS)
def test_seed_dev_meets_target(seed_report, metric, target):
    assert seed_report.metrics[metric] >= target, seed_report.metrics


def test_seed_dev_false_abstain_within_limit(seed_report):
    assert seed_report.metrics["false_abstain"] <= FALSE_ABSTAIN_LIMIT, seed_report.metrics


@pytest.mark.parametrize("metric, floor", FLOORS.items())
def test_seed_dev_stays_above_the_measured_floor(seed_report, metric, floor):
    assert seed_report.metrics[metric] >= floor, seed_report.metrics
