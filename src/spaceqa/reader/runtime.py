"""Runtimes: what runs the reader's network — PyTorch, or ONNX Runtime on an int8 copy of it.

The shipped weights (float16 safetensors) are the one source of truth.  The ONNX runtime
exports them once to ONNX, quantises the matrix products to int8 (dynamic quantisation:
weights stored as int8, activations quantised on the fly) and keeps the result beside
the weights, or in the user's cache when that folder is read-only.  A sidecar records
the weights' sha256, so a changed reader is exported again rather than served stale.
``bench/reader_bench.py`` measures both runtimes' speed and F1 on the same inputs.
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
RUNTIMES = ("torch", "onnx-int8")
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

    name = "onnx-int8"

    def __init__(self, path: Path, threads: int | None = None) -> None:
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads or os.cpu_count() or 1
        options.inter_op_num_threads = 1
        self.session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    def __call__(self, encoded: Encoded) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        feeds = {name: np.ascontiguousarray(getattr(encoded, name), dtype=np.int64) for name in INPUTS}
        return tuple(self.session.run(list(OUTPUTS), feeds))


def export_int8(net, target: Path) -> None:
    """Export ``net`` to ONNX and quantise it to int8 at ``target`` (written atomically)."""
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic

    net = net.eval()
    example = tuple(torch.ones((2, 16), dtype=torch.long) for _ in INPUTS)
    axes = {name: {0: "rows", 1: "tokens"} for name in (*INPUTS, "start", "end")} | {"answerable": {0: "rows"}}
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as scratch:
        float_model = Path(scratch) / "reader.onnx"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the exporter's notes on tracing; the result is checked below
            torch.onnx.export(net, example, str(float_model), input_names=list(INPUTS), output_names=list(OUTPUTS), dynamic_axes=axes, opset_version=OPSET, dynamo=False)
            quantized = Path(scratch) / target.name
            quantize_dynamic(str(float_model), str(quantized), weight_type=QuantType.QInt8)
        os.replace(quantized, target)


def int8_runtime(folder: Path, weights_sha256: str, net_loader) -> OnnxRuntime:
    """The int8 ONNX runtime of the reader in ``folder``, exported on first use and kept."""
    places = [(folder / "reader-int8.onnx", folder / "reader-int8.json")]
    places.append((_cache_dir() / f"reader-{weights_sha256[:16]}-int8.onnx", _cache_dir() / f"reader-{weights_sha256[:16]}-int8.json"))
    for model, sidecar in places:
        if model.exists() and sidecar.exists() and json.loads(sidecar.read_text()).get("weights_sha256") == weights_sha256:
            return OnnxRuntime(model)
    for model, sidecar in places:
        try:
            log.info("exporting the reader to int8 ONNX once (a few seconds): %s", model)
            export_int8(net_loader(), model)
            sidecar.write_text(json.dumps({"weights_sha256": weights_sha256, "opset": OPSET, "quantisation": "dynamic, int8 weights (onnxruntime)"}) + "\n")
            return OnnxRuntime(model)
        except OSError as error:
            log.info("cannot write %s: %s", model, error)
    raise OSError(f"could not write the int8 reader beside {folder} nor in {_cache_dir()}")


def _cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "spaceqa"
