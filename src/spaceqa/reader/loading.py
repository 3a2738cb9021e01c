"""Loading a reader: its weights, and the model card that says how it must be used.

A reader folder holds ``reader.safetensors`` and ``card.json``.  The card records the
input settings the network learned on, the base model it was trained from (by sha256),
how the pipeline asks it (windows read, calibration) and where it came from (data,
hyper-parameters, figures).  Loading checks all of it, as loading an index checks its
manifest: a reader is never used with settings it was not trained or calibrated for.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from ..embed import bundled_model_path
from ..errors import SpaceQAError
from .reading import ExtractiveReader, InputSettings

SHIPPED_READER = Path(__file__).resolve().parent.parent / "models" / "reader"
CARD_FORMAT = 1
WEIGHTS_FILE = "reader.safetensors"


class ReaderMismatchError(SpaceQAError):
    """A reader folder that this SpaceQA cannot use as it is."""


@dataclass(frozen=True)
class ReaderCard:
    """The parts of ``card.json`` that change what the reader does."""

    inputs: InputSettings
    asking: dict  # how the pipeline uses the reader: windows read, calibration; empty until calibrated
    runtime: str  # what runs the network when asking: "torch", "onnx" or "onnx-int8" (see runtime.py)
    raw: dict  # the whole card, provenance and figures included

    @classmethod
    def read(cls, folder: Path) -> "ReaderCard":
        path = Path(folder) / "card.json"
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ReaderMismatchError(f"{folder} holds no reader (no card.json); train one with `spaceqa train-reader`") from None
        if data.get("format") != CARD_FORMAT:
            raise ReaderMismatchError(f"{path} has format {data.get('format')}, this SpaceQA reads format {CARD_FORMAT}")
        try:
            inputs = InputSettings(**data["inputs"])
        except (KeyError, TypeError) as error:
            raise ReaderMismatchError(f"{path}: input settings unreadable ({error})") from None
        return cls(inputs=inputs, asking=data.get("asking", {}), runtime=data.get("runtime", "torch"), raw=data)


def load_reader(folder: Path | None = None, *, runtime: str | None = None) -> tuple[ExtractiveReader, ReaderCard]:
    """The reader in ``folder`` (the shipped one by default), ready to read, and its card.

    ``runtime`` ("torch", "onnx" or "onnx-int8", see runtime.py) overrides the one the card names.
    """
    from ..ingest import file_sha256
    from ..tokens import Tokenizer
    from .runtime import RUNTIMES, TorchRuntime, onnx_runtime

    folder = Path(folder) if folder else SHIPPED_READER
    card = ReaderCard.read(folder)
    if card.raw.get("base_sha256") != base_fingerprint():
        raise ReaderMismatchError(f"the reader in {folder} was trained from another base model than the bundled all-MiniLM-L6-v2")
    runtime = runtime or card.runtime
    if runtime not in RUNTIMES:
        raise ReaderMismatchError(f"unknown reader runtime {runtime!r}; choose one of {', '.join(RUNTIMES)}")
    if runtime == "torch":
        from .model import load_weights  # PyTorch itself: only this runtime, and exports, load it

        network = TorchRuntime(load_weights(folder))
    else:
        network = onnx_runtime(folder, file_sha256(folder / WEIGHTS_FILE), quantise=runtime == "onnx-int8")
    return ExtractiveReader(network, Tokenizer.of_model(bundled_model_path()), card.inputs), card


def base_fingerprint(base: Path | None = None) -> str:
    """sha256 of the base model's weights: a reader only fits the base it was trained on."""
    # hashlib here rather than ingest.file_sha256: training may run where the document readers are not installed
    digest = hashlib.sha256()
    with open((base or bundled_model_path()) / "model.safetensors", "rb") as weights:
        for block in iter(lambda: weights.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
