"""Runtimes: what runs the reader's network — PyTorch, or ONNX Runtime on an exported copy.

The shipped weights (float16 safetensors) are the one source of truth.  The ONNX runtimes
export them once to ONNX ("onnx": float32; "onnx-int8": the matrix products quantised to
int8, dynamically: weights stored as int8, activations quantised on the fly) and keep the
result beside the weights, or in the user's cache when that folder is read-only.  A sidecar
records the weights' sha256, so a changed reader is exported again rather than served stale.
``bench/reader_bench.py`` measures the runtimes' speed and F1 on the same inputs.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import warnings
from pathlib import Path

import numpy as np

from .reading import Encoded

log = logging.getLogger("spaceqa")
RUNTIMES = ("torch", "onnx", "onnx-int8")
INPUTS = ("input_ids", "attention_mask", "token_type_ids", "context_mask")
OUTPUTS = ("start", "end", "answerable")
OPSET = 17


class TorchRuntime:
    """The network in float32 PyTorch."""

    name = "torch"

    def __init__(self, net) -> None:
        self.net = net.eval()

    def __call__(self, encoded: Encoded) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        import torch

        with torch.inference_mode():
            outputs = self.net(*(torch.from_numpy(np.ascontiguousarray(getattr(encoded, name), dtype=np.int64)) for name in INPUTS))
        return tuple(output.numpy() for output in outputs)


class OnnxRuntime:
    """An exported copy of the network, run by ONNX Runtime on the CPU."""

    def __init__(self, path: Path, threads: int | None = None) -> None:
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads or os.cpu_count() or 1
        options.inter_op_num_threads = 1
        self.session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    def __call__(self, encoded: Encoded) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        feeds = {name: np.ascontiguousarray(getattr(encoded, name), dtype=np.int64) for name in INPUTS}
        return tuple(self.session.run(list(OUTPUTS), feeds))


def export(net, target: Path, *, quantise: bool) -> None:
    """Export ``net`` to ONNX at ``target`` (written atomically), its matrix products in int8 with ``quantise``."""
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic

    net = net.eval()
    example = tuple(torch.ones((2, 16), dtype=torch.long) for _ in INPUTS)
    axes = {name: {0: "rows", 1: "tokens"} for name in (*INPUTS, "start", "end")} | {"answerable": {0: "rows"}}
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as scratch:
        exported = Path(scratch) / "reader.onnx"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the exporter's notes on tracing; the runtimes are compared in bench/
            torch.onnx.export(net, example, str(exported), input_names=list(INPUTS), output_names=list(OUTPUTS), dynamic_axes=axes, opset_version=OPSET, dynamo=False)
        if quantise:
            quantised = Path(scratch) / "reader-int8.onnx"
            root = logging.getLogger()  # the quantiser advises pre-processing through the root logger, every time
            level = root.level
            root.setLevel(logging.ERROR)
            try:
                quantize_dynamic(str(exported), str(quantised), weight_type=QuantType.QInt8)
            finally:
                root.setLevel(level)
            exported = quantised
        os.replace(exported, target)


def onnx_runtime(folder: Path, weights_sha256: str, net_loader, *, quantise: bool) -> OnnxRuntime:
    """The ONNX runtime of the reader in ``folder``, exported on first use and kept."""
    stem = "reader-int8" if quantise else "reader-fp32"
    places = [(folder / f"{stem}.onnx", folder / f"{stem}.json")]
    cache = _cache_dir()
    places.append((cache / f"{stem}-{weights_sha256[:16]}.onnx", cache / f"{stem}-{weights_sha256[:16]}.json"))
    for model, sidecar in places:
        if model.exists() and sidecar.exists() and json.loads(sidecar.read_text()).get("weights_sha256") == weights_sha256:
            return OnnxRuntime(model)
    for model, sidecar in places:
        try:
            log.info("exporting the reader to ONNX once (a few seconds): %s", model)
            export(net_loader(), model, quantise=quantise)
            quantisation = "dynamic, int8 weights (onnxruntime)" if quantise else "none (float32)"
            sidecar.write_text(json.dumps({"weights_sha256": weights_sha256, "opset": OPSET, "quantisation": quantisation}) + "\n")
            return OnnxRuntime(model)
        except OSError as error:
            log.info("cannot write %s: %s", model, error)
    raise OSError(f"could not write the exported reader beside {folder} nor in {cache}")


def _cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "spaceqa"
